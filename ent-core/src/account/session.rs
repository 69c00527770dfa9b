//! Sessions: a token in the client's hands, its hash in the store, idle and absolute expiry, revocation one
//! by one, for a whole account, or for a whole structure (the kill switch).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::directory::Profile;
use crate::id::{SessionId, StructureId, UserId};
use crate::storage::{CollectionDef, IndexDef, IndexEntry, KeyKind, Record, Tuple};

/// A logged-in browser or device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    /// SHA-256 of the token (hex): the key; the token itself is never stored.
    pub hash: String,
    /// A public id, to list and revoke sessions without handling tokens.
    pub id: SessionId,
    /// The account.
    pub user: UserId,
    /// The structure the session acts in (a person in several structures switches).
    pub structure: StructureId,
    /// The profiles the person holds there.
    pub profiles: Vec<Profile>,
    /// When it was opened.
    pub created: DateTime<Utc>,
    /// Last activity, written coarsely (not on every request).
    pub last_seen: DateTime<Utc>,
    /// It ends after this long without activity.
    pub idle_timeout_secs: i64,
    /// It ends at this instant whatever the activity.
    pub expires: DateTime<Utc>,
    /// Where it was opened from.
    pub address: Option<String>,
    /// With which browser.
    pub user_agent: Option<String>,
    /// Whether a second factor was checked at login.
    pub second_factor: bool,
    /// Whether the person must enroll a second factor before anything else.
    pub must_enroll_second_factor: bool,
    /// The account's revocation epoch when the session was opened (revoking all bumps it).
    pub user_epoch: i64,
    /// The structure's revocation epoch when the session was opened (the kill switch bumps it).
    pub structure_epoch: i64,
}

impl Session {
    /// Whether the session is still valid at `now`, ignoring epochs.
    pub fn alive_at(&self, now: DateTime<Utc>) -> bool {
        now < self.expires && now < self.last_seen + chrono::Duration::seconds(self.idle_timeout_secs)
    }
}

impl Record for Session {
    const COLLECTION: &'static str = "ent.sessions";

    fn collection() -> CollectionDef {
        CollectionDef::new(Self::COLLECTION, [KeyKind::Str])
            .index(IndexDef::new("by_user", [KeyKind::Uuid, KeyKind::Timestamp]))
            .index(IndexDef::new("by_id", [KeyKind::Uuid]).unique())
            .index(IndexDef::new("by_expiry", [KeyKind::Timestamp]))
    }

    fn id(&self) -> Tuple {
        (self.hash.as_str(),).into()
    }

    fn index_entries(&self) -> Vec<IndexEntry> {
        vec![
            IndexEntry { index: "by_user".into(), key: (self.user.0, self.created).into() },
            IndexEntry { index: "by_id".into(), key: (self.id.0,).into() },
            IndexEntry { index: "by_expiry".into(), key: (self.expires,).into() },
        ]
    }
}

/// What a holder of a session sees of it (never its token).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionInfo {
    /// Its public id.
    pub id: SessionId,
    /// When it was opened.
    pub created: DateTime<Utc>,
    /// Last activity (to a few minutes).
    pub last_seen: DateTime<Utc>,
    /// From where.
    pub address: Option<String>,
    /// With which browser.
    pub user_agent: Option<String>,
}

impl From<&Session> for SessionInfo {
    fn from(s: &Session) -> Self {
        SessionInfo {
            id: s.id,
            created: s.created,
            last_seen: s.last_seen,
            address: s.address.clone(),
            user_agent: s.user_agent.clone(),
        }
    }
}

/// One-time password-reset codes: hashed, expiring, single use.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResetCode {
    /// SHA-256 of the code (hex).
    pub hash: String,
    /// The account.
    pub user: UserId,
    /// It stops working then.
    pub expires: DateTime<Utc>,
}

impl Record for ResetCode {
    const COLLECTION: &'static str = "ent.reset_codes";

    fn collection() -> CollectionDef {
        CollectionDef::new(Self::COLLECTION, [KeyKind::Str]).index(IndexDef::new("by_user", [KeyKind::Uuid]))
    }

    fn id(&self) -> Tuple {
        (self.hash.as_str(),).into()
    }

    fn index_entries(&self) -> Vec<IndexEntry> {
        vec![IndexEntry { index: "by_user".into(), key: (self.user.0,).into() }]
    }
}

/// The collection of revocation epochs (counters keyed `("user", id)` and `("structure", id)`).
pub const EPOCHS: &str = "ent.session_epochs";

/// The declaration of [`EPOCHS`].
pub(crate) fn epochs_collection() -> CollectionDef {
    CollectionDef::new(EPOCHS, [KeyKind::Str])
}
