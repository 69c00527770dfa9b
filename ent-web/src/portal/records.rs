//! What the portal module stores: who uploaded which file, and iCal feed tokens.

use chrono::{DateTime, Utc};
use ent_core::directory::Profile;
use ent_core::storage::{CollectionDef, IndexDef, IndexEntry, KeyKind, Record, Tuple};
use ent_core::{StructureId, UserId};
use serde::{Deserialize, Serialize};

/// A file a user uploaded: it holds a reference on the blob, so the bytes live as long as the record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Upload {
    pub(crate) user: UserId,
    /// The blob's id (hex SHA-256).
    pub(crate) blob: String,
    /// The file name the browser gave, for downloads.
    pub(crate) name: String,
    pub(crate) media_type: String,
    pub(crate) size: u64,
    pub(crate) at: DateTime<Utc>,
}

impl Record for Upload {
    const COLLECTION: &'static str = "portal.uploads";

    /// Keyed `(user, blob)`: one's own files, and "may this user read this blob" in one get.
    fn collection() -> CollectionDef {
        CollectionDef::new(Self::COLLECTION, [KeyKind::Uuid, KeyKind::Str])
    }

    fn id(&self) -> Tuple {
        (self.user.0, self.blob.as_str()).into()
    }
}

/// A token in an iCal feed's URL: calendar applications cannot log in, so the URL is the credential. Only
/// its SHA-256 is stored; it acts as the user, in the structure and with the profiles of the session that
/// created it, for read-only feed actions only; revoking all sessions does not end it (a new token does).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct FeedToken {
    pub(crate) hash: String,
    pub(crate) user: UserId,
    pub(crate) structure: StructureId,
    pub(crate) profiles: Vec<Profile>,
    pub(crate) created: DateTime<Utc>,
}

impl Record for FeedToken {
    const COLLECTION: &'static str = "portal.feed_tokens";

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
