//! The national codes the AAF uses, and what they mean here. Sources are cited in `docs/import.md`.

use ent_core::directory::{Contract, Function, Profile, StructureKind};

/// `ENTStructureTypeStruct`: the ministry's short type of a structure (`CLG`, `LYC`, `LP`...).
pub(crate) fn structure_kind(code: &str) -> StructureKind {
    let c = code.trim().to_ascii_uppercase();
    let starts = |p: &str| c == p || c.starts_with(&format!("{p} "));
    if starts("CLG") || c.contains("COLLEGE") {
        StructureKind::College
    } else if starts("LP") || starts("SEP") || c.contains("PROFESSIONNEL") {
        StructureKind::LyceeProfessionnel
    } else if starts("LYC") || starts("LPO") || starts("LGT") || starts("LEGT") || c.contains("LYCEE") {
        StructureKind::Lycee
    } else if starts("ECOLE") || starts("EE") || starts("EM") || starts("EP") || c.contains("ECOLE") {
        StructureKind::Ecole
    } else {
        StructureKind::Autre
    }
}

/// The type code ent writes for a kind.
pub(crate) fn structure_type_code(kind: StructureKind) -> &'static str {
    match kind {
        StructureKind::College => "CLG",
        StructureKind::Lycee => "LYC",
        StructureKind::LyceeProfessionnel => "LP",
        StructureKind::Ecole => "ECOLE",
        _ => "EREA",
    }
}

/// `ENTEtablissementContrat`: `PU` public; `CA` (contrat d'association), `CS` (contrat simple) and the
/// other "sous contrat" codes; `HC` hors contrat.
pub(crate) fn contract(code: &str) -> Result<Contract, String> {
    match code.trim().to_ascii_uppercase().as_str() {
        "" | "PU" => Ok(Contract::Public),
        "CA" | "CS" | "CC" | "PS" | "LS" => Ok(Contract::PriveSousContrat),
        "HC" | "PH" => Ok(Contract::PriveHorsContrat),
        other => Err(format!("unknown ENTEtablissementContrat `{other}`")),
    }
}

/// The contract code ent writes.
pub(crate) fn contract_code(contract: Contract) -> &'static str {
    match contract {
        Contract::Public => "PU",
        Contract::PriveSousContrat => "CA",
        Contract::PriveHorsContrat => "HC",
    }
}

/// The time zone of an académie (`ENTServAcAcademie`): the overseas ones have their own.
pub(crate) fn time_zone(academie: &str) -> &'static str {
    let a = ent_core::directory::names::fold(academie);
    let has = |s: &str| a.contains(s);
    if has("reunion") {
        "Indian/Reunion"
    } else if has("mayotte") {
        "Indian/Mayotte"
    } else if has("martinique") {
        "America/Martinique"
    } else if has("guadeloupe") {
        "America/Guadeloupe"
    } else if has("guyane") {
        "America/Cayenne"
    } else if has("caledonie") {
        "Pacific/Noumea"
    } else if has("polynesie") {
        "Pacific/Tahiti"
    } else if has("wallis") {
        "Pacific/Wallis"
    } else if has("pierre") {
        "America/Miquelon"
    } else {
        "Europe/Paris"
    }
}

/// The profile of a function code of `ENTPersonFonctions` (`structure$code$label$discipline$label`); `-`
/// means no function.
pub(crate) fn function_profile(code: &str) -> Option<Profile> {
    Some(match code.trim() {
        "" | "-" => return None,
        "ENS" => Profile::Enseignant,
        "DOC" => Profile::Documentaliste,
        "DIR" => Profile::Direction,
        "EDU" | "AED" | "SUR" => Profile::VieScolaire,
        "ACA" | "INS" => Profile::Academie,
        _ => Profile::Administratif,
    })
}

/// The functions a function value names, from its code and its discipline's label.
pub(crate) fn functions_of(code: &str, discipline: &str) -> Vec<Function> {
    let d = ent_core::directory::names::fold(discipline);
    let f = match code.trim() {
        "ENS" | "DOC" | "" | "-" => return vec![],
        "DIR" if d.contains("adjoint") => Function::Adjoint,
        "DIR" => Function::ChefEtablissement,
        "EDU" | "AED" | "SUR" if d.contains("assistant") || d.contains("surveill") => Function::AssistantEducation,
        "EDU" if d.contains("cpe") || d.contains("conseiller principal") => Function::Cpe,
        "AED" | "SUR" => Function::AssistantEducation,
        "ADF" if d.contains("gestion") => Function::Gestionnaire,
        "ADF" if d.contains("secretar") => Function::Secretariat,
        other => Function::Other(other.to_owned()),
    };
    vec![f]
}

/// The `ENTPersonFonctions` value ent writes for a profile and its function in a structure.
pub(crate) fn function_value(structure: &str, profile: Profile, function: Option<&Function>) -> String {
    let (code, label, discipline) = match (profile, function) {
        (Profile::Direction, Some(Function::Adjoint)) => ("DIR", "DIRECTION", "ADJOINT"),
        (Profile::Direction, _) => ("DIR", "DIRECTION", "CHEF D'ETABLISSEMENT"),
        (Profile::VieScolaire, Some(Function::AssistantEducation)) => ("AED", "EDUCATION", "ASSISTANT D'EDUCATION"),
        (Profile::VieScolaire, _) => ("EDU", "EDUCATION", "CPE"),
        (Profile::Documentaliste, _) => ("DOC", "DOCUMENTATION", "DOCUMENTATION"),
        (Profile::Administratif, Some(Function::Gestionnaire)) => ("ADF", "ADMINISTRATION", "GESTIONNAIRE"),
        (Profile::Administratif, Some(Function::Secretariat)) => ("ADF", "ADMINISTRATION", "SECRETARIAT"),
        (Profile::Administratif, _) => ("ADF", "ADMINISTRATION", "-"),
        (Profile::Academie, _) => ("ACA", "ACADEMIE", "-"),
        _ => ("ENS", "ENSEIGNEMENT", "-"),
    };
    format!("{structure}${code}${label}$-${discipline}")
}

/// A yes/no attribute (`ENTEleveMajeur`, `PersEducNatPresenceDevantEleves`): `O`/`N`.
pub(crate) fn yes_no(value: &str) -> Result<bool, String> {
    match value.trim().to_ascii_uppercase().as_str() {
        "O" | "OUI" | "1" | "Y" | "TRUE" => Ok(true),
        "N" | "NON" | "0" | "FALSE" | "" => Ok(false),
        other => Err(format!("`{other}` is neither O nor N")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_functions_read_back() {
        for (p, f) in [
            (Profile::Direction, Some(Function::ChefEtablissement)),
            (Profile::Direction, Some(Function::Adjoint)),
            (Profile::VieScolaire, Some(Function::Cpe)),
            (Profile::VieScolaire, Some(Function::AssistantEducation)),
            (Profile::Administratif, Some(Function::Gestionnaire)),
            (Profile::Administratif, Some(Function::Secretariat)),
        ] {
            let v = function_value("S", p, f.as_ref());
            let parts: Vec<&str> = v.split('$').collect();
            assert_eq!(function_profile(parts[1]), Some(p), "{v}");
            assert_eq!(functions_of(parts[1], parts[4]), f.into_iter().collect::<Vec<_>>(), "{v}");
        }
        assert_eq!(structure_kind("CLG"), StructureKind::College);
        assert_eq!(structure_kind("LP"), StructureKind::LyceeProfessionnel);
        assert_eq!(time_zone("LA REUNION"), "Indian/Reunion");
    }
}
