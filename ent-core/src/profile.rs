//! Profiles: what a person is in a structure (élève, parent, enseignant...). A user may hold several
//! profiles, per structure. Modules grant their rights to profiles by default in their manifest.

use serde::{Deserialize, Serialize};

/// A profile a user holds in a structure.
///
/// ```
/// use ent_core::profile::Profile;
/// assert_eq!(serde_json::to_string(&Profile::Enseignant).unwrap(), r#""enseignant""#);
/// assert_eq!(Profile::ALL.len(), 7);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Profile {
    /// A pupil.
    Eleve,
    /// A legal guardian (responsable légal).
    Parent,
    /// A teacher.
    Enseignant,
    /// Staff: direction, vie scolaire, documentaliste, administratif.
    Personnel,
    /// A guest.
    Invite,
    /// An administrator of one structure.
    AdminLocal,
    /// An administrator of every structure.
    AdminCentral,
}

impl Profile {
    /// Every profile.
    pub const ALL: [Profile; 7] = [
        Profile::Eleve,
        Profile::Parent,
        Profile::Enseignant,
        Profile::Personnel,
        Profile::Invite,
        Profile::AdminLocal,
        Profile::AdminCentral,
    ];
}
