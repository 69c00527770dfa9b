//! `guestbook manifest` prints the module's manifest as JSON; `guestbook demo` assembles it over the memory
//! store and calls it typed and through JSON.

use std::io::Write;
use std::sync::Arc;

use ent::core::directory::Profile;
use ent::core::module::ServiceModule;
use ent::core::{Caller, Ent, StructureId, UserId};
use ent::storage::memory::MemoryStore;
use guestbook::{Guestbook, ListInput};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut out = std::io::stdout().lock();
    match std::env::args().nth(1).as_deref() {
        Some("manifest") => writeln!(out, "{}", Guestbook.manifest().to_json_pretty())?,
        Some("demo") => {
            let ent = Ent::builder(Arc::new(MemoryStore::new())).module(Guestbook).build().await?;
            let pupil = Caller::user(UserId::new(), StructureId::new(), [Profile::Eleve]);
            let signed = Guestbook::sign(&ent, &pupil, "Bonjour !").await?;
            writeln!(out, "typed:  signed {}", signed.id)?;
            let json = ent.call(&pupil, "guestbook.sign", r#"{"message": "Salut"}"#).await?;
            writeln!(out, "json:   {json}")?;
            let report = ent.run_pending_events().await?;
            writeln!(out, "events: {} delivered", report.delivered)?;
            let list = Guestbook::list(&ent, &pupil, ListInput { limit: 10 }).await?;
            writeln!(out, "list:   {} signatures, total {}", list.signatures.len(), list.total)?;
        }
        _ => {
            writeln!(std::io::stderr(), "usage: guestbook manifest | guestbook demo")?;
            std::process::exit(2);
        }
    }
    Ok(())
}
