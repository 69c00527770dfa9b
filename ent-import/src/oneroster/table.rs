//! One CSV file of a bundle: its header checked against the specification's columns (a misspelled column
//! rejects the file, never guessed), its rows with their line, `status` and `dateLastModified` checked for
//! bulk or delta.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::io::Read;
use std::rc::Rc;

use chrono::NaiveDate;

/// The columns of each file of OneRoster 1.2 CSV; `true` for the required ones.
pub(crate) fn columns(file: &str) -> Option<Vec<(&'static str, bool)>> {
    const COMMON: [(&str, bool); 3] = [("sourcedId", true), ("status", false), ("dateLastModified", false)];
    let own: &'static [(&'static str, bool)] = match file {
        "orgs.csv" => &[("name", true), ("type", true), ("identifier", false), ("parentSourcedId", false)],
        "users.csv" => &[
            ("enabledUser", true),
            ("username", true),
            ("userIds", false),
            ("givenName", true),
            ("familyName", true),
            ("middleName", false),
            ("identifier", false),
            ("email", false),
            ("sms", false),
            ("phone", false),
            ("agentSourcedIds", false),
            ("grades", false),
            ("password", false),
            ("userMasterIdentifier", false),
            ("resourceSourcedIds", false),
            ("preferredGivenName", false),
            ("preferredMiddleName", false),
            ("preferredFamilyName", false),
            ("primaryOrgSourcedId", false),
            ("pronouns", false),
        ],
        "roles.csv" => &[
            ("userSourcedId", true),
            ("roleType", true),
            ("role", true),
            ("beginDate", false),
            ("endDate", false),
            ("orgSourcedId", true),
            ("userProfileSourcedId", false),
        ],
        "classes.csv" => &[
            ("title", true),
            ("grades", false),
            ("courseSourcedId", true),
            ("classCode", false),
            ("classType", true),
            ("location", false),
            ("schoolSourcedId", true),
            ("termSourcedIds", true),
            ("subjects", false),
            ("subjectCodes", false),
            ("periods", false),
        ],
        "courses.csv" => &[
            ("schoolYearSourcedId", false),
            ("title", true),
            ("courseCode", false),
            ("grades", false),
            ("orgSourcedId", true),
            ("subjects", false),
            ("subjectCodes", false),
        ],
        "enrollments.csv" => &[
            ("classSourcedId", true),
            ("schoolSourcedId", true),
            ("userSourcedId", true),
            ("role", true),
            ("primary", false),
            ("beginDate", false),
            ("endDate", false),
        ],
        "academicSessions.csv" => &[
            ("title", true),
            ("type", true),
            ("startDate", true),
            ("endDate", true),
            ("parentSourcedId", false),
            ("schoolYear", true),
        ],
        "demographics.csv" => &[
            ("birthDate", false),
            ("sex", false),
            ("americanIndianOrAlaskaNative", false),
            ("asian", false),
            ("blackOrAfricanAmerican", false),
            ("nativeHawaiianOrOtherPacificIslander", false),
            ("white", false),
            ("demographicRaceTwoOrMoreRaces", false),
            ("hispanicOrLatinoEthnicity", false),
            ("countryOfBirthCode", false),
            ("stateOfBirthAbbreviation", false),
            ("cityOfBirth", false),
            ("publicSchoolResidenceStatus", false),
        ],
        _ => return None,
    };
    let mut all: Vec<(&'static str, bool)> = COMMON.to_vec();
    all.extend_from_slice(own);
    Some(all)
}

/// The edit distance, to name the column a misspelled header was probably meant to be.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            cur.push((prev[j] + usize::from(ca != *cb)).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// A row: its line and its fields by column.
pub(crate) struct Row {
    pub(crate) line: u64,
    fields: HashMap<&'static str, String>,
    pub(crate) extra: Vec<(String, String)>,
}

impl Row {
    /// A field, trimmed; empty when absent.
    pub(crate) fn get(&self, column: &str) -> &str {
        self.fields.get(column).map_or("", |s| s.trim())
    }

    /// A date field: ISO 8601 (`YYYY-MM-DD`) or empty; anything else is refused, never guessed.
    pub(crate) fn date(&self, column: &str) -> Result<Option<NaiveDate>, String> {
        let v = self.get(column);
        if v.is_empty() {
            return Ok(None);
        }
        NaiveDate::parse_from_str(v, "%Y-%m-%d")
            .ok()
            .filter(|_| v.len() == 10)
            .map(Some)
            .ok_or_else(|| format!("`{column}` `{v}` is not an ISO 8601 date (YYYY-MM-DD)"))
    }

    /// A list field (comma separated).
    pub(crate) fn list(&self, column: &str) -> Vec<String> {
        self.get(column).split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
    }
}

/// Whether a row is to be applied or deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    Active,
    ToBeDeleted,
}

/// A file read: its rows, or why it was rejected as a whole; and the rows rejected, with line and reason.
pub(crate) struct Table {
    pub(crate) rows: Vec<(Row, Status)>,
    pub(crate) rejected: Vec<(u64, String, String)>,
}

/// The input, noting the offset of each `\n` it hands to the CSV reader: the reader's own line count is one
/// short when lines end with CRLF (it stands between `\r` and `\n` when a record ends), so lines are counted
/// here from byte offsets, the same for CRLF and LF.
struct Newlines<R> {
    inner: R,
    offset: u64,
    newlines: Rc<RefCell<VecDeque<u64>>>,
}

impl<R: Read> Read for Newlines<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut newlines = self.newlines.borrow_mut();
        for (i, b) in buf[..n].iter().enumerate() {
            if *b == b'\n' {
                newlines.push_back(self.offset + i as u64);
            }
        }
        self.offset += n as u64;
        Ok(n)
    }
}

/// The line of a byte offset, for offsets that only grow (records in order): only the newlines not yet
/// passed are kept.
struct LineCounter {
    newlines: Rc<RefCell<VecDeque<u64>>>,
    line: u64,
}

impl LineCounter {
    /// The line (1 first) of the record starting at `byte`. A record starts after its line's `\r` and before
    /// its `\n` with CRLF, after the `\n` with LF: a newline at the offset itself belongs to the line before.
    fn at(&mut self, byte: u64) -> u64 {
        let mut newlines = self.newlines.borrow_mut();
        while newlines.front().is_some_and(|n| *n <= byte) {
            newlines.pop_front();
            self.line += 1;
        }
        self.line
    }
}

/// Reads a file of the bundle. `Err` rejects the file as a whole.
pub(crate) fn read(file: &str, input: impl Read, delta: bool) -> Result<Table, String> {
    let Some(spec) = columns(file) else { return Err(format!("`{file}` is not a OneRoster 1.2 file")) };
    let newlines = Rc::new(RefCell::new(VecDeque::new()));
    let input = Newlines { inner: input, offset: 0, newlines: Rc::clone(&newlines) };
    let mut lines = LineCounter { newlines, line: 1 };
    let mut reader = csv::ReaderBuilder::new().has_headers(true).flexible(true).from_reader(input);
    let headers = reader.headers().map_err(|e| format!("the header cannot be read: {e}"))?.clone();
    let mut index: Vec<Option<&'static str>> = Vec::new();
    let mut seen = Vec::new();
    for h in headers.iter() {
        let h = h.trim().trim_start_matches('\u{feff}');
        if let Some((name, _)) = spec.iter().find(|(n, _)| *n == h) {
            if seen.contains(name) {
                return Err(format!("column `{h}` appears twice"));
            }
            seen.push(*name);
            index.push(Some(*name));
        } else if h.starts_with("metadata.") {
            index.push(None);
        } else {
            let near = spec.iter().map(|(n, _)| (distance(&h.to_lowercase(), &n.to_lowercase()), *n)).min();
            return Err(match near {
                Some((d, n)) if d <= 3 => format!("unknown column `{h}` (did you mean `{n}`?)"),
                _ => format!("unknown column `{h}`"),
            });
        }
    }
    let missing: Vec<&str> = spec.iter().filter(|(n, _)| !seen.contains(n)).map(|(n, _)| *n).collect();
    if let Some(m) = missing.iter().find(|m| spec.iter().any(|(n, req)| n == *m && *req) || **m == "status") {
        return Err(format!("missing column `{m}`"));
    }
    let mut table = Table { rows: vec![], rejected: vec![] };
    let mut record = csv::StringRecord::new();
    loop {
        let line = lines.at(reader.position().byte());
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map_or(line, |p| lines.at(p.byte()));
                let key = String::new();
                table.rejected.push((line, key, format!("unreadable row: {e}")));
                continue;
            }
        }
        let line = record.position().map_or(line, |p| lines.at(p.byte()));
        let key = record.get(0).unwrap_or("").trim().to_owned();
        if record.len() != index.len() {
            table.rejected.push((line, key, format!("{} fields for {} columns", record.len(), index.len())));
            continue;
        }
        let mut row = Row { line, fields: HashMap::new(), extra: vec![] };
        for (i, value) in record.iter().enumerate() {
            match index[i] {
                Some(name) => {
                    row.fields.insert(name, value.to_owned());
                }
                None => row.extra.push((headers[i].to_owned(), value.to_owned())),
            }
        }
        match check(&row, &spec, delta) {
            Ok(status) => table.rows.push((row, status)),
            Err(reason) => table.rejected.push((line, key, reason)),
        }
    }
    Ok(table)
}

fn check(row: &Row, spec: &[(&str, bool)], delta: bool) -> Result<Status, String> {
    for (name, required) in spec {
        if *required && row.get(name).is_empty() {
            return Err(format!("`{name}` is required"));
        }
    }
    let status = match (row.get("status"), delta) {
        ("", false) | ("active", _) => Status::Active,
        ("tobedeleted", true) => Status::ToBeDeleted,
        ("tobedeleted", false) => return Err("`tobedeleted` in a bulk file".into()),
        ("", true) => return Err("`status` is required in a delta file".into()),
        (other, _) => return Err(format!("`status` `{other}` is neither active nor tobedeleted")),
    };
    match (row.get("dateLastModified"), delta) {
        ("", false) => {}
        ("", true) => return Err("`dateLastModified` is required in a delta file".into()),
        (v, _) => {
            if chrono::DateTime::parse_from_rfc3339(v).is_err() {
                return Err(format!("`dateLastModified` `{v}` is not an ISO 8601 date-time (2026-08-28T06:00:00Z)"));
            }
        }
    }
    Ok(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_checked_not_guessed() {
        let t = read("orgs.csv", "sourcedId,status,dateLastModified,name,type,identifier,parentSourcedId\r\no1,,,A,school,0370884K,\r\no2,,,B,school,0370884K,\r\n".as_bytes(), false).unwrap();
        assert_eq!(t.rows.iter().map(|r| r.0.line).collect::<Vec<_>>(), [2, 3]);
        // The same lines with LF ends, and a quoted field over two lines.
        let t = read("orgs.csv", "sourcedId,status,dateLastModified,name,type,identifier,parentSourcedId\no1,,,A,school,0370884K,\no2,,,\"B\nbis\",school,0370884K,\no3,,,C,school,0370884K,\n".as_bytes(), false).unwrap();
        assert_eq!(t.rows.iter().map(|r| r.0.line).collect::<Vec<_>>(), [2, 3, 5]);
        let e = read("orgs.csv", "sourcedId,status,dateLastModified,nmae,type\n".as_bytes(), false).err().unwrap();
        assert_eq!(e, "unknown column `nmae` (did you mean `name`?)");
        let e = read("orgs.csv", "sourcedId,status,dateLastModified,type\n".as_bytes(), false).err().unwrap();
        assert_eq!(e, "missing column `name`");
    }
}
