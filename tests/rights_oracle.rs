//! The engine against an oracle: a naive implementation written straight from the rules of DESIGN.md and
//! issue #8, reading the directory and grant records directly, with no compiled structure, on 10,000
//! random (user, action, resource) triples over a generated school with random grants, withdrawals,
//! shares and disabled accounts.

use std::collections::HashMap;

use ent::core::directory::*;
use ent::core::rights::guard::{self, PupilFacts};
use ent::core::rights::share::{self, Share, ShareLevel, ShareWith};
use ent::core::rights::{Grant, Grantee, Role, Withdrawal};
use ent::core::storage::{Store, TxMode};
use ent::core::{StructureId, SubjectId, UserId};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use super::rights::{JUSTIFY, PUBLISH, READ, RIGHTS, SEND, WRITE, World, all};

/// The rules, naively.
struct Oracle<'w> {
    w: &'w World,
    defaults: HashMap<&'static str, Vec<Profile>>,
    users: HashMap<UserId, &'w User>,
    grants: Vec<Grant>,
    roles: Vec<Role>,
    withdrawals: Vec<Withdrawal>,
    shares: Vec<Share>,
}

impl Oracle<'_> {
    fn active(&self, u: UserId) -> bool {
        !matches!(self.users[&u].state, AccountState::Disabled { .. })
    }
    fn central(&self, u: UserId) -> bool {
        self.users[&u].affiliations.iter().any(|a| a.profile == Profile::AdminCentral)
    }
    fn profiles_in(&self, u: UserId, s: StructureId) -> Vec<Profile> {
        let mut out: Vec<Profile> =
            self.users[&u].affiliations.iter().filter(|a| a.structure == s).map(|a| a.profile).collect();
        if self.central(u) {
            out.push(Profile::AdminCentral);
        }
        out
    }
    fn member(&self, u: UserId, unit: Unit) -> bool {
        self.w.memberships.iter().any(|m| m.user == u && m.unit == unit && m.year == self.w.year)
    }
    fn workflow(&self, u: UserId, s: StructureId, right: &str) -> bool {
        if !self.active(u) {
            return false;
        }
        // Only in a structure where one has a profile, or everywhere for a central administrator.
        if !self.central(u) && !self.users[&u].affiliations.iter().any(|a| a.structure == s) {
            return false;
        }
        let profiles = self.profiles_in(u, s);
        let by_default = self.defaults[right].iter().any(|p| {
            profiles.contains(p)
                && !self.withdrawals.iter().any(|w| w.structure == s && w.right == right && w.profile == *p)
        });
        let by_grant = self.grants.iter().filter(|g| g.structure == s).any(|g| {
            let role = self.roles.iter().find(|r| r.id == g.role).unwrap();
            role.rights.iter().any(|r| r == right)
                && match &g.grantee {
                    Grantee::Profile(p) => profiles.contains(p),
                    Grantee::Function(f) => {
                        self.users[&u].affiliations.iter().any(|a| a.structure == s && a.functions.contains(f))
                    }
                    Grantee::Group(g) => self.member(u, Unit::Group(*g)),
                    Grantee::Class(c) => self.member(u, Unit::Class(*c)),
                    Grantee::User(x) => *x == u,
                }
        });
        by_default || by_grant
    }
    fn pupil_units(&self, p: UserId) -> Vec<Unit> {
        self.w.memberships.iter().filter(|m| m.user == p && m.year == self.w.year).map(|m| m.unit).collect()
    }
    fn responsable(&self, u: UserId, p: UserId) -> bool {
        self.w.links.iter().any(|l| l.parent == u && l.child == p && l.legal && l.authority)
    }
    fn relation(&self, u: UserId, p: UserId, subject: Option<SubjectId>) -> bool {
        if !self.active(u) {
            return false;
        }
        let units = self.pupil_units(p);
        let taught =
            self.w.teachings.iter().filter(|t| t.teacher == u && t.year == self.w.year && units.contains(&t.unit));
        let teacher = taught.clone().any(|t| t.principal || subject.is_none_or(|s| s == t.subject));
        let pupil_structures: Vec<StructureId> =
            self.users[&p].affiliations.iter().filter(|a| a.profile == Profile::Eleve).map(|a| a.structure).collect();
        let staff = pupil_structures.iter().any(|s| {
            self.users[&u].affiliations.iter().any(|a| {
                a.structure == *s
                    && matches!(a.profile, Profile::Direction | Profile::VieScolaire | Profile::AdminLocal)
            })
        });
        u == p || self.responsable(u, p) || teacher || staff || self.central(u)
    }
    fn acts_for(&self, u: UserId, p: UserId) -> bool {
        self.active(u) && (self.responsable(u, p) || (u == p && self.users[&u].adult))
    }
    fn teaches(&self, u: UserId, unit: Unit, subject: SubjectId) -> bool {
        self.active(u)
            && self
                .w
                .teachings
                .iter()
                .any(|t| t.teacher == u && t.unit == unit && t.subject == subject && t.year == self.w.year)
    }
    fn share_level(&self, u: UserId, resource: &str, owner: UserId) -> Option<ShareLevel> {
        if !self.active(u) {
            return None;
        }
        if u == owner {
            return Some(ShareLevel::Manage);
        }
        self.shares
            .iter()
            .filter(|s| s.resource == resource)
            .filter(|s| match s.with {
                ShareWith::User(x) => x == u,
                ShareWith::Group(g) => self.member(u, Unit::Group(g)),
                ShareWith::Class(c) => self.member(u, Unit::Class(c)),
            })
            .map(|s| s.level)
            .max()
    }
}

/// Random grants, withdrawals, shares and disabled accounts, through the administrators' API.
async fn shake(w: &mut World, seed: u64) -> Vec<(String, UserId)> {
    use rand::SeedableRng;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let admin = |w: &World, s: StructureId| {
        if s == w.college { w.caller(w.admin_local, s) } else { w.caller(w.admin_central, w.lycee) }
    };
    let rights = w.ent.rights().unwrap();
    for s in [w.college, w.lycee] {
        let a = admin(w, s);
        for (right, profile) in [(SEND, Profile::Eleve), (READ, Profile::Responsable), (JUSTIFY, Profile::Eleve)] {
            if rng.random_bool(0.5) {
                rights.withdraw_default(&a, s, right, profile).await.unwrap();
            }
        }
        for i in 0..4 {
            let picked: Vec<String> = RIGHTS.iter().filter(|_| rng.random_bool(0.4)).map(|r| r.to_string()).collect();
            let picked = if picked.is_empty() { vec![PUBLISH.to_string()] } else { picked };
            let role = rights.create_role(&a, Some(s), &format!("role{i}"), "", picked).await.unwrap();
            let in_s: Vec<&User> = w.users.iter().filter(|u| u.structures().contains(&s)).collect();
            let groups: Vec<&Group> = w.groups.iter().filter(|g| g.structure == s).collect();
            let classes: Vec<&Class> = w.classes.iter().filter(|c| c.structure == s).collect();
            let grantee = match rng.random_range(0..5) {
                0 => Grantee::Profile(Profile::ALL[rng.random_range(0..10)]),
                1 => Grantee::Function(
                    [Function::ProfesseurPrincipal, Function::Cpe, Function::Adjoint][rng.random_range(0..3)].clone(),
                ),
                2 if !groups.is_empty() => Grantee::Group(groups[rng.random_range(0..groups.len())].id),
                3 => Grantee::Class(classes[rng.random_range(0..classes.len())].id),
                _ => Grantee::User(in_s[rng.random_range(0..in_s.len())].id),
            };
            rights.grant(&a, s, role, grantee).await.unwrap();
        }
    }
    // Resources owned by random users, shared at random levels with users, groups and classes.
    let mut resources = Vec::new();
    let mut tx = w.store.begin(TxMode::ReadWrite).await.unwrap();
    for i in 0..20 {
        let owner = w.users[rng.random_range(0..w.users.len())].id;
        let resource = format!("school.doc:{i}");
        let owner_rights = w.engine.rights(w.ent.registry(), owner, w.home(owner)).await.unwrap();
        for _ in 0..rng.random_range(1..5) {
            let with = match rng.random_range(0..3) {
                0 => ShareWith::User(w.users[rng.random_range(0..w.users.len())].id),
                1 if !w.groups.is_empty() => ShareWith::Group(w.groups[rng.random_range(0..w.groups.len())].id),
                _ => ShareWith::Class(w.classes[rng.random_range(0..w.classes.len())].id),
            };
            let level = [ShareLevel::Read, ShareLevel::Contribute, ShareLevel::Manage][rng.random_range(0..3)];
            share::share(&mut *tx, &owner_rights, &resource, Some(owner), with, level).await.unwrap();
        }
        resources.push((resource, owner));
    }
    tx.commit().await.unwrap();
    // Disabled accounts.
    for _ in 0..w.users.len() / 30 {
        let u = w.users[rng.random_range(0..w.users.len())].id;
        if !matches!(w.user(u).state, AccountState::Disabled { .. }) {
            w.disable(u).await;
        }
    }
    resources
}

#[test]
fn the_engine_agrees_with_the_oracle_on_10000_random_triples() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let (mut w, resources) = runtime.block_on(async {
        let mut w = World::load().await;
        let resources = shake(&mut w, 8).await;
        (w, resources)
    });
    runtime.block_on(w.reload());
    let w = w;
    let oracle = Oracle {
        w: &w,
        defaults: RIGHTS.iter().map(|r| (*r, w.ent.registry().right(r).unwrap().default_grants.clone())).collect(),
        users: w.users.iter().map(|u| (u.id, u)).collect(),
        grants: runtime.block_on(all::<Grant>(&w.store)),
        roles: runtime.block_on(all::<Role>(&w.store)),
        withdrawals: runtime.block_on(all::<Withdrawal>(&w.store)),
        shares: runtime.block_on(all::<Share>(&w.store)),
    };
    assert!(!oracle.grants.is_empty() && !oracle.shares.is_empty());
    let pupils: Vec<UserId> =
        w.users.iter().filter(|u| u.affiliations.iter().any(|a| a.profile == Profile::Eleve)).map(|u| u.id).collect();
    let subjects: Vec<SubjectId> = {
        let mut s: Vec<SubjectId> = w.teachings.iter().map(|t| t.subject).collect();
        s.sort();
        s.dedup();
        s
    };
    let structures = [w.college, w.lycee];
    let n_users = w.users.len();
    let facts_cache: std::cell::RefCell<HashMap<UserId, PupilFacts>> = Default::default();
    let decided = std::cell::Cell::new([0u32; 2]);

    let strategy = (0..n_users, 0..7usize, 0..pupils.len(), 0..subjects.len(), 0..10u8, 0..resources.len(), 0..3usize);
    let mut runner = TestRunner::new(Config { cases: 10_000, failure_persistence: None, ..Config::default() });
    let result = runner.run(&strategy, |(u, action, p, s, elsewhere, res, level)| {
        let user = w.users[u].id;
        // Mostly a structure of theirs; sometimes the other one (acting outside their structure).
        let own = w.users[u].structures();
        let acting = if elsewhere == 0 || own.is_empty() { structures[u % 2] } else { own[p % own.len()] };
        let pupil = pupils[p];
        let subject = subjects[s];
        let facts = facts_cache.borrow_mut().entry(pupil).or_insert_with(|| runtime.block_on(w.facts(pupil))).clone();
        let unit = facts.units.first().copied();
        let (resource, owner) = &resources[res];
        let needed = [ShareLevel::Read, ShareLevel::Contribute, ShareLevel::Manage][level];
        let (engine, expected) = runtime.block_on(async {
            let rights = w.engine.rights(w.ent.registry(), user, acting).await.unwrap();
            let holds = |r: &str| rights.holds(acting, r);
            Ok::<_, TestCaseError>(match action {
                0 => (
                    holds(READ) && guard::can_read_pupil(&rights, &facts),
                    oracle.workflow(user, acting, READ) && oracle.relation(user, pupil, None),
                ),
                1 => (
                    holds(READ) && guard::can_read_pupil_subject(&rights, &facts, subject),
                    oracle.workflow(user, acting, READ) && oracle.relation(user, pupil, Some(subject)),
                ),
                2 => (
                    holds(WRITE) && unit.is_some_and(|un| guard::can_teach(&rights, un, subject)),
                    oracle.workflow(user, acting, WRITE) && unit.is_some_and(|un| oracle.teaches(user, un, subject)),
                ),
                3 => (
                    holds(JUSTIFY) && guard::can_act_for_pupil(&rights, &facts),
                    oracle.workflow(user, acting, JUSTIFY) && oracle.acts_for(user, pupil),
                ),
                4 => (holds(SEND), oracle.workflow(user, acting, SEND)),
                5 => (holds(PUBLISH), oracle.workflow(user, acting, PUBLISH)),
                _ => {
                    let mut tx = w.store.begin(TxMode::ReadOnly).await.unwrap();
                    let engine = share::check(&mut *tx, &rights, resource, Some(*owner), needed).await.is_ok();
                    (engine, oracle.share_level(user, resource, *owner).is_some_and(|l| l >= needed))
                }
            })
        })?;
        let mut d = decided.get();
        d[usize::from(engine)] += 1;
        decided.set(d);
        prop_assert_eq!(
            engine,
            expected,
            "user {} ({:?}) acting in {} action {} pupil {} subject {}",
            user,
            w.users[u].affiliations,
            acting,
            action,
            pupil,
            subject
        );
        Ok(())
    });
    result.unwrap();
    // Both answers occur often: the test is not vacuous.
    let decided = decided.get();
    assert!(decided[0] > 1000 && decided[1] > 1000, "{decided:?}");
}
