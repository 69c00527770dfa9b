//! The directory queries every module needs, as functions on a transaction, so that a module runs them
//! inside its own transaction. Each is an index or prefix scan: none reads a whole collection.
//!
//! Rights are not checked here: these are the facts the rights layer and the modules build on.

use super::names;
use super::profile::Profile;
use super::records::{Membership, ParentLink, Teaching, Unit, User};
use super::year::SchoolYear;
use crate::id::{StructureId, SubjectId, UserId};
use crate::storage::{Cursor, Record, Scan, Transaction, Tuple, TxExt};
use crate::{Error, Result};

/// A page of results and where the next one starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Paged<T> {
    /// The items.
    pub items: Vec<T>,
    /// The cursor of the next page, when there is one.
    pub next: Option<Cursor>,
}

/// Reads users by id, in the order given; a missing id is an error (the directory is inconsistent).
pub async fn users(tx: &mut dyn Transaction, ids: &[UserId]) -> Result<Vec<User>> {
    let keys: Vec<Tuple> = ids.iter().map(|id| (*id).into()).collect();
    let raws = tx.get_many(User::COLLECTION, &keys).await?;
    raws.into_iter()
        .zip(ids)
        .map(|(raw, id)| match raw {
            Some(raw) => crate::storage::typed::from_raw::<User>(&raw).map(|v| v.value),
            None => Err(Error::not_found(User::COLLECTION, id)),
        })
        .collect()
}

fn uuid_at(t: &Tuple, i: usize) -> Result<uuid::Uuid> {
    match t.elements().get(i) {
        Some(crate::storage::Element::Uuid(u)) => Ok(*u),
        _ => Err(Error::invalid("key", format!("expected a uuid at position {i} of {t}"))),
    }
}

/// The members of a class or group for a year, in name order (family name, then given name), a page at a
/// time.
pub async fn members(
    tx: &mut dyn Transaction,
    unit: Unit,
    year: SchoolYear,
    limit: usize,
    after: Option<Cursor>,
) -> Result<Paged<User>> {
    let scan = Scan::index(Membership::COLLECTION, "by_name")
        .prefix((unit.uuid(), i64::from(year.0)))
        .limit(limit)
        .after(after)
        .keys_only();
    let page = tx.scan(&scan).await?;
    let ids: Vec<UserId> = page.entries.iter().map(|e| uuid_at(&e.id, 2).map(UserId)).collect::<Result<_>>()?;
    Ok(Paged { items: users(tx, &ids).await?, next: page.next })
}

/// How many members a class or group has for a year.
pub async fn member_count(tx: &mut dyn Transaction, unit: Unit, year: SchoolYear) -> Result<u64> {
    tx.count(&Scan::primary(Membership::COLLECTION).prefix((unit.uuid(), i64::from(year.0)))).await
}

/// The classes and groups of a user for a year.
pub async fn units_of(tx: &mut dyn Transaction, user: UserId, year: SchoolYear) -> Result<Vec<Membership>> {
    let scan = Scan::index(Membership::COLLECTION, "by_user").prefix((user.0, i64::from(year.0))).limit(1000);
    Ok(tx.scan_records::<Membership>(&scan).await?.0.into_iter().map(|v| v.value).collect())
}

/// Which responsables of a pupil to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Responsables {
    /// Only the responsables légaux with parental authority (who see results and justify absences).
    WithAuthority,
    /// Every contact.
    All,
}

/// The responsables of a pupil, by contact priority.
pub async fn parents_of(
    tx: &mut dyn Transaction,
    child: UserId,
    which: Responsables,
) -> Result<Vec<(ParentLink, User)>> {
    let scan = Scan::index(ParentLink::COLLECTION, "by_child").prefix((child.0,)).limit(100);
    linked(tx, &scan, which, |l| l.parent).await
}

/// The children of a responsable; with [`Responsables::WithAuthority`], only those they act for.
pub async fn children_of(
    tx: &mut dyn Transaction,
    parent: UserId,
    which: Responsables,
) -> Result<Vec<(ParentLink, User)>> {
    let scan = Scan::primary(ParentLink::COLLECTION).prefix((parent.0,)).limit(100);
    linked(tx, &scan, which, |l| l.child).await
}

/// The links a scan finds, filtered, with the person at the other end of each.
async fn linked(
    tx: &mut dyn Transaction,
    scan: &Scan,
    which: Responsables,
    other_end: fn(&ParentLink) -> UserId,
) -> Result<Vec<(ParentLink, User)>> {
    let links: Vec<ParentLink> = tx
        .scan_records::<ParentLink>(scan)
        .await?
        .0
        .into_iter()
        .map(|v| v.value)
        .filter(|l| which == Responsables::All || l.acts_for_child())
        .collect();
    let people = users(tx, &links.iter().map(other_end).collect::<Vec<_>>()).await?;
    Ok(links.into_iter().zip(people).collect())
}

/// The teaching assignments of a class or group for a year, by subject; only one subject's when given.
pub async fn teachers_of(
    tx: &mut dyn Transaction,
    unit: Unit,
    year: SchoolYear,
    subject: Option<SubjectId>,
) -> Result<Vec<Teaching>> {
    let prefix: Tuple = match subject {
        Some(s) => (unit.uuid(), i64::from(year.0), s.0).into(),
        None => (unit.uuid(), i64::from(year.0)).into(),
    };
    let scan = Scan::primary(Teaching::COLLECTION).prefix(prefix).limit(1000);
    Ok(tx.scan_records::<Teaching>(&scan).await?.0.into_iter().map(|v| v.value).collect())
}

/// The teaching assignments of a teacher for a year: their classes and groups, and subjects.
pub async fn teachings_of(tx: &mut dyn Transaction, teacher: UserId, year: SchoolYear) -> Result<Vec<Teaching>> {
    let scan = Scan::index(Teaching::COLLECTION, "by_teacher").prefix((teacher.0, i64::from(year.0))).limit(1000);
    Ok(tx.scan_records::<Teaching>(&scan).await?.0.into_iter().map(|v| v.value).collect())
}

/// The people of a structure holding a profile, in name order, a page at a time.
pub async fn people(
    tx: &mut dyn Transaction,
    structure: StructureId,
    profile: Profile,
    limit: usize,
    after: Option<Cursor>,
) -> Result<Paged<User>> {
    let scan = Scan::index(User::COLLECTION, "by_structure")
        .prefix((structure.0, profile.as_str()))
        .limit(limit)
        .after(after)
        .keys_only();
    let page = tx.scan(&scan).await?;
    let ids: Vec<UserId> = page.entries.iter().map(|e| uuid_at(&e.id, 0).map(UserId)).collect::<Result<_>>()?;
    Ok(Paged { items: users(tx, &ids).await?, next: page.next })
}

/// Where to search.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SearchScope {
    /// Within one structure (everywhere when `None`).
    pub structure: Option<StructureId>,
    /// Only people holding this profile (in that structure, when one is given).
    pub profile: Option<Profile>,
}

/// How many index entries a search across structures examines at most before it stops: a one-letter
/// query at académie scale must not read a million entries. A query that hits the cap returns what it
/// found; typing more letters narrows it.
pub const SEARCH_CANDIDATES: usize = 5_000;

/// How many entries of a structure's people a search within it examines at most: far above the largest
/// lycée with its pupils' parents (about 8,000 affiliations).
pub const SEARCH_STRUCTURE_ENTRIES: usize = 20_000;

fn str_at(t: &Tuple, i: usize) -> Result<&str> {
    match t.elements().get(i) {
        Some(crate::storage::Element::Str(s)) => Ok(s),
        _ => Err(Error::invalid("key", format!("expected a string at position {i} of {t}"))),
    }
}

/// Searches people by name, accent-, case- and punctuation-insensitive: every word of the query must start
/// one of the person's name tokens ("jean pi" finds "Jean-Pierre", "oconnor" finds "O'Connor"). Results in
/// name order, at most `limit`.
///
/// Candidates come from index keys alone, which hold the folded names: within a structure, the
/// structure's people (`by_structure`, by profile when one is asked); across structures, the people with a
/// name token starting with the query's longest word (`by_token_name`, at most [`SEARCH_CANDIDATES`]).
/// Only the records shown are read (and, for a profile across structures, those checked).
pub async fn search(tx: &mut dyn Transaction, query: &str, scope: SearchScope, limit: usize) -> Result<Vec<User>> {
    let tokens = names::query_tokens(query);
    let Some(first) = tokens.first() else {
        return Ok(Vec::new());
    };
    // (folded family name, folded given name, id) of everyone who matches.
    let mut candidates: Vec<(String, String, UserId)> = Vec::new();
    match scope.structure {
        Some(s) => {
            let prefix: Tuple = match scope.profile {
                Some(p) => (s.0, p.as_str()).into(),
                None => (s.0,).into(),
            };
            let mut cursor = None;
            let mut examined = 0;
            loop {
                let scan = Scan::index(User::COLLECTION, "by_structure")
                    .prefix(prefix.clone())
                    .limit(5_000)
                    .after(cursor)
                    .keys_only();
                let page = tx.scan(&scan).await?;
                examined += page.entries.len();
                for e in &page.entries {
                    let (family, given) = (str_at(&e.key, 2)?, str_at(&e.key, 3)?);
                    if names::matches_folded(given, family, &tokens) {
                        candidates.push((family.to_owned(), given.to_owned(), UserId(uuid_at(&e.id, 0)?)));
                    }
                }
                match page.next {
                    Some(n) if examined < SEARCH_STRUCTURE_ENTRIES => cursor = Some(n),
                    _ => break,
                }
            }
        }
        None => {
            let scan = Scan::index(User::COLLECTION, super::records::TOKEN_INDEX)
                .starting_with(first.as_str())
                .limit(SEARCH_CANDIDATES)
                .keys_only();
            for e in tx.scan(&scan).await?.entries {
                let (family, given) = (str_at(&e.key, 1)?, str_at(&e.key, 2)?);
                // The scan matched the first word already.
                if tokens.len() == 1 || names::matches_folded(given, family, &tokens) {
                    candidates.push((family.to_owned(), given.to_owned(), UserId(uuid_at(&e.id, 0)?)));
                }
            }
        }
    }
    // A person is found once per matching token, and once per profile in a structure.
    candidates.sort_unstable();
    candidates.dedup();
    let check_profile = match (scope.structure, scope.profile) {
        (None, Some(p)) => Some(p),
        _ => None,
    };
    let mut found = Vec::with_capacity(limit.min(candidates.len()));
    for page in candidates.chunks(limit.max(1)) {
        if found.len() >= limit {
            break;
        }
        let ids: Vec<UserId> = page.iter().map(|(_, _, id)| *id).collect();
        for u in users(tx, &ids).await? {
            if found.len() < limit && check_profile.is_none_or(|p| u.affiliations.iter().any(|a| a.profile == p)) {
                found.push(u);
            }
        }
    }
    Ok(found)
}

/// A group derived from profiles rather than stored: "the teachers of the collège", "the parents of 3A".
/// Its members are computed from the directory at the moment they are asked for, so it can never be out
/// of date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct ProfileGroup {
    /// The structure.
    pub structure: StructureId,
    /// The profile of its members.
    pub profile: Profile,
    /// Within one class: its pupils, the legal responsables of its pupils, its teachers.
    pub class: Option<crate::id::ClassId>,
}

/// The members of a profile group for a school year, without duplicates, in id order.
///
/// A structure-wide group lists everyone holding the profile there (walking the index page by page). A
/// class group of pupils is the class; of responsables, the legal
/// responsables of its pupils (other contacts are not parents of the class); of teachers, its teachers.
pub async fn profile_group_members(
    tx: &mut dyn Transaction,
    group: ProfileGroup,
    year: SchoolYear,
) -> Result<Vec<UserId>> {
    let mut out = Vec::new();
    match group.class {
        None => {
            let mut cursor = None;
            loop {
                let scan = Scan::index(User::COLLECTION, "by_structure")
                    .prefix((group.structure.0, group.profile.as_str()))
                    .limit(1000)
                    .after(cursor)
                    .keys_only();
                let page = tx.scan(&scan).await?;
                for e in &page.entries {
                    out.push(UserId(uuid_at(&e.id, 0)?));
                }
                match page.next {
                    Some(n) => cursor = Some(n),
                    None => break,
                }
            }
        }
        Some(class) => {
            let unit = Unit::Class(class);
            let pupils = || Scan::primary(Membership::COLLECTION).prefix((unit.uuid(), i64::from(year.0))).limit(1000);
            match group.profile {
                Profile::Eleve => {
                    for e in tx.scan(&pupils().keys_only()).await?.entries {
                        out.push(UserId(uuid_at(&e.id, 2)?));
                    }
                }
                Profile::Responsable => {
                    for e in tx.scan(&pupils().keys_only()).await?.entries {
                        let child = UserId(uuid_at(&e.id, 2)?);
                        let scan = Scan::index(ParentLink::COLLECTION, "by_child").prefix((child.0,)).limit(100);
                        let links = tx.scan_records::<ParentLink>(&scan).await?.0;
                        out.extend(links.into_iter().filter(|l| l.value.legal).map(|l| l.value.parent));
                    }
                }
                Profile::Enseignant => {
                    out.extend(teachers_of(tx, unit, year, None).await?.into_iter().map(|t| t.teacher));
                }
                other => {
                    return Err(Error::invalid(
                        "profile_group.profile",
                        format!("a class group gathers pupils, responsables or teachers, not {other}"),
                    ));
                }
            }
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}
