//! Accounts: activation codes now; passwords, sessions and second factors with the accounts issue.

mod activation;

pub use activation::{ActivationCode, ActivationSecret};
