//! The files of an AAF export: their names say which feed, full or delta, which day, which kind and which
//! part (`ENT_<UAI>_Complet_<yyyymmdd>_<Kind>_<NNNN>.xml`, `ENT_<UAI>_Delta_...`).

use std::path::{Path, PathBuf};

use chrono::NaiveDate;

/// The kinds of file, in the order they are read: structures and nomenclatures before people.
const KINDS: [&str; 6] = ["EtabEducNat", "MefEducNat", "MatiereEducNat", "PersEducNat", "PersRelEleve", "Eleve"];

/// What a file's name says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FileName {
    pub(crate) emitter: String,
    pub(crate) full: bool,
    pub(crate) date: Option<NaiveDate>,
    pub(crate) kind_rank: usize,
    pub(crate) part: u32,
}

impl FileName {
    /// Reads a name; `None` when it is not an AAF file name.
    pub(crate) fn parse(name: &str) -> Option<FileName> {
        let stem = name.strip_suffix(".xml").or_else(|| name.strip_suffix(".XML"))?;
        let parts: Vec<&str> = stem.split('_').collect();
        if parts.len() < 5 || parts[0] != "ENT" {
            return None;
        }
        let mode_at = parts.iter().position(|p| *p == "Complet" || *p == "Delta")?;
        let emitter = parts[1..mode_at].join("_");
        let date = parts[mode_at + 1..]
            .iter()
            .find(|p| p.len() == 8 && p.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|p| NaiveDate::parse_from_str(p, "%Y%m%d").ok());
        let part = parts.last()?.parse().ok()?;
        let kind = parts[parts.len() - 2];
        let kind_rank = KINDS.iter().position(|k| *k == kind || (kind == "MatEducNat" && *k == "MatiereEducNat"))?;
        Some(FileName { emitter, full: parts[mode_at] == "Complet", date, kind_rank, part })
    }

    /// The kind's name in file names.
    #[cfg(test)]
    pub(crate) fn kind(&self) -> &'static str {
        KINDS[self.kind_rank]
    }
}

/// The files of one feed: one emitter, full or delta, one day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Feed {
    /// The emitter in the names (a UAI, or an académie's code).
    pub emitter: String,
    /// A full feed (`Complet`): the truth about its structures. Otherwise a delta.
    pub full: bool,
    /// The day of the export.
    pub date: Option<NaiveDate>,
    /// Its files, in reading order: structures, nomenclatures, staff, responsables, pupils; parts in order.
    pub files: Vec<PathBuf>,
}

impl Feed {
    /// The feeds of a folder, oldest first and a full feed before the delta of the same day. Files whose
    /// names are not AAF names (the DTD, a readme) are left out.
    pub fn in_dir(dir: &Path) -> std::io::Result<Vec<Feed>> {
        let mut named = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else { continue };
            if let Some(f) = FileName::parse(name) {
                named.push((f, path));
            }
        }
        named.sort_by(|(a, pa), (b, pb)| {
            (a.date, !a.full, &a.emitter, a.kind_rank, a.part, pa).cmp(&(
                b.date,
                !b.full,
                &b.emitter,
                b.kind_rank,
                b.part,
                pb,
            ))
        });
        let mut feeds: Vec<Feed> = Vec::new();
        for (f, path) in named {
            match feeds.last_mut() {
                Some(last) if last.emitter == f.emitter && last.full == f.full && last.date == f.date => {
                    last.files.push(path)
                }
                _ => feeds.push(Feed { emitter: f.emitter, full: f.full, date: f.date, files: vec![path] }),
            }
        }
        Ok(feeds)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        let f = FileName::parse("ENT_0370884K_Complet_20260828_MatiereEducNat_0001.xml").unwrap();
        assert_eq!((f.emitter.as_str(), f.full, f.kind(), f.part), ("0370884K", true, "MatiereEducNat", 1));
        assert_eq!(f.date, NaiveDate::from_ymd_opt(2026, 8, 28));
        let d = FileName::parse("ENT_0370884K_Delta_20260901_Eleve_0000.xml").unwrap();
        assert!(!d.full);
        assert!(FileName::parse("ficAlimMENESR.dtd").is_none());
        assert!(FileName::parse("ENT_X_Complet_20260828_Unknown_0000.xml").is_none());
    }
}
