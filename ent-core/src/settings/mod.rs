//! Settings: per-structure values declared by modules with a JSON Schema and a default
//! ([`crate::module::Manifest::setting`]), read in one point read, changed at run time by administrators
//! (validated against the schema, version-checked, audited).
//!
//! A structure without a stored value reads the manifest's default, so changing a default in a new
//! version of a module changes it for every structure that never set its own.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::caller::Caller;
use crate::directory::Profile;
use crate::ent::Runtime;
use crate::storage::{CollectionDef, KeyKind, Record, Transaction, Tuple, TxExt};
use crate::{Error, Result, StructureId};

/// The collection of set values.
pub const SETTINGS: &str = "ent.settings";

/// The right that changing a setting needs (declared by ent-core, granted by default to administrators).
pub const SETTINGS_WRITE: &str = "ent.settings.write";

/// A value set for a structure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SettingRecord {
    /// The setting (`module.name`).
    pub name: String,
    /// The structure.
    pub structure: StructureId,
    /// The value (valid against the setting's schema when it was set).
    pub value: Value,
    /// When it was set.
    pub updated_at: DateTime<Utc>,
    /// Who set it.
    pub updated_by: Caller,
}

impl Record for SettingRecord {
    const COLLECTION: &'static str = SETTINGS;
    fn collection() -> CollectionDef {
        CollectionDef::new(SETTINGS, [KeyKind::Str, KeyKind::Uuid])
    }
    fn id(&self) -> Tuple {
        (self.name.as_str(), self.structure).into()
    }
}

/// A setting's current value for a structure, and the version to pass back when changing it (0 when the
/// structure never set it and reads the default).
#[derive(Debug, Clone, PartialEq)]
pub struct SettingValue {
    /// The value.
    pub value: Value,
    /// The stored version, 0 for the default.
    pub version: u64,
}

pub(crate) async fn read_versioned(
    rt: &Runtime,
    tx: &mut dyn Transaction,
    name: &str,
    structure: StructureId,
) -> Result<SettingValue> {
    let entry = rt.registry.setting_entry(name)?;
    Ok(match tx.get_record::<SettingRecord>((name, structure)).await? {
        Some(stored) => SettingValue { value: stored.value.value, version: stored.version },
        None => SettingValue { value: entry.decl.default.clone(), version: 0 },
    })
}

pub(crate) async fn read(rt: &Runtime, tx: &mut dyn Transaction, name: &str, structure: StructureId) -> Result<Value> {
    Ok(read_versioned(rt, tx, name, structure).await?.value)
}

/// Checks that `caller` may change settings of `structure`: the right, and, for a person, that it is their
/// structure unless they are a central administrator.
pub(crate) async fn authorize_write(rt: &Runtime, caller: &Caller, structure: StructureId) -> Result<()> {
    rt.authorizer.authorize(&rt.registry, caller, SETTINGS_WRITE).await?;
    let allowed = match caller.structure() {
        Some(own) => own == structure || caller.has_profile(Profile::AdminCentral),
        None => true,
    };
    if allowed { Ok(()) } else { Err(Error::forbidden(SETTINGS_WRITE)) }
}

/// Sets a value in `tx`: validates it, checks the version, writes it and its audit entry. Returns the new
/// version.
pub(crate) async fn write(
    rt: &Runtime,
    tx: &mut dyn Transaction,
    caller: &Caller,
    structure: StructureId,
    name: &str,
    value: Value,
    expected_version: Option<u64>,
) -> Result<u64> {
    let entry = rt.registry.setting_entry(name)?;
    let violations = entry.check.violations(&value);
    if !violations.is_empty() {
        return Err(Error::InvalidSetting { setting: name.to_owned(), violations });
    }
    let current = tx.get_record::<SettingRecord>((name, structure)).await?;
    let found = current.as_ref().map_or(0, |c| c.version);
    if let Some(expected) = expected_version
        && expected != found
    {
        return Err(Error::Conflict {
            what: format!("setting {name} of structure {structure}"),
            expected: Some(expected),
            found: Some(found),
            retryable: false,
        });
    }
    let before = current.as_ref().map_or_else(|| entry.decl.default.clone(), |c| c.value.value.clone());
    let record = SettingRecord {
        name: name.to_owned(),
        structure,
        value: value.clone(),
        updated_at: rt.clock.now(),
        updated_by: caller.clone(),
    };
    let version = match current {
        Some(c) => tx.update_record(c.version, &record).await?,
        None => tx.insert_record(&record).await?,
    };
    let target = format!("{name}@{structure}");
    crate::audit::record(
        rt,
        tx,
        caller,
        "settings.set",
        &target,
        serde_json::json!({ "before": before, "after": value }),
    )
    .await?;
    Ok(version)
}
