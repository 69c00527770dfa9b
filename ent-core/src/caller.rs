//! Who acts: every action, event handler and job runs for a [`Caller`], either a person (from their session)
//! or the system (jobs, imports, event handlers) with an explicit scope of rights that is recorded in the
//! audit trail.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::directory::Profile;
use crate::{SessionId, StructureId, UserId};

/// Who runs an action.
///
/// ```
/// use ent_core::caller::{Caller, SystemScope};
/// use ent_core::directory::Profile;
/// use ent_core::{StructureId, UserId};
///
/// let pupil = Caller::user(UserId::new(), StructureId::new(), [Profile::Eleve]);
/// assert!(pupil.has_profile(Profile::Eleve));
///
/// let import = Caller::system("import:aaf", SystemScope::rights(["directory.*"]));
/// assert!(import.as_system().unwrap().scope.covers("directory.user.write"));
/// assert!(!import.as_system().unwrap().scope.covers("notes.grade.write"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Caller {
    /// A person, acting in one structure with the profiles they hold there.
    User(UserCaller),
    /// The system: a job, an import, an event handler.
    System(SystemCaller),
}

/// A person acting through a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct UserCaller {
    /// The person.
    pub user: UserId,
    /// The structure they act in.
    pub structure: StructureId,
    /// Their profiles in that structure.
    pub profiles: Vec<Profile>,
    /// The session the request came with, if any.
    pub session: Option<SessionId>,
    /// Where the request came from (the client's address, as the HTTP layer saw it), for the audit log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
}

/// The system acting on its own behalf, within an explicit scope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SystemCaller {
    /// Who, for the audit trail: `job:guestbook.digest`, `import:aaf`, `event:notifications.timeline`.
    pub actor: String,
    /// The rights it may use.
    pub scope: SystemScope,
    /// The structure it acts for, if it is limited to one.
    pub structure: Option<StructureId>,
}

/// The rights a system caller may use: right names, or patterns ending in `.*` (`guestbook.*` covers every
/// right whose name starts with `guestbook.`). There is deliberately no "everything" shortcut other than
/// the pattern `*`, so that a wide scope is visible where it is given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SystemScope {
    /// The rights or patterns.
    pub rights: Vec<String>,
}

impl SystemScope {
    /// A scope of these rights or patterns.
    pub fn rights<S: Into<String>>(rights: impl IntoIterator<Item = S>) -> Self {
        SystemScope { rights: rights.into_iter().map(Into::into).collect() }
    }

    /// The scope of every right a module declares (`module.*`).
    pub fn module(module: &str) -> Self {
        SystemScope { rights: vec![format!("{module}.*")] }
    }

    /// Whether this scope covers `right`.
    pub fn covers(&self, right: &str) -> bool {
        self.rights.iter().any(|r| match r.strip_suffix('*') {
            Some(prefix) => right.starts_with(prefix),
            None => r == right,
        })
    }
}

impl Caller {
    /// A person in a structure with the given profiles.
    pub fn user(user: UserId, structure: StructureId, profiles: impl IntoIterator<Item = Profile>) -> Self {
        Caller::User(UserCaller {
            user,
            structure,
            profiles: profiles.into_iter().collect(),
            session: None,
            origin: None,
        })
    }

    /// The system, as `actor`, limited to `scope`.
    pub fn system(actor: impl Into<String>, scope: SystemScope) -> Self {
        Caller::System(SystemCaller { actor: actor.into(), scope, structure: None })
    }

    /// Sets the session of a user caller (no effect on a system caller).
    pub fn with_session(mut self, session: SessionId) -> Self {
        if let Caller::User(u) = &mut self {
            u.session = Some(session);
        }
        self
    }

    /// Sets where a user caller's request came from (no effect on a system caller).
    pub fn with_origin(mut self, origin: impl Into<String>) -> Self {
        if let Caller::User(u) = &mut self {
            u.origin = Some(origin.into());
        }
        self
    }

    /// Where a user caller's request came from, when known.
    pub fn origin(&self) -> Option<&str> {
        self.as_user().and_then(|u| u.origin.as_deref())
    }

    /// Limits a system caller to one structure (no effect on a user caller, who always has one).
    pub fn in_structure(mut self, structure: StructureId) -> Self {
        if let Caller::System(s) = &mut self {
            s.structure = Some(structure);
        }
        self
    }

    /// The person, for a user caller.
    pub fn as_user(&self) -> Option<&UserCaller> {
        match self {
            Caller::User(u) => Some(u),
            Caller::System(_) => None,
        }
    }

    /// The system caller, for a system caller.
    pub fn as_system(&self) -> Option<&SystemCaller> {
        match self {
            Caller::System(s) => Some(s),
            Caller::User(_) => None,
        }
    }

    /// The person's id, for a user caller.
    pub fn user_id(&self) -> Option<UserId> {
        self.as_user().map(|u| u.user)
    }

    /// The structure the caller acts in, if any.
    pub fn structure(&self) -> Option<StructureId> {
        match self {
            Caller::User(u) => Some(u.structure),
            Caller::System(s) => s.structure,
        }
    }

    /// Whether a user caller holds `profile` (always false for the system).
    pub fn has_profile(&self, profile: Profile) -> bool {
        self.as_user().is_some_and(|u| u.profiles.contains(&profile))
    }

    /// Whether this is a system caller.
    pub fn is_system(&self) -> bool {
        matches!(self, Caller::System(_))
    }
}

impl fmt::Display for Caller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Caller::User(u) => write!(f, "user {} in structure {}", u.user, u.structure),
            Caller::System(s) => write!(f, "system {}", s.actor),
        }
    }
}
