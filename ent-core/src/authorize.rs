//! The workflow-rights check: may this caller run this action at all. The rights engine
//! ([`crate::rights::RightsEngine`]: roles, grants per structure, functions, relationship guards) plugs in
//! through [`Authorizer`]; without it, [`DefaultGrants`] grants each right to the profiles its manifest
//! names, as the caller states them.

use async_trait::async_trait;

use crate::caller::Caller;
use crate::module::Registry;
use crate::{Error, Result};

/// Decides whether a caller holds a right. One call per action, before its transaction.
#[async_trait]
pub trait Authorizer: Send + Sync + std::fmt::Debug + 'static {
    /// `Ok` if `caller` holds `right`, [`Error::Forbidden`] otherwise.
    async fn authorize(&self, registry: &Registry, caller: &Caller, right: &str) -> Result<()>;

    /// The rights engine behind this authorizer, if it is one: relationship guards and compiled rights
    /// ([`crate::module::Context::rights`]) need it.
    fn as_engine(&self) -> Option<&crate::rights::RightsEngine> {
        None
    }
}

/// Grants by the manifests' default grants per profile; a system caller holds what its scope covers. An
/// undeclared right is held by nobody.
#[derive(Debug, Clone, Copy, Default)]
pub struct DefaultGrants;

#[async_trait]
impl Authorizer for DefaultGrants {
    async fn authorize(&self, registry: &Registry, caller: &Caller, right: &str) -> Result<()> {
        let held = match caller {
            Caller::System(system) => registry.right(right).is_some() && system.scope.covers(right),
            Caller::User(user) => {
                registry.right(right).is_some_and(|decl| decl.default_grants.iter().any(|p| user.profiles.contains(p)))
            }
        };
        if held { Ok(()) } else { Err(Error::forbidden(right)) }
    }
}
