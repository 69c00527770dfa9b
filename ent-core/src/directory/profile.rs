//! Profiles and functions: what a person is in a structure, and what they do there.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// A profile a person holds in a structure. One person may hold several, in several structures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Profile {
    /// Élève (`National_ELV`).
    Eleve,
    /// Responsable: a parent or another adult in charge of a pupil (`National_TUT`).
    Responsable,
    /// Enseignant (`National_ENS`).
    Enseignant,
    /// Direction: principal, proviseur and their deputies (`National_DIR`).
    Direction,
    /// Vie scolaire: CPE, assistants d'éducation, surveillants (`National_EVS`).
    VieScolaire,
    /// Administrative and technical staff (`National_ETA`).
    Administratif,
    /// Documentaliste (`National_DOC`).
    Documentaliste,
    /// Staff of the collectivité that runs the ENT (`National_COL`).
    Collectivite,
    /// Rectorat and inspection (`National_ACA`).
    Academie,
    /// A guest with a local account.
    Invite,
    /// An administrator of one structure.
    AdminLocal,
    /// An administrator of every structure.
    AdminCentral,
}

impl Profile {
    /// Every profile, in declaration order.
    pub const ALL: [Profile; 12] = [
        Profile::Eleve,
        Profile::Responsable,
        Profile::Enseignant,
        Profile::Direction,
        Profile::VieScolaire,
        Profile::Administratif,
        Profile::Documentaliste,
        Profile::Collectivite,
        Profile::Academie,
        Profile::Invite,
        Profile::AdminLocal,
        Profile::AdminCentral,
    ];

    /// The profile of a national code of the directory feed (`ENTPersonProfils`), e.g. `National_ELV`.
    ///
    /// ```
    /// use ent_core::directory::Profile;
    /// assert_eq!(Profile::from_national_code("National_TUT").unwrap(), Profile::Responsable);
    /// assert!(Profile::from_national_code("National_XYZ").is_err());
    /// ```
    pub fn from_national_code(code: &str) -> Result<Profile> {
        Ok(match code.trim() {
            "National_ELV" => Profile::Eleve,
            "National_TUT" => Profile::Responsable,
            "National_ENS" => Profile::Enseignant,
            "National_DIR" => Profile::Direction,
            "National_EVS" => Profile::VieScolaire,
            "National_ETA" => Profile::Administratif,
            "National_DOC" => Profile::Documentaliste,
            "National_COL" => Profile::Collectivite,
            "National_ACA" => Profile::Academie,
            other => return Err(Error::invalid("profile", format!("`{other}` is not a national profile code"))),
        })
    }

    /// The national code, for the profiles that have one.
    pub fn national_code(self) -> Option<&'static str> {
        Some(match self {
            Profile::Eleve => "National_ELV",
            Profile::Responsable => "National_TUT",
            Profile::Enseignant => "National_ENS",
            Profile::Direction => "National_DIR",
            Profile::VieScolaire => "National_EVS",
            Profile::Administratif => "National_ETA",
            Profile::Documentaliste => "National_DOC",
            Profile::Collectivite => "National_COL",
            Profile::Academie => "National_ACA",
            Profile::Invite | Profile::AdminLocal | Profile::AdminCentral => return None,
        })
    }

    /// The stable name used in storage, settings and manifests (`eleve`, `responsable`...).
    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Eleve => "eleve",
            Profile::Responsable => "responsable",
            Profile::Enseignant => "enseignant",
            Profile::Direction => "direction",
            Profile::VieScolaire => "vie_scolaire",
            Profile::Administratif => "administratif",
            Profile::Documentaliste => "documentaliste",
            Profile::Collectivite => "collectivite",
            Profile::Academie => "academie",
            Profile::Invite => "invite",
            Profile::AdminLocal => "admin_local",
            Profile::AdminCentral => "admin_central",
        }
    }

    /// Whether this is a staff profile of a structure (the profiles the messaging rules call "staff").
    pub fn is_staff(self) -> bool {
        matches!(self, Profile::Direction | Profile::VieScolaire | Profile::Administratif | Profile::Documentaliste)
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Profile {
    type Err = Error;
    fn from_str(s: &str) -> Result<Profile> {
        Profile::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .map_or_else(|| Profile::from_national_code(s), Ok)
            .map_err(|_| Error::invalid("profile", format!("`{s}` is not a profile")))
    }
}

/// A function a person holds in a structure, on top of a profile: rights depend on it too.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Function {
    /// Chef d'établissement (principal, proviseur, directeur d'école).
    ChefEtablissement,
    /// Deputy head (principal adjoint, proviseur adjoint).
    Adjoint,
    /// Conseiller principal d'éducation.
    Cpe,
    /// Assistant d'éducation, surveillant.
    AssistantEducation,
    /// Professeur principal of a class (the class is in the teaching assignment).
    ProfesseurPrincipal,
    /// Gestionnaire / adjoint gestionnaire.
    Gestionnaire,
    /// Secrétariat.
    Secretariat,
    /// Any other function, by its code in the feed (kept so that a right can be granted to it).
    Other(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_national_code_round_trips() {
        for p in Profile::ALL {
            if let Some(code) = p.national_code() {
                assert_eq!(Profile::from_national_code(code).unwrap(), p);
                assert_eq!(code.parse::<Profile>().unwrap(), p);
            }
            assert_eq!(p.as_str().parse::<Profile>().unwrap(), p);
            assert_eq!(serde_json::to_value(p).unwrap(), serde_json::json!(p.as_str()));
        }
    }
}
