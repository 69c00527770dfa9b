//! Who may write to whom: the communication rules of DOMAIN.md §4 as pure functions, no I/O.
//!
//! A sender acts in one structure (the one of their session); the rules and the settings of that structure
//! apply, and every relation is taken within it. The default table:
//!
//! | sender ↓ / may write to → | pupil | parent | teacher | staff |
//! |---|---|---|---|---|
//! | pupil | pupils of their class | their own parents | teachers of their classes and groups | staff of the structure |
//! | parent | their own children | no (the `parent_parent` setting opens the parents of their children's classes) | teachers of their children's classes and groups | staff of the structure |
//! | teacher | pupils of the classes and groups they teach | parents of those pupils | teachers of the structure | staff of the structure |
//! | staff | pupils of the structure | parents of the structure | teachers of the structure | staff of the structure |
//!
//! The [`Policy`] setting tightens it: no pupil ↔ teacher messages (both ways), no pupil ↔ pupil messages,
//! opening hours for some senders. Groups follow the same table ([`may_address`]): a pupil cannot address
//! "the parents of 3A" nor "the teachers of the structure".

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, NaiveTime, Timelike, Utc};
use ent_core::UserId;
use ent_core::directory::Profile;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What a person is for the rules, in the structure the sender acts in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// An élève.
    Pupil,
    /// A responsable.
    Parent,
    /// An enseignant.
    Teacher,
    /// Direction, vie scolaire, documentaliste, administrative staff, administrators.
    Staff,
}

impl Role {
    /// The role a profile plays in the table; `None` for profiles the table does not cover (guests,
    /// collectivité and académie staff), who neither send nor receive by these rules.
    pub fn of(profile: Profile) -> Option<Role> {
        Some(match profile {
            Profile::Eleve => Role::Pupil,
            Profile::Responsable => Role::Parent,
            Profile::Enseignant => Role::Teacher,
            Profile::Direction
            | Profile::VieScolaire
            | Profile::Administratif
            | Profile::Documentaliste
            | Profile::AdminLocal
            | Profile::AdminCentral => Role::Staff,
            _ => return None,
        })
    }

    /// The roles of a set of profiles, sorted, without duplicates.
    pub fn of_all(profiles: impl IntoIterator<Item = Profile>) -> Vec<Role> {
        let set: BTreeSet<Role> = profiles.into_iter().filter_map(Role::of).collect();
        set.into_iter().collect()
    }
}

/// The per-structure setting `messagerie.policy`: how the structure tightens the default table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Pupils and teachers may write to each other (Pronote closes it by default; ent opens it).
    #[serde(default = "yes")]
    pub pupil_teacher: bool,
    /// Pupils may write to the pupils of their class.
    #[serde(default = "yes")]
    pub pupil_pupil: bool,
    /// Parents may write to the parents of their children's classes (for parent delegates).
    #[serde(default)]
    pub parent_parent: bool,
    /// When some senders may send (a right to disconnect); `null`: at any time.
    #[serde(default)]
    pub opening_hours: Option<OpeningHours>,
}

fn yes() -> bool {
    true
}

impl Default for Policy {
    fn default() -> Self {
        Policy { pupil_teacher: true, pupil_pupil: true, parent_parent: false, opening_hours: None }
    }
}

/// Opening hours of the messagerie, in the structure's time zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OpeningHours {
    /// Open days, ISO numbers: 1 is Monday, 7 is Sunday.
    pub days: Vec<u8>,
    /// Opening time, `HH:MM`.
    #[schemars(regex(pattern = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"))]
    pub from: String,
    /// Closing time, `HH:MM` (after `from`).
    #[schemars(regex(pattern = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"))]
    pub to: String,
    /// The profiles whose sending is limited to these hours (by default pupils and parents).
    #[serde(default = "limited_by_default")]
    pub applies_to: Vec<Profile>,
}

fn limited_by_default() -> Vec<Profile> {
    vec![Profile::Eleve, Profile::Responsable]
}

impl OpeningHours {
    /// Whether a sender holding `profiles` may send at `local` (the structure's local time). Every
    /// profile of the sender must be limited for the hours to apply: a teacher who is also a parent is not.
    pub fn allows(&self, profiles: &[Profile], local: chrono::NaiveDateTime) -> bool {
        let limited = !profiles.is_empty() && profiles.iter().all(|p| self.applies_to.contains(p));
        if !limited {
            return true;
        }
        let day = local.weekday().number_from_monday() as u8;
        let (Some(from), Some(to)) = (parse_hhmm(&self.from), parse_hhmm(&self.to)) else { return true };
        let now = NaiveTime::from_hms_opt(local.hour(), local.minute(), 0).unwrap_or(NaiveTime::MIN);
        self.days.contains(&day) && from <= now && now < to
    }

    /// Checks the setting itself: days 1 to 7, times `HH:MM`, `from` before `to`.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(d) = self.days.iter().find(|d| !(1..=7).contains(*d)) {
            return Err(format!("day {d} is not between 1 (Monday) and 7 (Sunday)"));
        }
        match (parse_hhmm(&self.from), parse_hhmm(&self.to)) {
            (Some(f), Some(t)) if f < t => Ok(()),
            (Some(_), Some(_)) => Err(format!("opening time {} is not before closing time {}", self.from, self.to)),
            _ => Err(format!("times must be HH:MM, got {} and {}", self.from, self.to)),
        }
    }
}

fn parse_hhmm(s: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(s, "%H:%M").ok()
}

/// The local time of a structure: `time_zone` is an IANA name (`Europe/Paris`); an unknown one falls back
/// to `Europe/Paris`, where nearly every structure is.
pub fn local_time(now: DateTime<Utc>, time_zone: &str) -> chrono::NaiveDateTime {
    let tz: chrono_tz::Tz = time_zone.parse().unwrap_or(chrono_tz::Europe::Paris);
    now.with_timezone(&tz).naive_local()
}

/// Why a recipient (or the whole message) is excluded. The codes are stable (the UI translates them with
/// the module's catalogues, key `messagerie-reason-<code>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// No such person, class or group.
    Unknown,
    /// The account is disabled.
    Disabled,
    /// The person has no profile the rules cover in the structure the sender acts in.
    NotInStructure,
    /// The table does not let the sender write to this person or group.
    NotRelated,
    /// The structure closed pupil ↔ teacher messages.
    PupilTeacherClosed,
    /// The structure closed pupil ↔ pupil messages.
    PupilPupilClosed,
    /// Parents may not write to other parents in this structure.
    ParentParentClosed,
    /// The sender may not send at this time (opening hours).
    OutsideOpeningHours,
    /// The sender holds no profile that may send messages.
    NoSenderProfile,
}

impl Reason {
    /// A sentence for the sender, in French then English.
    pub fn message(self) -> &'static str {
        match self {
            Reason::Unknown => "Destinataire inconnu. / Unknown recipient.",
            Reason::Disabled => "Ce compte est désactivé. / This account is disabled.",
            Reason::NotInStructure => {
                "Cette personne n'appartient pas à votre établissement. / This person is not in your structure."
            }
            Reason::NotRelated => {
                "Les règles de communication ne vous permettent pas d'écrire à ce destinataire. / The communication rules do not let you write to this recipient."
            }
            Reason::PupilTeacherClosed => {
                "L'établissement a fermé les échanges entre élèves et enseignants. / The structure closed messages between pupils and teachers."
            }
            Reason::PupilPupilClosed => {
                "L'établissement a fermé les échanges entre élèves. / The structure closed messages between pupils."
            }
            Reason::ParentParentClosed => {
                "Les parents ne peuvent pas écrire aux autres parents. / Parents may not write to other parents."
            }
            Reason::OutsideOpeningHours => {
                "La messagerie est fermée à cette heure (droit à la déconnexion). / Messaging is closed at this time."
            }
            Reason::NoSenderProfile => {
                "Votre profil ne permet pas d'envoyer de messages. / Your profile may not send messages."
            }
        }
    }
}

/// What the rules need to know of the sender, within the structure they act in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sender {
    /// Who.
    pub id: UserId,
    /// Their roles in the structure.
    pub roles: Vec<Role>,
    /// As a pupil: the classes and groups they belong to (ids). Also manual groups, for any role.
    pub own_units: BTreeSet<uuid::Uuid>,
    /// As a pupil: their classes only (pupil ↔ pupil is "pupils of their class").
    pub own_classes: BTreeSet<uuid::Uuid>,
    /// As a teacher: the classes and groups they teach.
    pub taught_units: BTreeSet<uuid::Uuid>,
    /// As a pupil: their legal responsables.
    pub parents: BTreeSet<UserId>,
    /// As a parent: the children they are responsable légal of.
    pub children: BTreeSet<UserId>,
    /// As a parent: the classes and groups of those children.
    pub children_units: BTreeSet<uuid::Uuid>,
    /// As a pupil: the teachers of their classes and groups; as a parent: those of their children's.
    pub teachers: BTreeSet<UserId>,
}

/// What the rules need to know of a recipient.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recipient {
    /// Who.
    pub id: UserId,
    /// Their roles in the sender's structure.
    pub roles: Vec<Role>,
    /// Whether the account is disabled.
    pub disabled: bool,
    /// As a pupil: their classes and groups (loaded when [`needs`] asks).
    pub units: BTreeSet<uuid::Uuid>,
    /// As a pupil: their classes only.
    pub classes: BTreeSet<uuid::Uuid>,
    /// As a parent: the classes and groups of their children (loaded when [`needs`] asks).
    pub children_units: BTreeSet<uuid::Uuid>,
    /// Reached through a group the sender may address ([`may_address`]): the relation holds by construction.
    pub via_group: bool,
}

/// Which recipient facts the check needs beyond their roles.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Needs {
    /// The recipient's classes and groups (a pupil, written to by a pupil or a teacher).
    pub units: bool,
    /// The classes and groups of the recipient's children (a parent, written to by a teacher or a parent).
    pub children_units: bool,
}

/// What must be loaded about a recipient holding `roles` before [`check`] can decide.
pub fn needs(sender: &Sender, roles: &[Role], via_group: bool) -> Needs {
    if via_group || sender.roles.contains(&Role::Staff) {
        return Needs::default();
    }
    let s = |r| sender.roles.contains(&r);
    let t = |r| roles.contains(&r);
    Needs {
        units: t(Role::Pupil) && (s(Role::Pupil) || s(Role::Teacher)),
        children_units: t(Role::Parent) && (s(Role::Teacher) || s(Role::Parent)),
    }
}

/// Whether the sender may write to the recipient; the reason when not. With several roles on either side,
/// one allowed pair suffices; when none is, the most telling reason is given (a closure by the structure's
/// settings before "not related").
pub fn check(policy: &Policy, sender: &Sender, recipient: &Recipient) -> Result<(), Reason> {
    if sender.roles.is_empty() {
        return Err(Reason::NoSenderProfile);
    }
    if recipient.disabled {
        return Err(Reason::Disabled);
    }
    if recipient.roles.is_empty() {
        return Err(Reason::NotInStructure);
    }
    let mut best = Reason::NotRelated;
    for &from in &sender.roles {
        for &to in &recipient.roles {
            match pair(policy, sender, from, recipient, to) {
                Ok(()) => return Ok(()),
                Err(Reason::NotRelated) => {}
                Err(other) => best = other,
            }
        }
    }
    Err(best)
}

fn closure(policy: &Policy, from: Role, to: Role) -> Result<(), Reason> {
    match (from, to) {
        (Role::Pupil, Role::Teacher) | (Role::Teacher, Role::Pupil) if !policy.pupil_teacher => {
            Err(Reason::PupilTeacherClosed)
        }
        (Role::Pupil, Role::Pupil) if !policy.pupil_pupil => Err(Reason::PupilPupilClosed),
        _ => Ok(()),
    }
}

fn pair(policy: &Policy, sender: &Sender, from: Role, recipient: &Recipient, to: Role) -> Result<(), Reason> {
    let related = recipient.via_group
        || match (from, to) {
            (Role::Staff, _) | (_, Role::Staff) => true,
            (Role::Pupil, Role::Pupil) => !sender.own_classes.is_disjoint(&recipient.classes),
            (Role::Pupil, Role::Parent) => sender.parents.contains(&recipient.id),
            (Role::Pupil, Role::Teacher) | (Role::Parent, Role::Teacher) => sender.teachers.contains(&recipient.id),
            (Role::Parent, Role::Pupil) => sender.children.contains(&recipient.id),
            (Role::Parent, Role::Parent) => {
                let shared = !sender.children_units.is_disjoint(&recipient.children_units);
                if shared && !policy.parent_parent {
                    return Err(Reason::ParentParentClosed);
                }
                shared
            }
            (Role::Teacher, Role::Pupil) => !sender.taught_units.is_disjoint(&recipient.units),
            (Role::Teacher, Role::Parent) => !sender.taught_units.is_disjoint(&recipient.children_units),
            (Role::Teacher, Role::Teacher) => true,
        };
    if !related {
        return Err(Reason::NotRelated);
    }
    closure(policy, from, to)
}

/// Who a group address gathers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Audience {
    /// The members (the pupils of a class or teaching group; anyone in a manual group).
    Members,
    /// The legal responsables of the pupils.
    Parents,
    /// The teachers who teach it.
    Teachers,
}

/// What a group address is, for [`may_address`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// A class or a teaching group, and who in it.
    Unit {
        /// The class or group id.
        unit: uuid::Uuid,
        /// Who.
        audience: Audience,
    },
    /// A manual group made by staff: its members are checked one by one.
    Manual {
        /// The group id.
        unit: uuid::Uuid,
        /// Who.
        audience: Audience,
    },
    /// Everyone holding a role in the sender's structure ("the teachers of the collège").
    Structure(Role),
}

/// Whether the sender may address a group as a whole. When they may, its members are related to the sender
/// by construction ([`Recipient::via_group`]), except for manual groups, whose members are checked one by
/// one. A refused group is excluded as a whole, without listing its members (the sender need not learn
/// who is in a group they may not address).
pub fn may_address(policy: &Policy, sender: &Sender, target: Target) -> Result<(), Reason> {
    if sender.roles.is_empty() {
        return Err(Reason::NoSenderProfile);
    }
    let mut best = Reason::NotRelated;
    for &from in &sender.roles {
        let verdict = match (from, target) {
            (Role::Staff, _) => Ok(()),
            (_, Target::Structure(Role::Staff)) => Ok(()),
            (Role::Teacher, Target::Structure(Role::Teacher)) => Ok(()),
            (_, Target::Structure(_)) => Err(Reason::NotRelated),
            (_, Target::Manual { unit, audience: Audience::Members }) => {
                if sender.own_units.contains(&unit) || sender.taught_units.contains(&unit) {
                    Ok(())
                } else {
                    Err(Reason::NotRelated)
                }
            }
            (_, Target::Manual { .. }) => Err(Reason::NotRelated),
            (Role::Teacher, Target::Unit { unit, audience }) => match audience {
                Audience::Teachers => Ok(()),
                _ if !sender.taught_units.contains(&unit) => Err(Reason::NotRelated),
                Audience::Members => closure(policy, Role::Teacher, Role::Pupil),
                Audience::Parents => Ok(()),
            },
            (Role::Pupil, Target::Unit { unit, audience }) => {
                if !sender.own_units.contains(&unit) {
                    Err(Reason::NotRelated)
                } else {
                    match audience {
                        Audience::Members => closure(policy, Role::Pupil, Role::Pupil),
                        Audience::Teachers => closure(policy, Role::Pupil, Role::Teacher),
                        Audience::Parents => Err(Reason::NotRelated),
                    }
                }
            }
            (Role::Parent, Target::Unit { unit, audience }) => {
                if !sender.children_units.contains(&unit) {
                    Err(Reason::NotRelated)
                } else {
                    match audience {
                        Audience::Teachers => Ok(()),
                        Audience::Parents if policy.parent_parent => Ok(()),
                        Audience::Parents => Err(Reason::ParentParentClosed),
                        Audience::Members => Err(Reason::NotRelated),
                    }
                }
            }
        };
        match verdict {
            Ok(()) => return Ok(()),
            Err(Reason::NotRelated) => {}
            Err(other) => best = other,
        }
    }
    Err(best)
}

/// Whether a manual group's members are checked one by one (they are; classes and teaching groups are
/// related by construction once addressable).
pub fn members_checked_one_by_one(target: Target) -> bool {
    matches!(target, Target::Manual { .. })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id() -> UserId {
        UserId::new()
    }

    fn unit() -> uuid::Uuid {
        uuid::Uuid::now_v7()
    }

    struct World {
        class: uuid::Uuid,
        other_class: uuid::Uuid,
        pupil: Sender,
        parent: Sender,
        teacher: Sender,
        staff: Sender,
        classmate: Recipient,
        stranger_pupil: Recipient,
        own_parent: Recipient,
        class_parent: Recipient,
        other_parent: Recipient,
        class_teacher: Recipient,
        other_teacher: Recipient,
        staff_r: Recipient,
        child: Recipient,
    }

    fn world() -> World {
        let class = unit();
        let other_class = unit();
        let (pupil_id, parent_id, teacher_id) = (id(), id(), id());
        let pupil_r = |classes: &[uuid::Uuid]| Recipient {
            id: id(),
            roles: vec![Role::Pupil],
            units: classes.iter().copied().collect(),
            classes: classes.iter().copied().collect(),
            ..Default::default()
        };
        let parent_r = |pid: UserId, units: &[uuid::Uuid]| Recipient {
            id: pid,
            roles: vec![Role::Parent],
            children_units: units.iter().copied().collect(),
            ..Default::default()
        };
        let child = Recipient { id: pupil_id, ..pupil_r(&[class]) };
        World {
            class,
            other_class,
            pupil: Sender {
                id: pupil_id,
                roles: vec![Role::Pupil],
                own_units: [class].into(),
                own_classes: [class].into(),
                parents: [parent_id].into(),
                teachers: [teacher_id].into(),
                ..Default::default()
            },
            parent: Sender {
                id: parent_id,
                roles: vec![Role::Parent],
                children: [pupil_id].into(),
                children_units: [class].into(),
                teachers: [teacher_id].into(),
                ..Default::default()
            },
            teacher: Sender {
                id: teacher_id,
                roles: vec![Role::Teacher],
                taught_units: [class].into(),
                ..Default::default()
            },
            staff: Sender { id: id(), roles: vec![Role::Staff], ..Default::default() },
            classmate: pupil_r(&[class]),
            stranger_pupil: pupil_r(&[other_class]),
            own_parent: parent_r(parent_id, &[class]),
            class_parent: parent_r(id(), &[class]),
            other_parent: parent_r(id(), &[other_class]),
            class_teacher: Recipient { id: teacher_id, roles: vec![Role::Teacher], ..Default::default() },
            other_teacher: Recipient { id: id(), roles: vec![Role::Teacher], ..Default::default() },
            staff_r: Recipient { id: id(), roles: vec![Role::Staff], ..Default::default() },
            child,
        }
    }

    /// The default table, cell by cell.
    #[test]
    fn the_default_table() {
        let w = world();
        let p = Policy::default();
        let cases: Vec<(&str, &Sender, &Recipient, Result<(), Reason>)> = vec![
            ("pupil -> classmate", &w.pupil, &w.classmate, Ok(())),
            ("pupil -> pupil of another class", &w.pupil, &w.stranger_pupil, Err(Reason::NotRelated)),
            ("pupil -> own parent", &w.pupil, &w.own_parent, Ok(())),
            ("pupil -> a classmate's parent", &w.pupil, &w.class_parent, Err(Reason::NotRelated)),
            ("pupil -> own teacher", &w.pupil, &w.class_teacher, Ok(())),
            ("pupil -> another teacher", &w.pupil, &w.other_teacher, Err(Reason::NotRelated)),
            ("pupil -> staff", &w.pupil, &w.staff_r, Ok(())),
            ("parent -> own child", &w.parent, &w.child, Ok(())),
            ("parent -> another pupil", &w.parent, &w.classmate, Err(Reason::NotRelated)),
            ("parent -> parent of the class", &w.parent, &w.class_parent, Err(Reason::ParentParentClosed)),
            ("parent -> parent elsewhere", &w.parent, &w.other_parent, Err(Reason::NotRelated)),
            ("parent -> child's teacher", &w.parent, &w.class_teacher, Ok(())),
            ("parent -> another teacher", &w.parent, &w.other_teacher, Err(Reason::NotRelated)),
            ("parent -> staff", &w.parent, &w.staff_r, Ok(())),
            ("teacher -> pupil taught", &w.teacher, &w.classmate, Ok(())),
            ("teacher -> pupil not taught", &w.teacher, &w.stranger_pupil, Err(Reason::NotRelated)),
            ("teacher -> parent of a pupil taught", &w.teacher, &w.class_parent, Ok(())),
            ("teacher -> parent elsewhere", &w.teacher, &w.other_parent, Err(Reason::NotRelated)),
            ("teacher -> any teacher", &w.teacher, &w.other_teacher, Ok(())),
            ("teacher -> staff", &w.teacher, &w.staff_r, Ok(())),
            ("staff -> any pupil", &w.staff, &w.stranger_pupil, Ok(())),
            ("staff -> any parent", &w.staff, &w.other_parent, Ok(())),
            ("staff -> any teacher", &w.staff, &w.other_teacher, Ok(())),
            ("staff -> staff", &w.staff, &w.staff_r, Ok(())),
        ];
        for (name, s, r, expected) in cases {
            assert_eq!(check(&p, s, r), expected, "{name}");
        }
    }

    #[test]
    fn settings_only_tighten() {
        let w = world();
        let closed = Policy { pupil_teacher: false, pupil_pupil: false, ..Policy::default() };
        assert_eq!(check(&closed, &w.pupil, &w.class_teacher), Err(Reason::PupilTeacherClosed));
        assert_eq!(check(&closed, &w.teacher, &w.classmate), Err(Reason::PupilTeacherClosed));
        assert_eq!(check(&closed, &w.pupil, &w.classmate), Err(Reason::PupilPupilClosed));
        // Unrelated stays unrelated whatever the settings.
        assert_eq!(check(&closed, &w.pupil, &w.stranger_pupil), Err(Reason::NotRelated));
        // What no closure covers is untouched.
        assert_eq!(check(&closed, &w.pupil, &w.own_parent), Ok(()));
        assert_eq!(check(&closed, &w.staff, &w.classmate), Ok(()));
        let open = Policy { parent_parent: true, ..Policy::default() };
        assert_eq!(check(&open, &w.parent, &w.class_parent), Ok(()));
        assert_eq!(check(&open, &w.parent, &w.other_parent), Err(Reason::NotRelated));
    }

    /// Every sender, recipient and group of the world, under every combination of the settings: closing
    /// pupil ↔ teacher or pupil ↔ pupil never lets through what the open setting refused.
    #[test]
    fn closing_a_setting_never_opens_anything() {
        let w = world();
        let senders = [&w.pupil, &w.parent, &w.teacher, &w.staff];
        let recipients = [
            &w.classmate,
            &w.stranger_pupil,
            &w.own_parent,
            &w.class_parent,
            &w.other_parent,
            &w.class_teacher,
            &w.other_teacher,
            &w.staff_r,
            &w.child,
        ];
        let mut targets = vec![Target::Structure(Role::Pupil), Target::Structure(Role::Teacher)];
        for unit in [w.class, w.other_class] {
            for audience in [Audience::Members, Audience::Parents, Audience::Teachers] {
                targets.push(Target::Unit { unit, audience });
            }
        }
        for parent_parent in [false, true] {
            let open = Policy { parent_parent, ..Policy::default() };
            for (pupil_teacher, pupil_pupil) in [(false, true), (true, false), (false, false)] {
                let closed = Policy { pupil_teacher, pupil_pupil, ..open.clone() };
                for s in senders {
                    for r in recipients {
                        if check(&closed, s, r).is_ok() {
                            assert!(check(&open, s, r).is_ok(), "{s:?} -> {r:?}");
                        }
                    }
                    for t in &targets {
                        if may_address(&closed, s, *t).is_ok() {
                            assert!(may_address(&open, s, *t).is_ok(), "{s:?} -> {t:?}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn disabled_and_outsiders_are_excluded() {
        let w = world();
        let p = Policy::default();
        let disabled = Recipient { disabled: true, ..w.staff_r.clone() };
        assert_eq!(check(&p, &w.teacher, &disabled), Err(Reason::Disabled));
        let outsider = Recipient { roles: vec![], ..w.staff_r.clone() };
        assert_eq!(check(&p, &w.staff, &outsider), Err(Reason::NotInStructure));
        let nobody = Sender { roles: vec![], ..w.staff.clone() };
        assert_eq!(check(&p, &nobody, &w.staff_r), Err(Reason::NoSenderProfile));
    }

    #[test]
    fn one_allowed_pair_suffices() {
        let w = world();
        // A teacher who is also a parent of another class writes to a pupil of that class? Not as a teacher,
        // and not as a parent either (only their own child): refused; to their own child: allowed.
        let both = Sender { roles: vec![Role::Parent, Role::Teacher], ..w.parent.clone() };
        assert_eq!(check(&Policy::default(), &both, &w.child), Ok(()));
        assert_eq!(check(&Policy::default(), &both, &w.other_teacher), Ok(()));
    }

    #[test]
    fn groups_follow_the_table() {
        let w = world();
        let p = Policy::default();
        let unit = |audience| Target::Unit { unit: w.class, audience };
        let other = |audience| Target::Unit { unit: w.other_class, audience };
        assert_eq!(may_address(&p, &w.pupil, unit(Audience::Members)), Ok(()));
        assert_eq!(may_address(&p, &w.pupil, unit(Audience::Teachers)), Ok(()));
        assert_eq!(may_address(&p, &w.pupil, unit(Audience::Parents)), Err(Reason::NotRelated));
        assert_eq!(may_address(&p, &w.pupil, other(Audience::Members)), Err(Reason::NotRelated));
        assert_eq!(may_address(&p, &w.pupil, Target::Structure(Role::Parent)), Err(Reason::NotRelated));
        assert_eq!(may_address(&p, &w.pupil, Target::Structure(Role::Teacher)), Err(Reason::NotRelated));
        assert_eq!(may_address(&p, &w.pupil, Target::Structure(Role::Staff)), Ok(()));
        assert_eq!(may_address(&p, &w.parent, unit(Audience::Teachers)), Ok(()));
        assert_eq!(may_address(&p, &w.parent, unit(Audience::Parents)), Err(Reason::ParentParentClosed));
        assert_eq!(may_address(&p, &w.parent, unit(Audience::Members)), Err(Reason::NotRelated));
        assert_eq!(may_address(&p, &w.teacher, unit(Audience::Parents)), Ok(()));
        assert_eq!(may_address(&p, &w.teacher, other(Audience::Parents)), Err(Reason::NotRelated));
        assert_eq!(may_address(&p, &w.teacher, other(Audience::Teachers)), Ok(()));
        assert_eq!(may_address(&p, &w.teacher, Target::Structure(Role::Teacher)), Ok(()));
        assert_eq!(may_address(&p, &w.teacher, Target::Structure(Role::Parent)), Err(Reason::NotRelated));
        assert_eq!(may_address(&p, &w.staff, Target::Structure(Role::Parent)), Ok(()));
        let closed = Policy { pupil_teacher: false, pupil_pupil: false, ..Policy::default() };
        assert_eq!(may_address(&closed, &w.teacher, unit(Audience::Members)), Err(Reason::PupilTeacherClosed));
        assert_eq!(may_address(&closed, &w.pupil, unit(Audience::Members)), Err(Reason::PupilPupilClosed));
        assert_eq!(may_address(&closed, &w.pupil, unit(Audience::Teachers)), Err(Reason::PupilTeacherClosed));
        // A manual group: its members may address it, and staff; nobody else.
        let club = uuid::Uuid::now_v7();
        let manual = Target::Manual { unit: club, audience: Audience::Members };
        let mut member = w.pupil.clone();
        member.own_units.insert(club);
        assert_eq!(may_address(&p, &member, manual), Ok(()));
        assert_eq!(may_address(&p, &w.pupil, manual), Err(Reason::NotRelated));
        assert_eq!(may_address(&p, &w.teacher, manual), Err(Reason::NotRelated));
        assert_eq!(may_address(&p, &w.staff, manual), Ok(()));
        assert_eq!(
            may_address(&p, &member, Target::Manual { unit: club, audience: Audience::Parents }),
            Err(Reason::NotRelated)
        );
        assert!(members_checked_one_by_one(manual));
    }

    #[test]
    fn needs_loads_only_what_decides() {
        let w = world();
        assert_eq!(needs(&w.staff, &[Role::Pupil, Role::Parent], false), Needs::default());
        assert_eq!(needs(&w.teacher, &[Role::Pupil], true), Needs::default());
        assert_eq!(needs(&w.teacher, &[Role::Parent], false), Needs { units: false, children_units: true });
        assert_eq!(needs(&w.pupil, &[Role::Pupil], false), Needs { units: true, children_units: false });
        assert_eq!(needs(&w.pupil, &[Role::Teacher], false), Needs::default());
    }

    #[test]
    fn opening_hours() {
        let hours = OpeningHours {
            days: vec![1, 2, 3, 4, 5],
            from: "07:30".into(),
            to: "19:00".into(),
            applies_to: limited_by_default(),
        };
        assert_eq!(hours.validate(), Ok(()));
        let at = |s: &str| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap();
        // 2026-11-30 is a Monday.
        assert!(hours.allows(&[Profile::Responsable], at("2026-11-30 07:30")));
        assert!(!hours.allows(&[Profile::Responsable], at("2026-11-30 19:00")));
        assert!(!hours.allows(&[Profile::Eleve], at("2026-11-29 10:00")), "Sunday");
        assert!(hours.allows(&[Profile::Enseignant], at("2026-11-29 23:00")), "teachers are not limited");
        assert!(hours.allows(&[Profile::Responsable, Profile::Enseignant], at("2026-11-29 23:00")));
        let bad = OpeningHours { from: "19:00".into(), to: "07:30".into(), ..hours.clone() };
        assert!(bad.validate().is_err());
        assert!(OpeningHours { days: vec![0], ..hours }.validate().is_err());
        // 07:00 UTC is 08:00 in Paris in winter.
        let now: DateTime<Utc> = "2026-11-30T07:00:00Z".parse().unwrap();
        assert_eq!(local_time(now, "Europe/Paris"), at("2026-11-30 08:00"));
        assert_eq!(local_time(now, "Not/AZone"), at("2026-11-30 08:00"));
        assert_eq!(local_time(now, "Indian/Reunion"), at("2026-11-30 11:00"));
    }
}
