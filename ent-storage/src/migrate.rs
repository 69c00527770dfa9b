//! Moving a whole ENT from SQLite to PostgreSQL (`ent migrate`): every collection's records with their
//! versions, index entries, counters, blobs stored in the database, jobs and the outbox (which are
//! collections), and the declarations, in one PostgreSQL transaction.
//!
//! The copy works below the port, table to table, since the port cannot write a record at a given version
//! or an index entry without its owner's code. The SQLite file is read in one read transaction (a
//! consistent snapshot, even if an ENT still writes to it); the target must be empty. Before committing,
//! the copy is verified inside the PostgreSQL transaction: for each collection, the number of records and a
//! SHA-256 over `(id, version, schema version, record as canonical JSON)` in key order; for each index, the
//! number of entries and a SHA-256 over `(key, id)`; counters by value; every blob by re-hashing its bytes.
//! Any difference rolls the whole copy back: the target is left as it was.
//!
//! The full-text index is not copied: SQLite's is contentless (the text lives in its owners' records), so
//! the owners index their documents again (the report says how many were indexed).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use ent_core::{Error, Result};
use rusqlite::OpenFlags;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::postgres::PostgresStore;
use crate::sqlite::SqliteStore;

/// What a migration copied and verified.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MigrationReport {
    /// Collections declared.
    pub collections: u64,
    /// Records copied (jobs and outbox entries included).
    pub records: u64,
    /// Index entries copied.
    pub index_entries: u64,
    /// Counters copied.
    pub counters: u64,
    /// Blobs copied.
    pub blobs: u64,
    /// Their bytes.
    pub blob_bytes: u64,
    /// Documents of SQLite's full-text index, which their owners must index again.
    pub fulltext_documents: u64,
    /// The SHA-256 of every verified checksum, the same on both sides.
    pub checksum: String,
}

fn sqlite_error(doing: &str, e: &rusqlite::Error) -> Error {
    Error::storage("sqlite", format!("{doing}: {e}"), false)
}

/// The checksums of one side, by what they cover.
type Sums = BTreeMap<String, (u64, [u8; 32])>;

/// Canonical JSON: object keys sorted at every level (PostgreSQL's `jsonb` reorders them), numbers as
/// `serde_json` reads them.
fn canonical(text: &str) -> Result<String> {
    fn sort(v: Value) -> Value {
        match v {
            Value::Object(map) => {
                let sorted: BTreeMap<String, Value> = map.into_iter().map(|(k, v)| (k, sort(v))).collect();
                let mut out = serde_json::Map::new();
                for (k, v) in sorted {
                    out.insert(k, v);
                }
                Value::Object(out)
            }
            Value::Array(items) => Value::Array(items.into_iter().map(sort).collect()),
            other => other,
        }
    }
    let value: Value = serde_json::from_str(text).map_err(|e| Error::serialization("a record", e))?;
    let value = sort(value);
    // With serde_json's `preserve_order` (enabled by some crates), insertion order is kept: sorted above.
    serde_json::to_string(&value).map_err(|e| Error::serialization("a record", e))
}

fn feed(sums: &mut BTreeMap<String, (u64, Sha256)>, what: &str, parts: &[&[u8]]) {
    let slot = sums.entry(what.to_owned()).or_insert_with(|| (0, Sha256::new()));
    slot.0 += 1;
    for part in parts {
        slot.1.update((part.len() as u64).to_be_bytes());
        slot.1.update(part);
    }
}

fn finish(sums: BTreeMap<String, (u64, Sha256)>) -> Sums {
    sums.into_iter().map(|(k, (n, h))| (k, (n, h.finalize().into()))).collect()
}

/// Decodes SQLite's entry list (per entry: xid, key length, key).
fn decode_entries(mut bytes: &[u8]) -> Result<Vec<(i64, Vec<u8>)>> {
    let corrupt = || Error::storage("sqlite", "corrupted index entry list in ent_record", false);
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let (xid, rest) = bytes.split_at_checked(8).ok_or_else(corrupt)?;
        let (len, rest) = rest.split_at_checked(4).ok_or_else(corrupt)?;
        let len = u32::from_be_bytes(len.try_into().map_err(|_| corrupt())?) as usize;
        let (key, rest) = rest.split_at_checked(len).ok_or_else(corrupt)?;
        out.push((i64::from_be_bytes(xid.try_into().map_err(|_| corrupt())?), key.to_vec()));
        bytes = rest;
    }
    Ok(out)
}

/// Copies the SQLite database at `from` into `to`, which must be empty, and verifies the copy.
///
/// Fails with [`Error::Invalid`] (field `target`) if `to` holds anything, and with [`Error::Storage`] if
/// the copy and the source differ; in both cases the target is left as it was.
pub async fn sqlite_to_postgres(from: &Path, to: &PostgresStore) -> Result<MigrationReport> {
    // Opening checks that the file is an ent database and brings its layout to the current version.
    drop(SqliteStore::open(from)?);
    let conn = rusqlite::Connection::open_with_flags(from, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| sqlite_error("opening the source", &e))?;
    conn.execute_batch("BEGIN").map_err(|e| sqlite_error("reading the source", &e))?;
    let read = |e: rusqlite::Error| sqlite_error("reading the source", &e);

    let collections: Vec<(i64, String, String)> = conn
        .prepare("SELECT cid, name, def FROM ent_collection ORDER BY cid")
        .and_then(|mut s| s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect())
        .map_err(read)?;
    let indexes: Vec<(i64, i64, String, bool)> = conn
        .prepare("SELECT xid, cid, name, is_unique FROM ent_index ORDER BY xid")
        .and_then(|mut s| s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?.collect())
        .map_err(read)?;
    let fulltext_documents: i64 = conn.query_row("SELECT count(*) FROM ent_fts_doc", [], |r| r.get(0)).map_err(read)?;

    let shared = to.shared.clone();
    shared
        .with_conn(async move |pg| {
            let client = &pg.client;
            client
                .batch_execute("BEGIN ISOLATION LEVEL SERIALIZABLE")
                .await
                .map_err(|e| crate::postgres::map_error("starting the copy", &e))?;
            let result = copy(&conn, client, &collections, &indexes, fulltext_documents as u64).await;
            let end = if result.is_ok() { "COMMIT" } else { "ROLLBACK" };
            let ended = client.batch_execute(end).await;
            let report = result?;
            ended.map_err(|e| crate::postgres::map_error("committing the copy", &e))?;
            Ok(report)
        })
        .await
}

async fn copy(
    conn: &rusqlite::Connection,
    client: &tokio_postgres::Client,
    collections: &[(i64, String, String)],
    indexes: &[(i64, i64, String, bool)],
    fulltext_documents: u64,
) -> Result<MigrationReport> {
    let pg = |doing: &'static str| move |e: tokio_postgres::Error| crate::postgres::map_error(doing, &e);
    let read = |e: rusqlite::Error| sqlite_error("reading the source", &e);
    // The target must be empty.
    let row = client
        .query_one(
            "SELECT (SELECT count(*) FROM ent_collection), (SELECT count(*) FROM ent_record), \
             (SELECT count(*) FROM ent_counter), (SELECT count(*) FROM ent_blob)",
            &[],
        )
        .await
        .map_err(pg("checking the target"))?;
    let (c, r, k, b): (i64, i64, i64, i64) = (row.get(0), row.get(1), row.get(2), row.get(3));
    if c + r + k + b > 0 {
        return Err(Error::invalid(
            "target",
            format!(
                "the PostgreSQL database is not empty ({c} collections, {r} records, {k} counters, {b} blobs); \
                 migrate into an empty database or schema / la base PostgreSQL cible n'est pas vide"
            ),
        ));
    }
    let mut report = MigrationReport { fulltext_documents, ..MigrationReport::default() };
    // Declarations, with new ids.
    let mut cids: HashMap<i64, (i64, String)> = HashMap::new();
    for (cid, name, def) in collections {
        let new: i64 = client
            .query_one("INSERT INTO ent_collection (name, def) VALUES ($1, $2) RETURNING cid", &[name, def])
            .await
            .map_err(pg("copying a declaration"))?
            .get(0);
        cids.insert(*cid, (new, name.clone()));
        report.collections += 1;
    }
    let mut xids: HashMap<i64, (i64, bool, String)> = HashMap::new();
    for (xid, cid, name, unique) in indexes {
        let Some((new_cid, collection)) = cids.get(cid) else { continue };
        let new: i64 = client
            .query_one(
                "INSERT INTO ent_index (cid, name, is_unique) VALUES ($1, $2, $3) RETURNING xid",
                &[new_cid, name, unique],
            )
            .await
            .map_err(pg("copying a declaration"))?
            .get(0);
        xids.insert(*xid, (new, *unique, format!("{collection}.{name}")));
    }
    client
        .execute("UPDATE ent_meta SET value = '1' WHERE key = 'catalog_generation'", &[])
        .await
        .map_err(pg("copying the catalog"))?;

    let mut source: BTreeMap<String, (u64, Sha256)> = BTreeMap::new();
    // Records, in batches, in key order per collection.
    let insert = client
        .prepare(
            "INSERT INTO ent_record (cid, id, version, schema_version, data, data_json, entry_xids, entry_keys) \
             SELECT $1, r.id, r.v, r.sv, r.data::jsonb, r.data_json::json, \
                    coalesce((SELECT array_agg(x) FROM unnest(string_to_array(r.xs, ',')::bigint[]) AS x), '{}'), \
                    '{}'::bytea[] \
             FROM unnest($2::bytea[], $3::bigint[], $4::int[], $5::text[], $6::text[], $7::text[]) \
                  AS r(id, v, sv, data, data_json, xs)",
        )
        .await
        .map_err(pg("copying records"))?;
    let set_keys = client
        .prepare(
            "UPDATE ent_record r SET entry_keys = u.keys FROM \
             (SELECT id, array_agg(k ORDER BY ord) AS keys FROM unnest($2::bytea[], $3::bytea[]) WITH ORDINALITY \
              AS e(id, k, ord) GROUP BY id) AS u WHERE r.cid = $1 AND r.id = u.id",
        )
        .await
        .map_err(pg("copying records"))?;
    for (old_cid, (cid, name)) in &cids {
        let mut stmt = conn
            .prepare("SELECT id, version, schema_version, data, entries FROM ent_record WHERE cid = ?1 ORDER BY id")
            .map_err(read)?;
        let mut rows = stmt.query([old_cid]).map_err(read)?;
        let mut batch = RecordBatch::default();
        while let Some(row) = rows.next().map_err(read)? {
            let id: Vec<u8> = row.get(0).map_err(read)?;
            let version: i64 = row.get(1).map_err(read)?;
            let schema_version: i64 = row.get(2).map_err(read)?;
            let data: String = row.get(3).map_err(read)?;
            let entries = decode_entries(&row.get::<_, Vec<u8>>(4).map_err(read)?)?;
            let canon = canonical(&data)?;
            feed(
                &mut source,
                &format!("records {name}"),
                &[&id, &version.to_be_bytes(), &schema_version.to_be_bytes(), canon.as_bytes()],
            );
            let mapped: Vec<(i64, Vec<u8>)> =
                entries.into_iter().filter_map(|(x, k)| xids.get(&x).map(|(nx, _, _)| (*nx, k))).collect();
            batch.push(id, version, schema_version as i32, &data, mapped);
            if batch.ids.len() == 1000 {
                report.records += batch.flush(client, &insert, &set_keys, *cid).await?;
            }
        }
        report.records += batch.flush(client, &insert, &set_keys, *cid).await?;
    }
    // Index entries.
    for table in ["ent_entry", "ent_unique_entry"] {
        let mut stmt =
            conn.prepare(&format!("SELECT xid, key, id FROM {table} ORDER BY xid, key, id")).map_err(read)?;
        let mut rows = stmt.query([]).map_err(read)?;
        let (mut xs, mut ks, mut is) = (Vec::new(), Vec::new(), Vec::new());
        let sql =
            format!("INSERT INTO {table} (xid, key, id) SELECT * FROM unnest($1::bigint[], $2::bytea[], $3::bytea[])");
        while let Some(row) = rows.next().map_err(read)? {
            let xid: i64 = row.get(0).map_err(read)?;
            let Some((new, _, name)) = xids.get(&xid) else { continue };
            let (key, id): (Vec<u8>, Vec<u8>) = (row.get(1).map_err(read)?, row.get(2).map_err(read)?);
            feed(&mut source, &format!("index {name}"), &[&key, &id]);
            xs.push(*new);
            ks.push(key);
            is.push(id);
            if xs.len() == 5000 {
                client.execute(&sql, &[&xs, &ks, &is]).await.map_err(pg("copying index entries"))?;
                report.index_entries += xs.len() as u64;
                (xs, ks, is) = (Vec::new(), Vec::new(), Vec::new());
            }
        }
        client.execute(&sql, &[&xs, &ks, &is]).await.map_err(pg("copying index entries"))?;
        report.index_entries += xs.len() as u64;
    }
    // Counters.
    {
        let mut stmt = conn.prepare("SELECT cid, key, value FROM ent_counter ORDER BY cid, key").map_err(read)?;
        let mut rows = stmt.query([]).map_err(read)?;
        let (mut cs, mut ks, mut vs) = (Vec::new(), Vec::new(), Vec::new());
        while let Some(row) = rows.next().map_err(read)? {
            let cid: i64 = row.get(0).map_err(read)?;
            let Some((new, name)) = cids.get(&cid) else { continue };
            let (key, value): (Vec<u8>, i64) = (row.get(1).map_err(read)?, row.get(2).map_err(read)?);
            feed(&mut source, &format!("counters {name}"), &[&key, &value.to_be_bytes()]);
            cs.push(*new);
            ks.push(key);
            vs.push(value);
        }
        client
            .execute(
                "INSERT INTO ent_counter (cid, key, value) SELECT * FROM unnest($1::bigint[], $2::bytea[], $3::bigint[])",
                &[&cs, &ks, &vs],
            )
            .await
            .map_err(pg("copying counters"))?;
        report.counters = cs.len() as u64;
    }
    // Blobs, chunk by chunk.
    {
        let blobs: Vec<(Vec<u8>, i64, i64)> = conn
            .prepare("SELECT id, size, created FROM ent_blob ORDER BY id")
            .and_then(|mut s| s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect())
            .map_err(read)?;
        for (id, size, created) in blobs {
            feed(&mut source, "blobs", &[&id, &size.to_be_bytes()]);
            client
                .execute("INSERT INTO ent_blob (id, size, created) VALUES ($1, $2, $3)", &[&id, &size, &created])
                .await
                .map_err(pg("copying blobs"))?;
            let mut stmt =
                conn.prepare("SELECT seq, bytes FROM ent_blob_chunk WHERE id = ?1 ORDER BY seq").map_err(read)?;
            let mut rows = stmt.query([&id]).map_err(read)?;
            while let Some(row) = rows.next().map_err(read)? {
                let (seq, bytes): (i64, Vec<u8>) = (row.get(0).map_err(read)?, row.get(1).map_err(read)?);
                client
                    .execute("INSERT INTO ent_blob_chunk (id, seq, bytes) VALUES ($1, $2, $3)", &[&id, &seq, &bytes])
                    .await
                    .map_err(pg("copying blobs"))?;
            }
            report.blobs += 1;
            report.blob_bytes += size as u64;
        }
    }

    // Verify: the same checksums computed from what PostgreSQL now holds.
    let source = finish(source);
    let target = target_sums(client).await?;
    if source != target {
        let differs: Vec<&String> =
            source.keys().chain(target.keys()).filter(|k| source.get(*k) != target.get(*k)).collect();
        return Err(Error::storage(
            "postgres",
            format!("the copy differs from the source in {differs:?}; nothing was committed"),
            false,
        ));
    }
    let mut all = Sha256::new();
    for (what, (n, sum)) in &source {
        all.update(what.as_bytes());
        all.update(n.to_be_bytes());
        all.update(sum);
    }
    report.checksum = hex::encode(all.finalize());
    Ok(report)
}

#[derive(Default)]
struct RecordBatch {
    ids: Vec<Vec<u8>>,
    versions: Vec<i64>,
    schema_versions: Vec<i32>,
    data: Vec<Option<String>>,
    data_json: Vec<Option<String>>,
    xids: Vec<Option<String>>,
    entry_ids: Vec<Vec<u8>>,
    entry_keys: Vec<Vec<u8>>,
}

impl RecordBatch {
    fn push(&mut self, id: Vec<u8>, version: i64, schema_version: i32, data: &str, entries: Vec<(i64, Vec<u8>)>) {
        let nul = data.contains("\\u0000");
        self.data.push((!nul).then(|| data.to_owned()));
        self.data_json.push(nul.then(|| data.to_owned()));
        let xs: Vec<String> = entries.iter().map(|(x, _)| x.to_string()).collect();
        self.xids.push((!xs.is_empty()).then(|| xs.join(",")));
        for (_, key) in entries {
            self.entry_ids.push(id.clone());
            self.entry_keys.push(key);
        }
        self.ids.push(id);
        self.versions.push(version);
        self.schema_versions.push(schema_version);
    }

    async fn flush(
        &mut self,
        client: &tokio_postgres::Client,
        insert: &tokio_postgres::Statement,
        set_keys: &tokio_postgres::Statement,
        cid: i64,
    ) -> Result<u64> {
        let batch = std::mem::take(self);
        if batch.ids.is_empty() {
            return Ok(0);
        }
        let n = client
            .execute(
                insert,
                &[
                    &cid,
                    &batch.ids,
                    &batch.versions,
                    &batch.schema_versions,
                    &batch.data,
                    &batch.data_json,
                    &batch.xids,
                ],
            )
            .await
            .map_err(|e| crate::postgres::map_error("copying records", &e))?;
        if !batch.entry_ids.is_empty() {
            client
                .execute(set_keys, &[&cid, &batch.entry_ids, &batch.entry_keys])
                .await
                .map_err(|e| crate::postgres::map_error("copying records", &e))?;
        }
        Ok(n)
    }
}

/// The checksums of what the PostgreSQL database holds (in the copy's transaction).
async fn target_sums(client: &tokio_postgres::Client) -> Result<Sums> {
    let pg = |e: tokio_postgres::Error| crate::postgres::map_error("verifying the copy", &e);
    let mut sums: BTreeMap<String, (u64, Sha256)> = BTreeMap::new();
    let rows = client
        .query(
            "SELECT c.name, r.id, r.version, r.schema_version, coalesce(r.data::text, r.data_json::text) \
             FROM ent_record r JOIN ent_collection c USING (cid) ORDER BY c.name, r.id",
            &[],
        )
        .await
        .map_err(pg)?;
    for row in rows {
        let (name, id, version, schema_version, data): (String, Vec<u8>, i64, i32, String) =
            (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4));
        let canon = canonical(&data)?;
        feed(
            &mut sums,
            &format!("records {name}"),
            &[&id, &version.to_be_bytes(), &i64::from(schema_version).to_be_bytes(), canon.as_bytes()],
        );
    }
    let rows = client
        .query(
            "SELECT c.name || '.' || i.name, e.key, e.id FROM \
             (SELECT xid, key, id FROM ent_entry UNION ALL SELECT xid, key, id FROM ent_unique_entry) e \
             JOIN ent_index i USING (xid) JOIN ent_collection c ON c.cid = i.cid ORDER BY i.xid, e.key, e.id",
            &[],
        )
        .await
        .map_err(pg)?;
    for row in rows {
        let (name, key, id): (String, Vec<u8>, Vec<u8>) = (row.get(0), row.get(1), row.get(2));
        feed(&mut sums, &format!("index {name}"), &[&key, &id]);
    }
    let rows = client
        .query(
            "SELECT c.name, k.key, sum(k.value)::bigint FROM ent_counter k JOIN ent_collection c USING (cid) \
             GROUP BY c.cid, c.name, k.key ORDER BY c.cid, k.key",
            &[],
        )
        .await
        .map_err(pg)?;
    for row in rows {
        let (name, key, value): (String, Vec<u8>, i64) = (row.get(0), row.get(1), row.get(2));
        feed(&mut sums, &format!("counters {name}"), &[&key, &value.to_be_bytes()]);
    }
    let blobs = client.query("SELECT id, size FROM ent_blob ORDER BY id", &[]).await.map_err(pg)?;
    for row in blobs {
        let (id, size): (Vec<u8>, i64) = (row.get(0), row.get(1));
        // The bytes hash to the id, and add up to the size.
        let chunks =
            client.query("SELECT bytes FROM ent_blob_chunk WHERE id = $1 ORDER BY seq", &[&id]).await.map_err(pg)?;
        let mut hasher = Sha256::new();
        let mut total = 0u64;
        for chunk in chunks {
            let bytes: &[u8] = chunk.get(0);
            total += bytes.len() as u64;
            hasher.update(bytes);
        }
        let digest: [u8; 32] = hasher.finalize().into();
        if digest.as_slice() != id.as_slice() || total != size as u64 {
            return Err(Error::storage(
                "postgres",
                format!("the copy of blob {} does not hash to its id; nothing was committed", hex::encode(&id)),
                false,
            ));
        }
        feed(&mut sums, "blobs", &[&id, &size.to_be_bytes()]);
    }
    Ok(finish(sums))
}
