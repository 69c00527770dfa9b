//! The streaming reader of one AAF file: `<ficAlimMENESR>` holding `addRequest`, `modifyRequest` and
//! `deleteRequest` records, read one record at a time (a file is never held whole in memory).
//!
//! The reader recovers where a record can be told apart from the next one: a mismatched closing tag, bytes
//! that are not in the file's encoding, an `<attr>` without `<value>` are noted on their record (which the
//! mapping then rejects or reads), and reading goes on with the next record.

use std::collections::BTreeMap;
use std::io::BufRead;

use quick_xml::Reader;
use quick_xml::errors::Error as XmlError;
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::{BytesStart, Event};

use super::decode::Lines;

/// What a record asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    /// `addRequest`.
    Add,
    /// `modifyRequest`: in the AAF it carries every attribute of the record, so it is read as a whole record.
    Modify,
    /// `deleteRequest`.
    Delete,
}

/// One record as read, before mapping.
#[derive(Debug, Clone)]
pub(crate) struct RawRecord {
    pub(crate) op: Op,
    /// `categoriePersonne`, `categorieStructure`... value.
    pub(crate) category: Option<String>,
    /// `<identifier><id>`.
    pub(crate) id: Option<String>,
    /// Attributes (or modifications) by name, with their values in order; an `<attr>` without `<value>` is
    /// present with no value.
    pub(crate) attrs: BTreeMap<String, Vec<String>>,
    /// The line of its opening tag.
    pub(crate) line: u64,
    /// What was wrong with it, if anything: the record is rejected with the first.
    pub(crate) problems: Vec<(u64, String)>,
}

/// What the reader gives.
#[derive(Debug)]
pub(crate) enum Item {
    /// A record.
    Record(RawRecord),
    /// A problem of the file itself; `fatal` when reading stopped there.
    File { line: u64, reason: String, fatal: bool },
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Context {
    Operational,
    Attributes,
}

/// Reads records one after the other.
pub(crate) struct RecordReader<R: BufRead> {
    reader: Reader<R>,
    lines: Lines,
    buf: Vec<u8>,
    stack: Vec<String>,
    record: Option<RawRecord>,
    attr: Option<(String, Context)>,
    text: Option<String>,
    root_seen: bool,
    errors_in_a_row: u32,
    done: bool,
    pending: Vec<Item>,
}

const RECORDS: [&str; 3] = ["addRequest", "modifyRequest", "deleteRequest"];

impl<R: BufRead> RecordReader<R> {
    pub(crate) fn new(input: R, lines: Lines) -> Self {
        let mut reader = Reader::from_reader(input);
        let config = reader.config_mut();
        // Closing tags are checked here, so that a mismatch rejects one record instead of the file.
        config.check_end_names = false;
        config.trim_text(false);
        config.expand_empty_elements = false;
        RecordReader {
            reader,
            lines,
            buf: Vec::new(),
            stack: Vec::new(),
            record: None,
            attr: None,
            text: None,
            root_seen: false,
            errors_in_a_row: 0,
            done: false,
            pending: Vec::new(),
        }
    }

    fn line_here(&self) -> u64 {
        self.lines.line_of(self.reader.buffer_position().saturating_sub(1))
    }

    fn problem(&mut self, line: u64, reason: String) {
        if let Some(r) = self.record.as_mut() {
            r.problems.push((line, reason));
        } else {
            self.pending.push(Item::File { line, reason, fatal: false });
        }
    }

    fn close_record(&mut self) {
        self.attr = None;
        self.text = None;
        if let Some(r) = self.record.take() {
            self.pending.push(Item::Record(r));
        }
    }

    fn open(&mut self, e: &BytesStart<'_>, empty: bool) {
        let name = e.name();
        let name = name.as_ref().to_owned();
        let line = self.line_here();
        if !self.root_seen {
            self.root_seen = true;
            if name != "ficAlimMENESR" {
                self.pending.push(Item::File {
                    line,
                    reason: format!("not an AAF file: the root element is <{name}>, not <ficAlimMENESR>"),
                    fatal: true,
                });
                self.done = true;
                return;
            }
        }
        if RECORDS.contains(&name.as_str()) {
            if let Some(r) = self.record.as_mut() {
                r.problems.push((line, "the record is not closed before the next one".into()));
                self.close_record();
            }
            self.stack.truncate(1);
            let op = match name.as_str() {
                "addRequest" => Op::Add,
                "modifyRequest" => Op::Modify,
                _ => Op::Delete,
            };
            self.record =
                Some(RawRecord { op, category: None, id: None, attrs: BTreeMap::new(), line, problems: Vec::new() });
            if empty {
                self.close_record();
            } else {
                self.stack.push(name);
            }
            return;
        }
        if self.record.is_some() {
            match name.as_str() {
                "attr" | "modification" => {
                    let parent = self.stack.last().map(String::as_str);
                    let context = if parent == Some("operationalAttributes") {
                        Context::Operational
                    } else {
                        Context::Attributes
                    };
                    let attr_name = attribute(e, "name");
                    if name == "modification" {
                        match attribute(e, "operation").as_deref() {
                            // Missing in some of the ministry's own delta files: replace is the only operation.
                            None | Some("replace") => {}
                            Some(other) => self.problem(line, format!("unsupported modification operation `{other}`")),
                        }
                    }
                    match attr_name {
                        Some(n) => {
                            if let Some(r) = self.record.as_mut()
                                && context == Context::Attributes
                            {
                                r.attrs.entry(n.clone()).or_default();
                            }
                            self.attr = if empty { None } else { Some((n, context)) };
                        }
                        None => self.problem(line, format!("<{name}> without a name")),
                    }
                }
                "value" if self.attr.is_some() => {
                    self.text = Some(String::new());
                    if empty {
                        self.close_value();
                    }
                }
                "id" if self.stack.last().map(String::as_str) == Some("identifier") => {
                    self.text = Some(String::new());
                    if empty {
                        self.close_id();
                    }
                }
                _ => {}
            }
        }
        if !empty {
            self.stack.push(name);
        }
    }

    fn close_value(&mut self) {
        let Some(text) = self.text.take() else { return };
        let Some((name, context)) = self.attr.as_ref() else { return };
        let Some(r) = self.record.as_mut() else { return };
        match context {
            Context::Operational => {
                if name.starts_with("categorie") {
                    r.category = Some(text.trim().to_owned());
                }
            }
            Context::Attributes => r.attrs.entry(name.clone()).or_default().push(text),
        }
    }

    fn close_id(&mut self) {
        if let (Some(text), Some(r)) = (self.text.take(), self.record.as_mut()) {
            r.id = Some(text.trim().to_owned());
        }
    }

    fn closed(&mut self, name: &str) {
        match name {
            "value" => self.close_value(),
            "id" => self.close_id(),
            "attr" | "modification" => self.attr = None,
            n if RECORDS.contains(&n) => self.close_record(),
            _ => {}
        }
    }

    fn close(&mut self, name: &str) {
        let line = self.line_here();
        if self.stack.last().map(String::as_str) == Some(name) {
            self.stack.pop();
            self.closed(name);
            return;
        }
        let open = self.stack.last().cloned().unwrap_or_default();
        self.problem(line, format!("mismatched closing tag </{name}> for <{open}>"));
        if let Some(at) = self.stack.iter().rposition(|n| n == name) {
            while self.stack.len() > at {
                if let Some(n) = self.stack.pop() {
                    self.closed(&n);
                }
            }
        }
    }

    fn step(&mut self) {
        self.buf.clear();
        let event = self.reader.read_event_into(&mut self.buf);
        let event = match event {
            Ok(e) => {
                self.errors_in_a_row = 0;
                e.into_owned()
            }
            Err(e) => {
                let line = match e {
                    // Where the undecodable text ends: the error position is not kept for those.
                    XmlError::Encoding(_) => self.line_here(),
                    _ => self.lines.line_of(self.reader.error_position()),
                };
                self.errors_in_a_row += 1;
                let fatal = matches!(e, XmlError::Syntax(_) | XmlError::Io(_)) || self.errors_in_a_row > 16;
                let reason = match &e {
                    XmlError::Encoding(_) => "broken encoding: bytes that are not in the file's encoding".to_owned(),
                    other => format!("malformed XML: {other}"),
                };
                self.problem(line, reason.clone());
                if fatal {
                    self.close_record();
                    self.pending.push(Item::File {
                        line,
                        reason: format!("reading stopped at line {line}: {reason}"),
                        fatal: true,
                    });
                    self.done = true;
                }
                return;
            }
        };
        match event {
            Event::Start(e) => self.open(&e, false),
            Event::Empty(e) => self.open(&e, true),
            Event::End(e) => {
                let name = e.name().as_ref().to_owned();
                self.close(&name);
            }
            Event::Text(t) if !self.root_seen && !t.trim().is_empty() => {
                let line = self.line_here();
                self.pending.push(Item::File {
                    line,
                    reason: "not an XML file: text before the root element".into(),
                    fatal: true,
                });
                self.done = true;
            }
            Event::Text(t) => {
                if let Some(text) = self.text.as_mut() {
                    text.push_str(&t.xml10_content());
                }
            }
            Event::CData(c) => {
                if let Some(text) = self.text.as_mut() {
                    text.push_str(&c);
                }
            }
            Event::GeneralRef(r) => {
                if self.text.is_none() {
                    return;
                }
                let resolved = match r.resolve_char_ref() {
                    Ok(Some(c)) => Some(c.to_string()),
                    Ok(None) => resolve_predefined_entity(&r).map(str::to_owned),
                    Err(_) => None,
                };
                match resolved {
                    Some(s) => {
                        if let Some(text) = self.text.as_mut() {
                            text.push_str(&s);
                        }
                    }
                    None => {
                        let line = self.line_here();
                        self.problem(line, format!("unknown entity &{};", &*r));
                    }
                }
            }
            Event::Eof => {
                let line = self.line_here();
                if let Some(r) = self.record.as_mut() {
                    r.problems.push((line, "the file ends inside this record".into()));
                    self.close_record();
                }
                if !self.root_seen {
                    self.pending.push(Item::File {
                        line,
                        reason: "empty file: no <ficAlimMENESR>".into(),
                        fatal: true,
                    });
                }
                self.done = true;
            }
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) | Event::DocType(_) => {}
        }
    }
}

fn attribute(e: &BytesStart<'_>, name: &str) -> Option<String> {
    e.attributes()
        .flatten()
        .find(|a| a.key.as_ref() == name)
        .and_then(|a| a.normalized_value(quick_xml::XmlVersion::Implicit1_0).ok().map(|v| v.into_owned()))
}

impl<R: BufRead> Iterator for RecordReader<R> {
    type Item = Item;

    fn next(&mut self) -> Option<Item> {
        loop {
            if !self.pending.is_empty() {
                return Some(self.pending.remove(0));
            }
            if self.done {
                return None;
            }
            self.step();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aaf::decode::LineRecorder;
    use std::io::BufReader;

    fn read(xml: &[u8]) -> Vec<Item> {
        let lines = Lines::default();
        RecordReader::new(BufReader::new(LineRecorder::new(xml, lines.clone())), lines).collect()
    }

    #[test]
    fn records_attributes_and_lines() {
        let items = read(
            b"<?xml version=\"1.0\"?>\r\n<ficAlimMENESR>\r\n<addRequest>\r\n<operationalAttributes><attr name=\"categoriePersonne\"><value>Eleve</value></attr></operationalAttributes>\r\n<identifier><id>42</id></identifier>\r\n<attributes><attr name=\"sn\"><value>L&apos;Hermite</value></attr><attr name=\"x\"/><attr name=\"m\"><value>a</value><value>b&#233;</value></attr></attributes>\r\n</addRequest>\r\n<deleteRequest><operationalAttributes><attr name=\"categoriePersonne\"><value>Eleve</value></attr></operationalAttributes><identifier><id>43</id></identifier></deleteRequest>\r\n</ficAlimMENESR>\r\n",
        );
        let Item::Record(r) = &items[0] else { panic!("{items:?}") };
        assert_eq!((r.op, r.line, r.id.as_deref(), r.category.as_deref()), (Op::Add, 3, Some("42"), Some("Eleve")));
        assert_eq!(r.attrs["sn"], ["L'Hermite"]);
        assert!(r.attrs["x"].is_empty());
        assert_eq!(r.attrs["m"], ["a", "bé"]);
        assert!(r.problems.is_empty());
        let Item::Record(d) = &items[1] else { panic!() };
        assert_eq!((d.op, d.line, d.id.as_deref()), (Op::Delete, 8, Some("43")));
        assert_eq!(items.len(), 2);
    }

    #[test]
    fn a_mismatched_tag_spoils_its_record_only() {
        let items = read(
            b"<ficAlimMENESR>\n<addRequest><identifier><id>1</id></identifier><attributes><attr name=\"sn\"><value>A</attr></attributes></addRequest>\n<addRequest><identifier><id>2</id></identifier></addRequest>\n</ficAlimMENESR>",
        );
        let Item::Record(bad) = &items[0] else { panic!() };
        assert!(bad.problems[0].1.contains("mismatched closing tag </attr> for <value>"), "{:?}", bad.problems);
        assert_eq!(bad.problems[0].0, 2);
        let Item::Record(good) = &items[1] else { panic!() };
        assert!(good.problems.is_empty());
        assert_eq!(good.id.as_deref(), Some("2"));
    }
}
