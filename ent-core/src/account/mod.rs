//! Accounts: first login by activation code, passwords, sessions, the second factor, throttling, external
//! identities. [`Accounts`] is the service; the other items are what it stores and the rules it applies.

mod activation;
mod credential;
mod identity;
mod password;
mod service;
mod session;
pub mod throttle;
mod token;
pub mod totp;

pub use activation::{ActivationCode, ActivationSecret};
pub use credential::{Credential, TotpState};
pub use identity::{ExternalIdentity, ExternalLink, IdentityProvider};
pub use password::{PasswordPolicy, Weakness, hash_password, needs_rehash, verify_password};
pub use service::{AccountPolicy, Accounts, LoginRequest, Opened, TotpEnrollment};
pub use session::{EPOCHS, ResetCode, Session, SessionInfo};
pub use token::Token;

/// The collections of accounts, declared by the assembly with every other core collection.
pub fn collections() -> Vec<crate::storage::CollectionDef> {
    service::collections()
}
