//! `manifest.csv`: `propertyName,value`, the versions, and for each file `bulk`, `delta` or `absent`.

use std::collections::BTreeMap;
use std::io::Read;

/// How a file of the bundle is provided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Provided {
    Bulk,
    Delta,
    Absent,
}

/// The manifest: how each file is provided, by file name (`users.csv`).
pub(crate) struct Manifest {
    pub(crate) files: BTreeMap<String, Provided>,
}

/// Reads the manifest; `Err` rejects the bundle.
pub(crate) fn read(input: impl Read) -> Result<Manifest, String> {
    let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(input);
    let headers = reader.headers().map_err(|e| format!("manifest.csv: {e}"))?;
    let names: Vec<&str> = headers.iter().map(|h| h.trim().trim_start_matches('\u{feff}')).collect();
    if names != ["propertyName", "value"] {
        return Err(format!("manifest.csv: the header must be `propertyName,value`, not `{}`", names.join(",")));
    }
    let mut props = BTreeMap::new();
    for row in reader.records() {
        let row = row.map_err(|e| format!("manifest.csv: {e}"))?;
        props.insert(row.get(0).unwrap_or("").trim().to_owned(), row.get(1).unwrap_or("").trim().to_owned());
    }
    match props.get("manifest.version").map(String::as_str) {
        Some("1.0") => {}
        other => return Err(format!("manifest.csv: manifest.version must be 1.0, not {other:?}")),
    }
    match props.get("oneroster.version").map(String::as_str) {
        Some("1.2") => {}
        other => return Err(format!("manifest.csv: oneroster.version must be 1.2, not {other:?}")),
    }
    let mut files = BTreeMap::new();
    for (k, v) in &props {
        let Some(name) = k.strip_prefix("file.") else { continue };
        let provided = match v.as_str() {
            "bulk" => Provided::Bulk,
            "delta" => Provided::Delta,
            "absent" => Provided::Absent,
            other => return Err(format!("manifest.csv: {k} is `{other}`, not bulk, delta or absent")),
        };
        files.insert(format!("{name}.csv"), provided);
    }
    Ok(Manifest { files })
}
