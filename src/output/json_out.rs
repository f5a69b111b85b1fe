//! JSON written straight into a byte buffer, byte for byte as `serde_json`'s compact writer
//! writes it: strings escape `"`, `\` and the control characters (`\b \t \n \f \r` by name,
//! the others as `\u00xx`), and nothing else.

/// Per byte: 0 when it is copied as is, else the letter of its escape (`u`: `\u00xx`).
const ESCAPE: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 0x20 {
        t[b] = b'u';
        b += 1;
    }
    t[0x08] = b'b';
    t[0x09] = b't';
    t[0x0a] = b'n';
    t[0x0c] = b'f';
    t[0x0d] = b'r';
    t[b'"' as usize] = b'"';
    t[b'\\' as usize] = b'\\';
    t
};

/// Does any of these 8 bytes need an escape? (A control character, `"` or `\`.)
#[inline]
fn word_needs_escape(w: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let has_zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGHS;
    // Bytes below 0x20; a byte of 0x80 or more never counts.
    let below = w.wrapping_sub(ONES * 0x20) & !w & HIGHS;
    below | has_zero(w ^ (ONES * u64::from(b'"'))) | has_zero(w ^ (ONES * u64::from(b'\\'))) != 0
}

/// `s` as a JSON string.
pub fn str(out: &mut Vec<u8>, s: &str) {
    let b = s.as_bytes();
    out.reserve(b.len() + 2);
    out.push(b'"');
    let mut start = 0;
    let mut i = 0;
    while i < b.len() {
        if i + 8 <= b.len() {
            let w = u64::from_le_bytes(b[i..i + 8].try_into().unwrap_or_default());
            if !word_needs_escape(w) {
                i += 8;
                continue;
            }
        }
        let c = b[i];
        let e = ESCAPE[c as usize];
        if e != 0 {
            out.extend_from_slice(&b[start..i]);
            escape(out, c, e);
            start = i + 1;
        }
        i += 1;
    }
    out.extend_from_slice(&b[start..]);
    out.push(b'"');
}

#[cold]
fn escape(out: &mut Vec<u8>, byte: u8, e: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    match e {
        b'u' => {
            out.extend_from_slice(&[b'\\', b'u', b'0', b'0', HEX[(byte >> 4) as usize], HEX[(byte & 0xf) as usize]])
        }
        _ => out.extend_from_slice(&[b'\\', e]),
    }
}

/// `"key":` (the key escaped as any string).
#[inline]
pub fn key(out: &mut Vec<u8>, k: &str) {
    str(out, k);
    out.push(b':');
}

/// A number.
#[inline]
pub fn uint(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

/// A string, or `null`.
#[inline]
pub fn opt_str(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => str(out, s),
        None => out.extend_from_slice(b"null"),
    }
}

/// Writes the members of one object: `{`, then `"k":v` pairs with commas, then `}`.
pub struct Obj<'o> {
    out: &'o mut Vec<u8>,
    first: bool,
}

impl<'o> Obj<'o> {
    pub fn new(out: &'o mut Vec<u8>) -> Self {
        out.push(b'{');
        Self { out, first: true }
    }

    /// Start a member: its key; the caller writes the value into the buffer returned.
    #[inline]
    pub fn key(&mut self, k: &str) -> &mut Vec<u8> {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        key(self.out, k);
        self.out
    }

    #[inline]
    pub fn str(&mut self, k: &str, v: &str) {
        str(self.key(k), v);
    }

    #[inline]
    pub fn uint(&mut self, k: &str, v: u64) {
        uint(self.key(k), v);
    }

    pub fn end(self) {
        self.out.push(b'}');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ours(s: &str) -> String {
        let mut out = Vec::new();
        str(&mut out, s);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() {
        let mut all_bytes = String::new();
        for c in 0u8..0x80 {
            all_bytes.push(c as char);
        }
        for s in [
            "",
            "plain",
            "\"",
            "\\",
            "a \"quoted\" word and a back\\slash",
            "line\nbreak\r\n\ttab",
            "\u{8}\u{c}\u{0}\u{1f}\u{7f}",
            "naïve café – ünïcødé ✓ 🎉 日本語",
            "/slash/ and <html> & 'quotes'",
            "exactly8",
            "sixteen bytes ok",
            "seventeen\"bytes!",
            "a long text of more than eight bytes with an escape at the very end\n",
            "\u{2028}\u{2029}",
            &all_bytes,
        ] {
            assert_eq!(ours(s), serde_json::to_string(s).unwrap(), "{s:?}");
        }
    }

    #[test]
    fn objects_are_serde_jsons() {
        let mut out = Vec::new();
        let mut o = Obj::new(&mut out);
        o.str("a", "x\"y");
        o.uint("n", 42);
        opt_str(o.key("none"), None);
        opt_str(o.key("some"), Some("s"));
        o.end();
        let want = serde_json::json!({"a": "x\"y", "n": 42, "none": null, "some": "s"});
        assert_eq!(String::from_utf8(out).unwrap(), serde_json::to_string(&want).unwrap());
    }

    proptest::proptest! {
        #[test]
        fn random_strings_match_serde_json(s in "(\\PC|[\u{0}-\u{1f}\"\\\\\u{7f}])*") {
            proptest::prop_assert_eq!(ours(&s), serde_json::to_string(&s).unwrap());
        }
    }
}
