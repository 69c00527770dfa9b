//! The full-text port on `tsvector`.

use ent_core::storage::Tuple;
use ent_core::storage::fulltext::FullText;
use ent_storage::postgres::PostgresStore;

use crate::common::fresh;

const MAIL: &str = "messagerie.messages";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_is_accent_and_case_insensitive_and_stays_in_its_partition() {
    let url = require_postgres!();
    let store = fresh(&url, "fts").await;
    let fts = store.full_text();
    let alice: Tuple = ("alice",).into();
    let bob: Tuple = ("bob",).into();
    fts.index(MAIL, &(1i64,).into(), &alice, "Le conseil de classe des Élèves de 3eA aura lieu jeudi").await.unwrap();
    fts.index(MAIL, &(2i64,).into(), &alice, "Sortie au musée: autorisation parentale").await.unwrap();
    fts.index(MAIL, &(3i64,).into(), &bob, "Conseil de classe: les élèves absents").await.unwrap();
    fts.index("actualites.news", &(4i64,).into(), &alice, "conseil d'administration").await.unwrap();

    assert_eq!(fts.search(MAIL, &alice, "eleves CONSEIL", 10).await.unwrap(), vec![Tuple::from((1i64,))]);
    assert_eq!(fts.search(MAIL, &bob, "élèves", 10).await.unwrap(), vec![Tuple::from((3i64,))]);
    assert_eq!(fts.search(MAIL, &alice, "mus*", 10).await.unwrap(), vec![Tuple::from((2i64,))]);
    assert!(fts.search(MAIL, &alice, "administration", 10).await.unwrap().is_empty());
    assert!(fts.search(MAIL, &alice, "\" OR * & | ! ( ) <-> :", 10).await.unwrap().is_empty());
    assert!(fts.search(MAIL, &alice, "", 10).await.unwrap().is_empty());

    // The best match first: the document that says "conseil" twice.
    fts.index(MAIL, &(5i64,).into(), &alice, "conseil, conseil et encore conseil de classe").await.unwrap();
    assert_eq!(fts.search(MAIL, &alice, "conseil", 10).await.unwrap()[0], Tuple::from((5i64,)));

    // Indexing again replaces; removing forgets.
    fts.index(MAIL, &(1i64,).into(), &alice, "Rien à voir").await.unwrap();
    assert_eq!(fts.search(MAIL, &alice, "conseil", 10).await.unwrap(), vec![Tuple::from((5i64,))]);
    assert!(fts.remove(MAIL, &(2i64,).into()).await.unwrap());
    assert!(!fts.remove(MAIL, &(2i64,).into()).await.unwrap());
    assert!(fts.search(MAIL, &alice, "musee", 10).await.unwrap().is_empty());

    // Another store on the same schema (another process) finds what was indexed.
    let again = PostgresStore::connect_with(&url, store.schema.options()).await.unwrap();
    assert_eq!(again.full_text().search(MAIL, &alice, "voir", 10).await.unwrap(), vec![Tuple::from((1i64,))]);
}
