//! Accounts: activation codes now; passwords, sessions and second factors with the accounts issue.

mod activation;
mod password;

pub use activation::{ActivationCode, ActivationSecret};
pub use password::{PasswordPolicy, Weakness, hash_password, needs_rehash, verify_password};
