//! External identity: CAS, OIDC, SAML/EduConnect come in through [`IdentityProvider`]; an external subject
//! maps to a directory user through a stored link, or through a source key the directory already holds
//! (EduConnect's `FrEduCtRefId` is the pupil's or parent's key in the national feed).

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::Result;
use crate::id::UserId;
use crate::storage::{CollectionDef, IndexDef, IndexEntry, KeyKind, Record, Tuple};

/// Who an identity provider says the person is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExternalIdentity {
    /// The provider's id (`educonnect`, `cas-academie`...).
    pub provider: String,
    /// The person's stable id at the provider.
    pub subject: String,
    /// What else it asserted (attribute name -> values).
    pub attributes: BTreeMap<String, Vec<String>>,
}

/// A way to log in through another system. Implementations verify the assertion (a CAS ticket, an OIDC
/// code, a SAML response) and say who it names.
#[async_trait]
pub trait IdentityProvider: Send + Sync + std::fmt::Debug + 'static {
    /// The provider's id, as in [`ExternalLink::provider`].
    fn id(&self) -> &str;

    /// Verifies an assertion; [`crate::Error::Unauthenticated`] if it is not valid.
    async fn verify(&self, assertion: &str) -> Result<ExternalIdentity>;

    /// The directory source key the identity carries, if the provider shares keys with a feed: e.g.
    /// EduConnect's `FrEduCtRefId` against the AAF feed's keys. `(source, key)`.
    fn directory_key(&self, identity: &ExternalIdentity) -> Option<(String, String)> {
        let _ = identity;
        None
    }
}

/// A stored mapping from an external subject to a directory user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExternalLink {
    /// The provider.
    pub provider: String,
    /// The subject there.
    pub subject: String,
    /// The user.
    pub user: UserId,
}

impl Record for ExternalLink {
    const COLLECTION: &'static str = "ent.external_links";

    fn collection() -> CollectionDef {
        CollectionDef::new(Self::COLLECTION, [KeyKind::Str, KeyKind::Str])
            .index(IndexDef::new("by_user", [KeyKind::Uuid]))
    }

    fn id(&self) -> Tuple {
        (self.provider.as_str(), self.subject.as_str()).into()
    }

    fn index_entries(&self) -> Vec<IndexEntry> {
        vec![IndexEntry { index: "by_user".into(), key: (self.user.0,).into() }]
    }
}
