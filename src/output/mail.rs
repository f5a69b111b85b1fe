//! Email messages as mail tools take them: RFC 5322 (built by `mail-builder`, never by hand),
//! one `.eml` file per message (`--format eml --output DIR`, for `sendmail -t`/`msmtp`), or
//! an mbox stream (`--format mbox`, for mutt and formail).
//!
//! The bytes depend only on the message: Message-ID from the message id, Date from `send_at`,
//! and the MIME boundary of a text + HTML message derived from the message id (mail-builder
//! would draw a random one).

use std::io;

use mail_builder::headers::content_type::ContentType;
use mail_builder::mime::MimePart;
use mail_builder::MessageBuilder;

use crate::template::Rendered;

/// The sender of email messages (`content.from`, `--mail-from`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sender {
    pub name: Option<String>,
    pub address: String,
}

impl std::str::FromStr for Sender {
    type Err = String;

    /// `hello@example.com` or `Kairos Stores <hello@example.com>`.
    fn from_str(s: &str) -> Result<Sender, String> {
        let s = s.trim();
        let (name, address) = match (s.find('<'), s.ends_with('>')) {
            (Some(i), true) => {
                let name = s[..i].trim().trim_matches('"').trim();
                (Some(name).filter(|n| !n.is_empty()).map(str::to_owned), s[i + 1..s.len() - 1].trim().to_owned())
            }
            _ => (None, s.to_owned()),
        };
        // The address goes into `From:` and the domain into every `Message-ID:` as written:
        // the same rule as a recipient's (ASCII, no quotes, commas or brackets).
        if !is_plain_address(&address) {
            return Err(format!(
                "{s:?} is not an email address kairos can send from: expected `name@example.com` or `Name <name@example.com>`, in ASCII without quotes, commas or brackets"
            ));
        }
        Ok(Sender { name, address })
    }
}

/// The domain of Message-IDs: the sender's.
fn id_domain(from: &Sender) -> &str {
    from.address.rsplit_once('@').map_or("kairos.invalid", |(_, d)| d)
}

/// Is `s` a plain address that can go into a `To:` header as it is: `local@domain`, each a
/// dot-atom of RFC 5322 (no spaces, quotes, brackets or control characters; no dot first,
/// last or twice in a row), the local part at most 64 bytes, the address at most 254
/// (RFC 5321), the domain's labels at most 63?
pub fn is_plain_address(s: &str) -> bool {
    let ok = |c: char| c.is_ascii_graphic() && !matches!(c, '<' | '>' | '"' | ',' | ';' | '(' | ')' | '\\' | '[' | ']');
    let dot_atom = |p: &str| !p.is_empty() && p.split('.').all(|atom| !atom.is_empty());
    match s.split_once('@') {
        Some((l, d)) => {
            s.len() <= 254
                && l.len() <= 64
                && dot_atom(l)
                && dot_atom(d)
                && d.split('.').all(|label| label.len() <= 63)
                && !d.contains('@')
                && s.chars().all(ok)
        }
        None => false,
    }
}

/// Text for a mail part or header: line ends as LF (a lone CR, which 7bit and quoted-printable
/// parts may not hold, ends a line as it does in the inputs), and no other control character
/// but the tab (a NUL or an escape in a customer's name is not mail text).
fn mail_text(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.bytes().any(|b| (b < b' ' && b != b'\t' && b != b'\n') || b == 0x7f) {
        return s.into();
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                if chars.peek() != Some(&'\n') {
                    out.push('\n');
                }
            }
            '\t' | '\n' => out.push(c),
            c if c.is_ascii_control() => {}
            c => out.push(c),
        }
    }
    out.into()
}

/// A `Subject:` value. mail-builder writes an ASCII subject as it is, and a reader decodes any
/// `=?charset?B?...?=` in it: a customer's name that looks like an encoded word would show as
/// other text than the plan's `subject`. Such a subject is written as encoded words itself
/// (UTF-8, base64, whole characters in each, one per folded line).
fn subject_header(subject: &str) -> Option<mail_builder::headers::raw::Raw<'static>> {
    use base64::Engine as _;
    if !subject.contains("=?") {
        return None;
    }
    // 42 bytes make 56 base64 characters: `=?utf-8?B?` + 56 + `?=` is 68, under the 75 of an
    // encoded word, and `Subject: ` before it keeps the first line within 78.
    let mut words = Vec::new();
    let mut rest = subject;
    while !rest.is_empty() {
        let mut end = rest.len().min(42);
        while !rest.is_char_boundary(end) {
            end -= 1;
        }
        words.push(format!("=?utf-8?B?{}?=", base64::engine::general_purpose::STANDARD.encode(&rest[..end])));
        rest = &rest[end..];
    }
    Some(mail_builder::headers::raw::Raw::new(words.join("\r\n ")))
}

/// One email message as RFC 5322 bytes (CRLF line ends). `to` must be a plain address
/// (`is_plain_address`): it is written as it is, so `To:` reads back equal to the contact.
pub fn eml(to: &str, from: &Sender, message_id: &str, send_at: i64, content: &Rendered) -> io::Result<Vec<u8>> {
    if !is_plain_address(to) {
        return Err(io::Error::other(format!("{to:?} is not an email address")));
    }
    let subject = mail_text(content.subject.as_deref().unwrap_or_default()).into_owned();
    let mut b = MessageBuilder::new()
        .message_id(format!("{message_id}@{}", id_domain(from)))
        .date(send_at)
        .header("To", mail_builder::headers::raw::Raw::new(to.to_owned()));
    b = match subject_header(&subject) {
        Some(raw) => b.header("Subject", raw),
        None => b.subject(subject),
    };
    b = match &from.name {
        Some(n) => b.from((n.clone(), from.address.clone())),
        None => b.from(from.address.clone()),
    };
    let body = mail_text(&content.body).into_owned();
    b = match &content.html {
        None => b.text_body(body),
        Some(html) => {
            let html = mail_text(html).into_owned();
            let boundary = boundary_for(message_id, &[&body, &html]);
            let alt = MimePart::new(
                ContentType::new("multipart/alternative").attribute("boundary", boundary),
                vec![MimePart::new("text/plain", body), MimePart::new("text/html", html)],
            );
            b.body(alt)
        }
    };
    b.write_to_vec()
}

/// The MIME boundary of a message: `kairos-<id>`, with a counter after it if a part holds that
/// text (a part's line `--kairos-<id>--` would end the multipart early; RFC 2046 5.1.1). The
/// same message gets the same boundary.
fn boundary_for(message_id: &str, parts: &[&str]) -> String {
    let base = format!("kairos-{message_id}");
    let mut boundary = base.clone();
    let mut n = 0u32;
    while parts.iter().any(|p| p.contains(&boundary)) {
        n += 1;
        boundary = format!("{base}-{n}");
    }
    boundary
}

/// One mbox entry (mboxrd): the `From ` separator line, the message with LF line ends and
/// `From ` lines quoted, and a blank line.
pub fn mbox_entry(eml: &[u8], from: &Sender, send_at: i64) -> Vec<u8> {
    let when = chrono::DateTime::from_timestamp(send_at, 0)
        .map_or_else(String::new, |t| t.format("%a %b %e %H:%M:%S %Y").to_string());
    let mut out = format!("From {} {when}\n", from.address).into_bytes();
    let text = String::from_utf8_lossy(eml);
    for line in text.split("\r\n") {
        let unquoted = line.trim_start_matches('>');
        if unquoted.starts_with("From ") {
            out.push(b'>');
        }
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
    }
    // The message ends with a line break: one more makes the blank line between entries.
    if !out.ends_with(b"\n\n") {
        out.push(b'\n');
    }
    out
}

/// Frames of `--format eml` between the workers and the folder writer: each file as
/// `\0EML <name> <length>\n` then its bytes. Internal only: the user sees the files.
pub fn frame(name: &str, bytes: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(format!("\0EML {name} {}\n", bytes.len()).as_bytes());
    out.extend_from_slice(bytes);
}

/// Writes framed files into a folder.
pub struct FolderWriter {
    dir: std::path::PathBuf,
    buf: Vec<u8>,
    pub files: u64,
}

impl FolderWriter {
    pub fn new(dir: std::path::PathBuf) -> FolderWriter {
        FolderWriter { dir, buf: Vec::new(), files: 0 }
    }

    fn drain(&mut self) -> io::Result<()> {
        loop {
            let Some(nl) = memchr::memchr(b'\n', &self.buf) else { return Ok(()) };
            let head = std::str::from_utf8(&self.buf[..nl]).map_err(io::Error::other)?;
            let mut it = head.strip_prefix("\0EML ").ok_or_else(|| io::Error::other("bad eml frame"))?.rsplitn(2, ' ');
            let len: usize = it.next().and_then(|l| l.parse().ok()).ok_or_else(|| io::Error::other("bad eml frame"))?;
            let name = it.next().ok_or_else(|| io::Error::other("bad eml frame"))?.to_owned();
            if self.buf.len() < nl + 1 + len {
                return Ok(());
            }
            std::fs::write(self.dir.join(&name), &self.buf[nl + 1..nl + 1 + len])?;
            self.files += 1;
            self.buf.drain(..nl + 1 + len);
        }
    }

    pub fn finish(&mut self) -> io::Result<()> {
        self.drain()?;
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(io::Error::other("an eml frame was cut short"))
        }
    }
}

impl io::Write for FolderWriter {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(b);
        self.drain()?;
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sender() -> Sender {
        "Kairos Stores <hello@example.com>".parse().unwrap()
    }

    fn content(html: bool) -> Rendered {
        Rendered {
            subject: Some("Zoë, your order".into()),
            body: "Hello\nFrom all of us\n".into(),
            html: html.then(|| "<p>Hello</p>".into()),
            sms: None,
        }
    }

    #[test]
    fn only_plain_addresses_go_into_to() {
        assert!(is_plain_address("emily.williams1@example.com"));
        assert!(!is_plain_address("emily@example.com\r\nBcc: all@example.com"), "no header injection");
        assert!(!is_plain_address("Emily <e@example.com>"));
        assert!(!is_plain_address("e@x@y"));
        assert!(!is_plain_address("not an address"));
        assert!(!is_plain_address(""));
        for bad in [".a@example.com", "a.@example.com", "a..b@example.com", "a@.example.com", "a@example..com", "a@"] {
            assert!(!is_plain_address(bad), "{bad}: not a dot-atom");
        }
        assert!(is_plain_address(&format!("{}@example.com", "a".repeat(64))));
        assert!(!is_plain_address(&format!("{}@example.com", "a".repeat(65))), "local part over 64");
        assert!(!is_plain_address(&format!("a@{}.com", "b".repeat(64))), "label over 63");
        assert!(!is_plain_address(&format!("a@{}.com", vec!["b".repeat(60); 5].join("."))), "over 254");
    }

    #[test]
    fn a_subject_that_looks_encoded_reads_back_as_written() {
        let mut c = content(false);
        c.subject = Some("Hello =?utf-8?B?SGFja2Vk?= re p".into());
        let bytes = eml("e@example.com", &sender(), "abc", 0, &c).unwrap();
        let m = mail_parser::MessageParser::default().parse(&bytes).unwrap();
        assert_eq!(m.subject(), Some("Hello =?utf-8?B?SGFja2Vk?= re p"));
        // Long ones fold into words of whole characters.
        c.subject = Some(format!("=?x?Q?y?= {}", "Zoë ".repeat(40)).trim_end().to_owned());
        let bytes = eml("e@example.com", &sender(), "abc", 0, &c).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.lines().all(|l| l.len() <= 78), "{text}");
        let m = mail_parser::MessageParser::default().parse(&bytes).unwrap();
        assert_eq!(m.subject(), c.subject.as_deref());
    }

    #[test]
    fn control_characters_never_reach_a_mail_part() {
        let mut c = content(true);
        c.body = "Dear nul\0byte,\rlone cr\r\ncrlf\x1b[31m\tend\n".into();
        c.html = Some("<p>Hi nul\0byte</p>".into());
        let bytes = eml("e@example.com", &sender(), "abc", 0, &c).unwrap();
        assert!(!bytes.iter().any(|&b| b == 0 || b == 0x1b), "{}", String::from_utf8_lossy(&bytes));
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.replace("\r\n", "").contains('\r'), "no bare CR: {text}");
        let m = mail_parser::MessageParser::default().parse(&bytes).unwrap();
        assert_eq!(
            m.body_text(0).map(|b| b.replace("\r\n", "\n")).as_deref(),
            Some("Dear nulbyte,\nlone cr\ncrlf[31m\tend\n")
        );
        assert_eq!(m.body_html(0).as_deref(), Some("<p>Hi nulbyte</p>"));
    }

    #[test]
    fn senders_are_parsed_or_refused() {
        assert_eq!(sender(), Sender { name: Some("Kairos Stores".into()), address: "hello@example.com".into() });
        assert_eq!("a@b.c".parse::<Sender>().unwrap().name, None);
        assert!("Kairos Stores".parse::<Sender>().is_err());
        assert!("<@x>".parse::<Sender>().is_err());
        for bad in ["a,b@example.com", "x\"y@example.com", "hällo@exämple.com", "K <a@b@c>", "not an address"] {
            assert!(bad.parse::<Sender>().is_err(), "{bad}");
        }
        assert_eq!("Kairos Stores <hello@example.com>".parse::<Sender>().unwrap().address, "hello@example.com");
    }

    #[test]
    fn an_email_parses_back_with_its_headers() {
        let bytes = eml("emily@example.com", &sender(), "181aff8f", 1_741_168_800, &content(false)).unwrap();
        let m = mail_parser::MessageParser::default().parse(&bytes).unwrap();
        assert_eq!(m.subject(), Some("Zoë, your order"));
        assert_eq!(m.message_id(), Some("181aff8f@example.com"));
        assert_eq!(m.to().and_then(|a| a.first()).and_then(|a| a.address()), Some("emily@example.com"));
        assert!(
            String::from_utf8_lossy(&bytes).contains("\r\nTo: emily@example.com\r\n"),
            "To reads back as the contact"
        );
        assert_eq!(m.from().and_then(|a| a.first()).and_then(|a| a.name()), Some("Kairos Stores"));
        assert_eq!(m.date().map(|d| d.to_timestamp()), Some(1_741_168_800));
        let body = m.body_text(0).map(|b| b.replace("\r\n", "\n"));
        assert_eq!(body.as_deref().map(str::trim_end), Some("Hello\nFrom all of us"));
    }

    #[test]
    fn text_and_html_make_a_multipart_with_a_boundary_from_the_id() {
        let a = eml("e@example.com", &sender(), "abc", 0, &content(true)).unwrap();
        let b = eml("e@example.com", &sender(), "abc", 0, &content(true)).unwrap();
        assert_eq!(a, b, "same message, same bytes");
        let text = String::from_utf8_lossy(&a);
        assert!(text.contains("boundary=\"kairos-abc\""), "{text}");
        let m = mail_parser::MessageParser::default().parse(&a).unwrap();
        assert_eq!(m.body_html(0).as_deref(), Some("<p>Hello</p>"));
    }

    #[test]
    fn a_boundary_no_part_holds() {
        assert_eq!(boundary_for("abc", &["x", "y"]), "kairos-abc");
        assert_eq!(boundary_for("abc", &["a\n--kairos-abc--\nb", "--kairos-abc-1"]), "kairos-abc-2");
        let mut c = content(true);
        c.html = Some("<p>a\n--kairos-abc--\nb</p>".into());
        let bytes = eml("e@example.com", &sender(), "abc", 0, &c).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.contains("boundary=\"kairos-abc-1\""), "{text}");
        let m = mail_parser::MessageParser::default().parse(&bytes).unwrap();
        assert_eq!(m.body_html(0).map(|h| h.replace("\r\n", "\n")).as_deref(), Some("<p>a\n--kairos-abc--\nb</p>"));
    }

    #[test]
    fn mbox_quotes_from_lines() {
        let bytes = eml("e@example.com", &sender(), "abc", 0, &content(false)).unwrap();
        let entry = String::from_utf8(mbox_entry(&bytes, &sender(), 0)).unwrap();
        assert!(entry.starts_with("From hello@example.com Thu Jan  1 00:00:00 1970\n"), "{entry}");
        assert!(entry.contains("\n>From all of us\n"), "{entry}");
        assert!(entry.ends_with("\n\n") && !entry.contains('\r'));
    }

    #[test]
    fn frames_become_files() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = FolderWriter::new(dir.path().to_path_buf());
        let mut buf = Vec::new();
        frame("a.eml", b"one\n", &mut buf);
        frame("b.eml", b"", &mut buf);
        use std::io::Write;
        for piece in buf.chunks(3) {
            w.write_all(piece).unwrap();
        }
        w.finish().unwrap();
        assert_eq!(w.files, 2);
        assert_eq!(std::fs::read(dir.path().join("a.eml")).unwrap(), b"one\n");
    }
}
