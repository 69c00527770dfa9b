//! Actions: what a module does for a caller. Each action is a type: its name, the right it needs, its input
//! and output types (whose JSON Schemas go into the manifest), and its handler. The assembly runs every call,
//! typed ([`crate::Ent::run`]) or JSON ([`crate::Ent::call`]), through the same path: find the action, check
//! the right, validate the input against its schema, open a transaction, run the handler, commit, deliver
//! the events.
//!
//! ```
//! use ent_core::module::{Action, Context};
//! use schemars::JsonSchema;
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Serialize, Deserialize, JsonSchema)]
//! struct Greet { name: String }
//!
//! struct Hello;
//!
//! #[async_trait::async_trait]
//! impl Action for Hello {
//!     type Input = Greet;
//!     type Output = String;
//!     const NAME: &'static str = "hello.greet";
//!     const RIGHT: &'static str = "hello.greet";
//!     const READ_ONLY: bool = true;
//!     async fn run(&self, _ctx: &mut Context<'_>, input: Greet) -> ent_core::Result<String> {
//!         Ok(format!("Bonjour, {} !", input.name))
//!     }
//! }
//! ```

use std::any::Any;

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::context::Context;
use crate::{Error, Result};

/// An action of a module, with typed input and output.
#[async_trait]
pub trait Action: Send + Sync + 'static {
    /// What the caller sends.
    type Input: Serialize + DeserializeOwned + JsonSchema + Send + 'static;
    /// What the caller receives.
    type Output: Serialize + DeserializeOwned + JsonSchema + Send + 'static;
    /// `module.action`.
    const NAME: &'static str;
    /// The workflow right a caller must hold.
    const RIGHT: &'static str;
    /// What it does (goes into the manifest).
    const DESCRIPTION: &'static str = "";
    /// Whether it only reads: it then runs in a read-only transaction (and cannot emit events).
    const READ_ONLY: bool = false;

    /// Runs the action in the caller's transaction. The transaction may be run again after a serialization
    /// conflict: do not act outside it (send mail from an event subscriber or a job instead).
    async fn run(&self, ctx: &mut Context<'_>, input: Self::Input) -> Result<Self::Output>;
}

/// An action seen through JSON only: how the assembly holds every action, and what a module whose actions
/// are not Rust types (a dynamic plugin) implements.
#[async_trait]
pub trait DynAction: Send + Sync + 'static {
    /// `module.action`.
    fn name(&self) -> &str;

    /// The typed action behind it, for the typed path ([`crate::Ent::run`]).
    fn as_any(&self) -> &dyn Any;

    /// Runs the action on input that has already been validated against its schema.
    async fn run_json(&self, ctx: &mut Context<'_>, input: Value) -> Result<Value>;
}

#[async_trait]
impl<A: Action> DynAction for A {
    fn name(&self) -> &str {
        A::NAME
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    async fn run_json(&self, ctx: &mut Context<'_>, input: Value) -> Result<Value> {
        let input: A::Input = serde_json::from_value(input).map_err(|e| Error::InvalidInput {
            action: A::NAME.to_owned(),
            violations: vec![crate::error::Violation { pointer: String::new(), reason: e.to_string() }],
        })?;
        let output = self.run(ctx, input).await?;
        serde_json::to_value(output).map_err(|e| Error::serialization(format!("output of {}", A::NAME), e))
    }
}
