//! The messagerie's web page and home widget (the module UI contract of `docs/web-ui.md`): a mail client
//! (folders, inbox with unread counts, reading, threads, compose with the preview of excluded recipients,
//! reply and forward, trash, search) built on the module's actions alone, and the home widget (unread count
//! and the last messages). The components are plain ES modules in `web/`, compiled into the binary.

use std::borrow::Cow;

use ent_core::module::Manifest;

/// The files of the page, as the manifest declares them.
const ASSETS: [(&str, &str, &[u8]); 2] = [
    ("web/messagerie.js", "text/javascript", include_bytes!("web/messagerie.js")),
    ("web/messagerie.css", "text/css", include_bytes!("web/messagerie.css")),
];

/// Adds the page, its navigation entry, the home widget and the assets to the module's manifest.
pub(super) fn declare(mut m: Manifest) -> Manifest {
    for (path, media, _) in ASSETS {
        m = m.asset(path, media);
    }
    m.page("messagerie.mail", "messagerie-page", "web/messagerie.js")
        .nav("messagerie.mail", "Messagerie", "Mail", [])
        .widget("messagerie.latest", "messagerie-latest", "web/messagerie.js", ("Messagerie", "Mail"), [])
}

/// The bytes of a declared web asset.
pub(super) fn asset(path: &str) -> Option<Cow<'static, [u8]>> {
    ASSETS.iter().find(|(p, _, _)| *p == path).map(|(_, _, bytes)| Cow::Borrowed(*bytes))
}
