//! What an account logs in with: its password hash, its second factor and recovery codes.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::id::UserId;
use crate::storage::{CollectionDef, KeyKind, Record, Tuple};

/// The secrets of one account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Credential {
    /// The account.
    pub user: UserId,
    /// The argon2id hash (PHC string), once a password was set.
    pub password_hash: Option<String>,
    /// When the password was last set.
    pub password_changed: Option<DateTime<Utc>>,
    /// The TOTP second factor, once confirmed.
    pub totp: Option<TotpState>,
    /// A TOTP secret being enrolled, until its first code confirms it.
    pub totp_pending: Option<String>,
    /// SHA-256 (hex) of the unused recovery codes.
    #[serde(default)]
    pub recovery_codes: Vec<String>,
    /// Addresses of the last successful logins, newest first: an account-wide lock spares them.
    #[serde(default)]
    pub known_addresses: Vec<String>,
}

/// A confirmed TOTP second factor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TotpState {
    /// The shared secret, base 32.
    pub secret: String,
    /// The last time step accepted: a code is never accepted twice.
    pub last_step: u64,
    /// When it was confirmed.
    pub since: DateTime<Utc>,
}

impl Credential {
    /// An account with no secret yet.
    pub fn empty(user: UserId) -> Self {
        Credential {
            user,
            password_hash: None,
            password_changed: None,
            totp: None,
            totp_pending: None,
            recovery_codes: Vec::new(),
            known_addresses: Vec::new(),
        }
    }
}

impl Record for Credential {
    const COLLECTION: &'static str = "ent.credentials";

    fn collection() -> CollectionDef {
        CollectionDef::new(Self::COLLECTION, [KeyKind::Uuid])
    }

    fn id(&self) -> Tuple {
        self.user.into()
    }
}
