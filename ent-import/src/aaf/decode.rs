//! Bytes to UTF-8: the encoding a file declares, decided before the XML parser sees a byte, and the line
//! index that turns the parser's byte positions into line numbers.

use std::cell::RefCell;
use std::io::{self, Read};
use std::rc::Rc;

use encoding_rs::{Decoder, Encoding, UTF_8};

/// How far into a file the XML declaration is looked for.
const PROLOG: usize = 512;

/// The encoding of a file, from its byte order mark or its XML declaration; UTF-8 when it declares none.
///
/// Returns the encoding and the bytes read to decide it (to be read again), or why the file cannot be read.
pub(crate) fn sniff(reader: &mut dyn Read) -> io::Result<(Result<&'static Encoding, String>, Vec<u8>)> {
    let mut head = Vec::with_capacity(PROLOG);
    reader.take(PROLOG as u64).read_to_end(&mut head)?;
    Ok((encoding_of(&head), head))
}

fn encoding_of(head: &[u8]) -> Result<&'static Encoding, String> {
    if head.starts_with(&[0xEF, 0xBB, 0xBF]) {
        return Ok(UTF_8);
    }
    if head.starts_with(&[0xFF, 0xFE]) || head.starts_with(&[0xFE, 0xFF]) {
        return Err("UTF-16 files are not AAF files (the format is ISO-8859-15 or UTF-8)".into());
    }
    let Some(rest) = head.strip_prefix(b"<?xml") else { return Ok(UTF_8) };
    let Some(end) = rest.windows(2).position(|w| w == b"?>") else {
        return Err("the XML declaration is not closed".into());
    };
    let decl = String::from_utf8_lossy(&rest[..end]);
    let Some(at) = decl.find("encoding") else { return Ok(UTF_8) };
    let value = decl[at + "encoding".len()..].trim_start().strip_prefix('=').map(str::trim_start);
    let label = value.and_then(|v| {
        let quote = v.chars().next().filter(|q| *q == '"' || *q == '\'')?;
        v[1..].split(quote).next()
    });
    let Some(label) = label else { return Err("the XML declaration's encoding is malformed".into()) };
    match Encoding::for_label(label.trim().as_bytes()) {
        Some(e) if e == UTF_8 || e.is_single_byte() => Ok(e),
        Some(e) => Err(format!("encoding `{label}` ({}) is not supported", e.name())),
        None => Err(format!("unknown encoding `{label}` in the XML declaration")),
    }
}

/// Turns a single-byte encoding (ISO-8859-15, windows-1252...) into UTF-8 as it is read. UTF-8 input is
/// passed through untouched, so that invalid bytes reach the parser and reject their record.
pub(crate) struct Utf8Reader<R> {
    inner: R,
    decoder: Option<Decoder>,
    raw: Vec<u8>,
    out: Vec<u8>,
    pos: usize,
    eof: bool,
}

impl<R: Read> Utf8Reader<R> {
    pub(crate) fn new(inner: R, encoding: &'static Encoding) -> Self {
        let decoder = (encoding != UTF_8).then(|| encoding.new_decoder_without_bom_handling());
        Utf8Reader { inner, decoder, raw: vec![0; 16 * 1024], out: Vec::new(), pos: 0, eof: false }
    }
}

impl<R: Read> Read for Utf8Reader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(decoder) = self.decoder.as_mut() else { return self.inner.read(buf) };
        while self.pos == self.out.len() {
            if self.eof {
                return Ok(0);
            }
            let n = self.inner.read(&mut self.raw)?;
            self.eof = n == 0;
            self.out.clear();
            self.pos = 0;
            // A single-byte encoding gives at most 3 UTF-8 bytes per byte.
            let cap = decoder.max_utf8_buffer_length_without_replacement(n).unwrap_or(n * 3 + 16);
            self.out.resize(cap, 0);
            let (_, _, written, _) = decoder.decode_to_utf8(&self.raw[..n], &mut self.out, self.eof);
            self.out.truncate(written);
        }
        let n = buf.len().min(self.out.len() - self.pos);
        buf[..n].copy_from_slice(&self.out[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// The byte offsets of the line ends seen so far, shared between the reader that records them and the
/// parser that asks for lines.
#[derive(Clone, Default)]
pub(crate) struct Lines(Rc<RefCell<Vec<u64>>>);

impl Lines {
    /// The line (1 first) of a byte position of the decoded stream.
    pub(crate) fn line_of(&self, position: u64) -> u64 {
        self.0.borrow().partition_point(|&n| n < position) as u64 + 1
    }
}

/// Records where the lines end as bytes go through.
pub(crate) struct LineRecorder<R> {
    inner: R,
    offset: u64,
    lines: Lines,
}

impl<R: Read> LineRecorder<R> {
    pub(crate) fn new(inner: R, lines: Lines) -> Self {
        LineRecorder { inner, offset: 0, lines }
    }
}

impl<R: Read> Read for LineRecorder<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut lines = self.lines.0.borrow_mut();
        for (i, b) in buf[..n].iter().enumerate() {
            if *b == b'\n' {
                lines.push(self.offset + i as u64);
            }
        }
        self.offset += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_declaration_decides() {
        let name = |h: &[u8]| encoding_of(h).map(|e| e.name());
        assert_eq!(name(b"<?xml version=\"1.0\" encoding=\"ISO-8859-15\"?><a/>"), Ok("ISO-8859-15"));
        assert_eq!(name(b"<?xml version='1.0' encoding='iso-8859-1' ?>"), Ok("windows-1252"));
        assert_eq!(name(b"<?xml version=\"1.0\"?>"), Ok("UTF-8"));
        assert_eq!(name(b"<ficAlimMENESR>"), Ok("UTF-8"), "no declaration: UTF-8");
        assert!(name(b"<?xml version=\"1.0\" encoding=\"klingon\"?>").is_err());
    }

    #[test]
    fn latin9_becomes_utf8() {
        let bytes: &[u8] = &[b'<', b'a', b'>', 0xE9, 0xA4, 0xBD, b'<', b'/', b'a', b'>'];
        let mut out = String::new();
        Utf8Reader::new(bytes, encoding_rs::ISO_8859_15).read_to_string(&mut out).unwrap();
        assert_eq!(out, "<a>é€œ</a>");
    }
}
