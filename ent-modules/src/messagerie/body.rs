//! Message bodies: HTML sanitized with `ammonia` (an allow-list of formatting tags, no script, no event
//! handler, no `javascript:` link, links opened with `rel="noopener noreferrer"`), and the plain-text
//! alternative extracted from the sanitized HTML (for notifications by mail, search and previews).

use std::sync::LazyLock;

/// The sanitizer: ammonia's default allow-list (formatting, lists, tables, links, images over http(s)),
/// without `img` sources other than http(s) and data-free, and with every link made safe.
static CLEANER: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| {
    let mut b = ammonia::Builder::default();
    b.url_schemes(["http", "https", "mailto"].into_iter().collect())
        .link_rel(Some("noopener noreferrer"))
        .add_generic_attributes(["style"].iter().copied())
        .attribute_filter(|_, attr, value| {
            // Inline styles may carry `url(...)` (tracking, old IE `expression`): keep only harmless ones.
            if attr == "style" {
                let v = value.to_ascii_lowercase();
                if v.contains("url(") || v.contains("expression") || v.contains('\\') {
                    return None;
                }
            }
            Some(value.into())
        });
    b
});

/// Sanitizes a body given as HTML. Plain text (no tag) is HTML too: its `<`, `&` are escaped on output.
///
/// ```
/// # #[cfg(feature = "messagerie")] {
/// use ent_modules::messagerie::sanitize;
/// assert_eq!(sanitize("<p onclick=\"x()\">Bonjour<script>alert(1)</script></p>"), "<p>Bonjour</p>");
/// # }
/// ```
pub fn sanitize(html: &str) -> String {
    CLEANER.clean(html).to_string()
}

/// The plain text of sanitized HTML: tags removed, blocks and `<br>` as line breaks, list items as
/// `- `, the five entities html5ever writes decoded, blank lines collapsed.
///
/// ```
/// # #[cfg(feature = "messagerie")] {
/// use ent_modules::messagerie::{plain_text, sanitize};
/// let html = sanitize("<p>Réunion &amp; goûter</p><ul><li>lundi</li><li>mardi</li></ul>Fin<br>merci");
/// assert_eq!(plain_text(&html), "Réunion & goûter\n- lundi\n- mardi\nFin\nmerci");
/// # }
/// ```
pub fn plain_text(sanitized: &str) -> String {
    let mut out = String::with_capacity(sanitized.len());
    let mut rest = sanitized;
    while let Some(lt) = rest.find('<') {
        push_text(&mut out, &rest[..lt]);
        let Some(gt) = rest[lt..].find('>') else {
            rest = "";
            break;
        };
        let tag = &rest[lt + 1..lt + gt];
        let closing = tag.starts_with('/');
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        match name.as_str() {
            "br" => out.push('\n'),
            "li" if !closing => {
                newline(&mut out);
                out.push_str("- ");
            }
            "p" | "div" | "ul" | "ol" | "li" | "blockquote" | "h1" | "h2" | "h3" | "h4" | "h5" | "h6" | "tr"
            | "table" | "pre" | "hr" => newline(&mut out),
            "td" | "th" if closing => out.push('\t'),
            _ => {}
        }
        rest = &rest[lt + gt + 1..];
    }
    push_text(&mut out, rest);
    // Collapse runs of blank lines and trim each line's end.
    let mut text = String::with_capacity(out.len());
    let mut blank = 0;
    for line in out.lines().map(str::trim_end) {
        if line.trim().is_empty() {
            blank += 1;
            if blank > 1 || text.is_empty() {
                continue;
            }
        } else {
            blank = 0;
        }
        text.push_str(line);
        text.push('\n');
    }
    text.trim_end().to_owned()
}

fn newline(out: &mut String) {
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
}

fn push_text(out: &mut String, text: &str) {
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let tail = &rest[amp..];
        let (decoded, len) = [("&amp;", '&'), ("&lt;", '<'), ("&gt;", '>'), ("&quot;", '"'), ("&nbsp;", ' ')]
            .iter()
            .find(|(e, _)| tail.starts_with(e))
            .map(|(e, c)| (*c, e.len()))
            .unwrap_or(('&', 1));
        out.push(decoded);
        rest = &tail[len..];
    }
    out.push_str(rest);
}

/// The first `max` characters of a text on one line, for previews in mailbox lists.
pub fn snippet(text: &str, max: usize) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= max {
        return one_line;
    }
    let mut s: String = one_line.chars().take(max.saturating_sub(1)).collect();
    s.push('…');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_handlers_and_dangerous_links_go() {
        let dirty = r#"<p style="color:red" onload="x()">Salut <a href="javascript:alert(1)">ici</a>
            <a href="https://ent.example/x">là</a><img src=x onerror=alert(1)><iframe src="https://evil"></iframe>
            <style>body{}</style><script>alert(1)</script></p>"#;
        let clean = sanitize(dirty);
        for bad in ["script", "onload", "onerror", "javascript", "iframe", "<style"] {
            assert!(!clean.contains(bad), "{bad} in {clean}");
        }
        assert!(clean.contains(r#"<a href="https://ent.example/x" rel="noopener noreferrer">là</a>"#), "{clean}");
        assert!(clean.contains(r#"style="color:red""#), "{clean}");
        assert!(!sanitize(r#"<p style="background:url(https://track)">x</p>"#).contains("url("));
    }

    #[test]
    fn plain_text_is_escaped_as_html() {
        assert_eq!(sanitize("a < b & c"), "a &lt; b &amp; c");
        assert_eq!(plain_text(&sanitize("a < b & c")), "a < b & c");
    }

    #[test]
    fn text_of_html() {
        let html = sanitize(
            "<h1>Titre</h1><p>Un</p><p></p><p></p><p>Deux&nbsp;mots</p><table><tr><td>a</td><td>b</td></tr></table>",
        );
        assert_eq!(plain_text(&html), "Titre\nUn\nDeux mots\na\tb");
        assert_eq!(plain_text(&sanitize("<script>x</script>")), "");
    }

    #[test]
    fn snippets() {
        assert_eq!(snippet("a\n b   c", 10), "a b c");
        assert_eq!(snippet("abcdefghijkl", 5), "abcd…");
    }
}
