//! Sharing, the third layer: a user-created resource (a calendar, a document, a blog) shared with users,
//! groups or classes at a level: read < contribute < manage. The owner manages; whoever manages may share
//! further. Shares live in `ent.shares`, indexed by resource and by grantee, and are read inside the
//! module's own transaction.
//!
//! A resource is named by its module: `agenda.calendar:<id>`.
//!
//! ```
//! use ent_core::rights::share::{self, ShareLevel, ShareWith};
//! # async fn demo(tx: &mut dyn ent_core::storage::Transaction, me: &ent_core::rights::EffectiveRights,
//! #   class: ent_core::ClassId) -> ent_core::Result<()> {
//! let calendar = "agenda.calendar:0190f3c2";
//! // The owner shares their calendar with a class, read only.
//! share::share(tx, me, calendar, Some(me.user()), ShareWith::Class(class), ShareLevel::Read).await?;
//! // Later, anyone: may this user add events?
//! let may_add = share::check(tx, me, calendar, Some(me.user()), ShareLevel::Contribute).await.is_ok();
//! # let _ = may_add; Ok(()) }
//! ```

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::compiled::EffectiveRights;
use crate::directory::Unit;
use crate::storage::{CollectionDef, IndexDef, IndexEntry, KeyKind, Record, Scan, Transaction, Tuple, TxExt};
use crate::{ClassId, Error, GroupId, Result, UserId};

/// How far a share goes. Ordered: each level includes the ones below.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ShareLevel {
    /// See it.
    Read,
    /// Add to it (events, files, comments).
    Contribute,
    /// Change and delete it, and share it further.
    Manage,
}

impl ShareLevel {
    /// The level's name (`read`, `contribute`, `manage`).
    pub fn as_str(self) -> &'static str {
        match self {
            ShareLevel::Read => "read",
            ShareLevel::Contribute => "contribute",
            ShareLevel::Manage => "manage",
        }
    }
}

/// Who a resource is shared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ShareWith {
    /// One person.
    User(UserId),
    /// The members of a group.
    Group(GroupId),
    /// The members of a class.
    Class(ClassId),
}

impl ShareWith {
    fn key(self) -> (&'static str, uuid::Uuid) {
        match self {
            ShareWith::User(u) => ("user", u.0),
            ShareWith::Group(g) => ("group", g.0),
            ShareWith::Class(c) => ("class", c.0),
        }
    }

    fn reaches(self, rights: &EffectiveRights) -> bool {
        match self {
            ShareWith::User(u) => rights.user() == u,
            ShareWith::Group(g) => rights.is_member(Unit::Group(g)),
            ShareWith::Class(c) => rights.is_member(Unit::Class(c)),
        }
    }
}

/// A resource shared with someone at a level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Share {
    /// The resource (`module.kind:id`).
    pub resource: String,
    /// With whom.
    pub with: ShareWith,
    /// How far.
    pub level: ShareLevel,
    /// Who shared it.
    pub by: UserId,
    /// When.
    pub at: DateTime<Utc>,
}

impl Record for Share {
    const COLLECTION: &'static str = "ent.shares";
    /// Keyed `(resource, grantee kind, grantee)`; indexed by grantee for "shared with me".
    fn collection() -> CollectionDef {
        CollectionDef::new(Self::COLLECTION, [KeyKind::Str, KeyKind::Str, KeyKind::Uuid])
            .index(IndexDef::new("by_grantee", [KeyKind::Str, KeyKind::Uuid, KeyKind::Str]))
    }
    fn id(&self) -> Tuple {
        let (kind, id) = self.with.key();
        (self.resource.as_str(), kind, id).into()
    }
    fn index_entries(&self) -> Vec<IndexEntry> {
        let (kind, id) = self.with.key();
        vec![IndexEntry { index: "by_grantee".into(), key: (kind, id, self.resource.as_str()).into() }]
    }
}

/// The shares of a resource.
pub async fn shares_of(tx: &mut dyn Transaction, resource: &str) -> Result<Vec<Share>> {
    let scan = Scan::primary(Share::COLLECTION).prefix((resource,)).limit(1000);
    Ok(tx.scan_records::<Share>(&scan).await?.0.into_iter().map(|s| s.value).collect())
}

/// The level `rights` holds on a resource: `Manage` for its owner, otherwise the highest level shared
/// with them, their groups or their classes; `None` if none (or the account is disabled).
pub async fn level(
    tx: &mut dyn Transaction,
    rights: &EffectiveRights,
    resource: &str,
    owner: Option<UserId>,
) -> Result<Option<ShareLevel>> {
    if !rights.is_active() {
        return Ok(None);
    }
    if owner == Some(rights.user()) {
        return Ok(Some(ShareLevel::Manage));
    }
    Ok(shares_of(tx, resource).await?.into_iter().filter(|s| s.with.reaches(rights)).map(|s| s.level).max())
}

/// `Ok` if `rights` holds at least `needed` on the resource, [`Error::Forbidden`] (naming
/// `resource:level`) otherwise.
pub async fn check(
    tx: &mut dyn Transaction,
    rights: &EffectiveRights,
    resource: &str,
    owner: Option<UserId>,
    needed: ShareLevel,
) -> Result<()> {
    match level(tx, rights, resource, owner).await? {
        Some(l) if l >= needed => Ok(()),
        _ => Err(Error::forbidden(format!("{resource}:{}", needed.as_str()))),
    }
}

/// Shares a resource (or changes the level of an existing share). Needs `Manage` on it.
pub async fn share(
    tx: &mut dyn Transaction,
    rights: &EffectiveRights,
    resource: &str,
    owner: Option<UserId>,
    with: ShareWith,
    level: ShareLevel,
) -> Result<()> {
    check(tx, rights, resource, owner, ShareLevel::Manage).await?;
    let (kind, id) = with.key();
    let record = Share { resource: resource.to_owned(), with, level, by: rights.user(), at: Utc::now() };
    match tx.get_record::<Share>((resource, kind, id)).await? {
        Some(old) => tx.update_record(old.version, &record).await?,
        None => tx.insert_record(&record).await?,
    };
    Ok(())
}

/// Removes a share. Needs `Manage` on the resource. Returns whether it existed.
pub async fn unshare(
    tx: &mut dyn Transaction,
    rights: &EffectiveRights,
    resource: &str,
    owner: Option<UserId>,
    with: ShareWith,
) -> Result<bool> {
    check(tx, rights, resource, owner, ShareLevel::Manage).await?;
    let (kind, id) = with.key();
    tx.delete_record::<Share>((resource, kind, id), None).await
}

/// The resources shared with the user directly or through their classes and groups, with the level of
/// each share (a resource may appear once per way it reaches them), at most `limit` per way.
pub async fn shared_with(tx: &mut dyn Transaction, rights: &EffectiveRights, limit: usize) -> Result<Vec<Share>> {
    if !rights.is_active() {
        return Ok(Vec::new());
    }
    let mut ways = vec![ShareWith::User(rights.user())];
    ways.extend(rights.facts.units.keys().map(|u| match u {
        Unit::Class(c) => ShareWith::Class(*c),
        Unit::Group(g) => ShareWith::Group(*g),
    }));
    let mut out = Vec::new();
    for way in ways {
        let (kind, id) = way.key();
        let scan = Scan::index(Share::COLLECTION, "by_grantee").prefix((kind, id)).limit(limit.max(1));
        out.extend(tx.scan_records::<Share>(&scan).await?.0.into_iter().map(|s| s.value));
    }
    Ok(out)
}
