//! What administrators store: roles (named bundles of rights), grants of roles to profiles, functions,
//! groups, classes or users within a structure, and withdrawals of a manifest's default grant in a
//! structure. Collections `ent.rights.roles`, `ent.rights.grants`, `ent.rights.withdrawals`.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::caller::Caller;
use crate::directory::{Function, Profile};
use crate::storage::{CollectionDef, IndexDef, IndexEntry, KeyKind, Record, Tuple};
use crate::{ClassId, Error, GroupId, Result, RoleId, StructureId, UserId};

/// A named bundle of workflow rights, defined for one structure or, by a central administrator, for all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Role {
    /// Its id.
    pub id: RoleId,
    /// The structure it belongs to; `None` for a role every structure may grant.
    pub structure: Option<StructureId>,
    /// Its name, unique within its structure (or among ent-wide roles).
    pub name: String,
    /// For administrators.
    #[serde(default)]
    pub description: String,
    /// The rights it bundles: each declared by a module when the role was made.
    pub rights: Vec<String>,
}

impl Role {
    fn owner(&self) -> uuid::Uuid {
        self.structure.map_or(uuid::Uuid::nil(), |s| s.0)
    }
}

impl Record for Role {
    const COLLECTION: &'static str = "ent.rights.roles";
    fn collection() -> CollectionDef {
        CollectionDef::new(Self::COLLECTION, [KeyKind::Uuid])
            // (structure or nil for ent-wide, name).
            .index(IndexDef::new("by_name", [KeyKind::Uuid, KeyKind::Str]).unique())
    }
    fn id(&self) -> Tuple {
        self.id.into()
    }
    fn index_entries(&self) -> Vec<IndexEntry> {
        vec![IndexEntry { index: "by_name".into(), key: (self.owner(), self.name.as_str()).into() }]
    }
}

/// Who a grant is for, within its structure.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Grantee {
    /// Everyone holding this profile in the structure.
    Profile(Profile),
    /// Everyone holding this function in the structure (professeur principal, CPE...).
    Function(Function),
    /// The members of a group (for the current school year).
    Group(GroupId),
    /// The members of a class (for the current school year).
    Class(ClassId),
    /// One person.
    User(UserId),
}

/// The stable text of a function, for keys and for [`Grantee`]'s text form.
pub fn function_key(f: &Function) -> String {
    match f {
        Function::ChefEtablissement => "chef_etablissement".into(),
        Function::Adjoint => "adjoint".into(),
        Function::Cpe => "cpe".into(),
        Function::AssistantEducation => "assistant_education".into(),
        Function::ProfesseurPrincipal => "professeur_principal".into(),
        Function::Gestionnaire => "gestionnaire".into(),
        Function::Secretariat => "secretariat".into(),
        Function::Other(code) => format!("other:{code}"),
    }
}

fn parse_function(s: &str) -> Result<Function> {
    Ok(match s {
        "chef_etablissement" => Function::ChefEtablissement,
        "adjoint" => Function::Adjoint,
        "cpe" => Function::Cpe,
        "assistant_education" => Function::AssistantEducation,
        "professeur_principal" => Function::ProfesseurPrincipal,
        "gestionnaire" => Function::Gestionnaire,
        "secretariat" => Function::Secretariat,
        other => match other.strip_prefix("other:") {
            Some(code) if !code.is_empty() => Function::Other(code.to_owned()),
            _ => return Err(Error::invalid("grantee.function", format!("`{other}` is not a function"))),
        },
    })
}

impl Grantee {
    /// The kind and key this grantee is stored under (`("profile", "enseignant")`, `("user", "<uuid>")`).
    pub fn key(&self) -> (&'static str, String) {
        match self {
            Grantee::Profile(p) => ("profile", p.as_str().to_owned()),
            Grantee::Function(f) => ("function", function_key(f)),
            Grantee::Group(g) => ("group", g.to_string()),
            Grantee::Class(c) => ("class", c.to_string()),
            Grantee::User(u) => ("user", u.to_string()),
        }
    }
}

impl fmt::Display for Grantee {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (kind, key) = self.key();
        write!(f, "{kind}:{key}")
    }
}

/// Parses `kind:key` (`profile:enseignant`, `function:cpe`, `group:<uuid>`, `class:<uuid>`,
/// `user:<uuid>`), as the HTTP layer receives it.
///
/// ```
/// use ent_core::rights::Grantee;
/// use ent_core::directory::Profile;
/// assert_eq!("profile:enseignant".parse::<Grantee>().unwrap(), Grantee::Profile(Profile::Enseignant));
/// assert!("profile:astronaute".parse::<Grantee>().is_err());
/// ```
impl FromStr for Grantee {
    type Err = Error;
    fn from_str(s: &str) -> Result<Grantee> {
        let Some((kind, key)) = s.split_once(':') else {
            return Err(Error::invalid("grantee", format!("`{s}` is not `kind:key`")));
        };
        Ok(match kind {
            "profile" => Grantee::Profile(
                Profile::ALL
                    .into_iter()
                    .find(|p| p.as_str() == key)
                    .ok_or_else(|| Error::invalid("grantee.profile", format!("`{key}` is not a profile")))?,
            ),
            "function" => Grantee::Function(parse_function(key)?),
            "group" => Grantee::Group(key.parse()?),
            "class" => Grantee::Class(key.parse()?),
            "user" => Grantee::User(key.parse()?),
            other => return Err(Error::invalid("grantee", format!("`{other}` is not a kind of grantee"))),
        })
    }
}

/// A role granted within a structure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Grant {
    /// The structure it applies in.
    pub structure: StructureId,
    /// The role.
    pub role: RoleId,
    /// Who holds it there.
    pub grantee: Grantee,
    /// Who granted it.
    pub granted_by: Caller,
    /// When.
    pub at: DateTime<Utc>,
}

impl Record for Grant {
    const COLLECTION: &'static str = "ent.rights.grants";
    /// Keyed `(structure, role, grantee kind, grantee key)`: a structure's grants are one prefix scan.
    fn collection() -> CollectionDef {
        CollectionDef::new(Self::COLLECTION, [KeyKind::Uuid, KeyKind::Uuid, KeyKind::Str, KeyKind::Str])
            .index(IndexDef::new("by_grantee", [KeyKind::Str, KeyKind::Str, KeyKind::Uuid]))
            .index(IndexDef::new("by_role", [KeyKind::Uuid, KeyKind::Uuid]))
    }
    fn id(&self) -> Tuple {
        let (kind, key) = self.grantee.key();
        (self.structure.0, self.role.0, kind, key.as_str()).into()
    }
    fn index_entries(&self) -> Vec<IndexEntry> {
        let (kind, key) = self.grantee.key();
        vec![
            IndexEntry { index: "by_grantee".into(), key: (kind, key.as_str(), self.structure.0).into() },
            IndexEntry { index: "by_role".into(), key: (self.role.0, self.structure.0).into() },
        ]
    }
}

/// A manifest's default grant of `right` to `profile`, withdrawn in one structure (messaging for pupils,
/// say).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Withdrawal {
    /// The structure.
    pub structure: StructureId,
    /// The right.
    pub right: String,
    /// The profile that no longer holds it there by default.
    pub profile: Profile,
    /// Who withdrew it.
    pub by: Caller,
    /// When.
    pub at: DateTime<Utc>,
}

impl Record for Withdrawal {
    const COLLECTION: &'static str = "ent.rights.withdrawals";
    /// Keyed `(structure, right, profile)`.
    fn collection() -> CollectionDef {
        CollectionDef::new(Self::COLLECTION, [KeyKind::Uuid, KeyKind::Str, KeyKind::Str])
    }
    fn id(&self) -> Tuple {
        (self.structure.0, self.right.as_str(), self.profile.as_str()).into()
    }
}

/// The declarations of the rights collections (versions and shares included).
pub fn collections() -> Vec<CollectionDef> {
    vec![
        Role::collection(),
        Grant::collection(),
        Withdrawal::collection(),
        super::version::collection(),
        <super::share::Share as Record>::collection(),
    ]
}
