//! The messages the HTTP layer shows to people, French first, with English: one entry per error code of
//! [`crate::error`]. ent-core has no message catalogue of its own (its errors are for developers), so the
//! shell's lives here; modules' own texts travel in their Fluent catalogues.

/// The French and English message of an error code; a generic message for a code without one.
pub fn message(code: &str) -> (&'static str, &'static str) {
    MESSAGES.iter().find(|(c, _, _)| *c == code).map_or(GENERIC, |(_, fr, en)| (*fr, *en))
}

/// Every code with its messages (the shell's catalogue; also what tests check for completeness).
pub const MESSAGES: &[(&str, &str, &str)] = &[
    (
        "not_found",
        "Cette page ou cet élément n'existe pas, ou plus.",
        "This page or item does not exist, or no longer does.",
    ),
    ("forbidden", "Vous n'avez pas le droit de faire cela.", "You are not allowed to do that."),
    (
        "conflict",
        "Quelqu'un a modifié cet élément entre-temps : rechargez la page.",
        "Someone changed this in the meantime: reload the page.",
    ),
    ("duplicate", "Cet élément existe déjà.", "This already exists."),
    ("invalid", "Une valeur saisie n'est pas valable.", "A value entered is not valid."),
    ("too_large", "C'est trop volumineux.", "This is too large."),
    ("invalid_cursor", "La pagination a expiré : rechargez la liste.", "The page marker expired: reload the list."),
    ("unknown_module", "Ce service n'existe pas sur ce portail.", "This service does not exist on this portal."),
    ("unknown_action", "Ce service ne propose pas cette opération.", "This service does not offer this operation."),
    ("unknown_right", "Ce droit n'existe pas.", "This right does not exist."),
    ("unknown_setting", "Ce paramètre n'existe pas.", "This setting does not exist."),
    ("malformed_json", "La requête est mal formée.", "The request is malformed."),
    ("invalid_input", "Certaines valeurs saisies ne sont pas valables.", "Some values entered are not valid."),
    ("invalid_setting", "Cette valeur de paramètre n'est pas valable.", "This setting value is not valid."),
    ("unauthenticated", "Identifiant, mot de passe ou code incorrect.", "Wrong login, password or code."),
    ("throttled", "Trop de tentatives : patientez avant de réessayer.", "Too many attempts: wait before trying again."),
    (
        "second_factor_required",
        "Saisissez le code de votre application d'authentification.",
        "Enter the code from your authenticator app.",
    ),
    (
        "account_disabled",
        "Ce compte est désactivé. Adressez-vous à votre établissement.",
        "This account is disabled. Ask your school.",
    ),
    ("session_expired", "Votre session a expiré : reconnectez-vous.", "Your session has expired: log in again."),
    ("not_logged_in", "Connectez-vous pour continuer.", "Log in to continue."),
    (
        "csrf",
        "La requête a été refusée par sécurité : rechargez la page.",
        "The request was refused for security: reload the page.",
    ),
    (
        "enroll_second_factor",
        "Activez d'abord la double authentification de votre compte.",
        "First turn on two-step verification for your account.",
    ),
    ("bad_request", "La requête est mal formée.", "The request is malformed."),
    ("no_route", "Cette adresse n'existe pas.", "This address does not exist."),
    (
        "method_not_allowed",
        "Cette opération n'est pas permise à cette adresse.",
        "This operation is not allowed at this address.",
    ),
    (
        "password_too_short",
        "Le mot de passe est trop court (8 caractères au moins).",
        "The password is too short (at least 8 characters).",
    ),
    (
        "password_too_long",
        "Le mot de passe est trop long (256 caractères au plus).",
        "The password is too long (at most 256 characters).",
    ),
    (
        "password_common",
        "Ce mot de passe est trop courant ou reprend votre nom.",
        "This password is too common or contains your name.",
    ),
    (
        "password_too_weak",
        "Ce mot de passe est trop facile à deviner : allongez-le, par exemple avec une phrase.",
        "This password is too easy to guess: make it longer, for example a sentence.",
    ),
    (
        "unavailable",
        "Le service est momentanément indisponible : réessayez dans un instant.",
        "The service is briefly unavailable: try again in a moment.",
    ),
    (
        "internal",
        "Une erreur inattendue s'est produite. Elle a été signalée.",
        "An unexpected error occurred. It has been reported.",
    ),
];

const GENERIC: (&str, &str) = ("Une erreur s'est produite.", "An error occurred.");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_both_languages_once() {
        let mut seen = std::collections::HashSet::new();
        for (code, fr, en) in MESSAGES {
            assert!(seen.insert(code), "{code} twice");
            assert!(!fr.is_empty() && !en.is_empty(), "{code}");
        }
        assert_eq!(message("session_expired").0, "Votre session a expiré : reconnectez-vous.");
        assert_eq!(message("no-such-code"), GENERIC);
    }
}
