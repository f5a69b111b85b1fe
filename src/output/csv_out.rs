//! A CSV writer straight into a byte buffer, writing exactly what the `csv` crate's default
//! writer writes (`,` between fields, `\n` after a record, `QuoteStyle::Necessary` with quotes
//! doubled): a field is quoted when it holds `,`, `"`, `\r` or `\n`, and a record of nothing
//! (no field, or one empty field) is written `""`. Fields that need no quotes (nearly all of a
//! plan's) are copied in one go, without the `csv` crate's per-field state machine and its
//! intermediate buffer.

/// The bytes that make a field quoted.
const SPECIAL: [bool; 256] = {
    let mut t = [false; 256];
    t[b',' as usize] = true;
    t[b'"' as usize] = true;
    t[b'\r' as usize] = true;
    t[b'\n' as usize] = true;
    t
};

/// Does `field` need quotes (the `csv` crate's `QuoteStyle::Necessary`)?
#[inline]
pub fn needs_quotes(field: &[u8]) -> bool {
    #[cfg(target_arch = "x86_64")]
    if field.len() >= 16 {
        // SAFETY: SSE2 is part of the x86-64 baseline: every x86-64 CPU has it.
        return unsafe { needs_quotes_sse2(field) };
    }
    field.iter().any(|&b| SPECIAL[b as usize])
}

/// `needs_quotes` for a field of 16 bytes or more, 16 bytes at a time (the last block
/// overlaps the one before it).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse2")]
fn needs_quotes_sse2(field: &[u8]) -> bool {
    use std::arch::x86_64::{__m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8};
    debug_assert!(field.len() >= 16);
    let splat = |b: u8| _mm_set1_epi8(b as i8);
    let (comma, quote, cr, nl) = (splat(b','), splat(b'"'), splat(b'\r'), splat(b'\n'));
    let special = |at: usize| {
        // SAFETY: callers pass `at + 16 <= field.len()`; `loadu` needs no alignment.
        let v = unsafe { _mm_loadu_si128(field.as_ptr().add(at).cast::<__m128i>()) };
        let hit = _mm_or_si128(
            _mm_or_si128(_mm_cmpeq_epi8(v, comma), _mm_cmpeq_epi8(v, quote)),
            _mm_or_si128(_mm_cmpeq_epi8(v, cr), _mm_cmpeq_epi8(v, nl)),
        );
        _mm_movemask_epi8(hit) != 0
    };
    let last = field.len() - 16;
    let mut at = 0;
    while at < last {
        if special(at) {
            return true;
        }
        at += 16;
    }
    special(last)
}

/// `field` between quotes, its quotes doubled.
fn put_quoted(out: &mut Vec<u8>, prefix: &[u8], mut field: &[u8]) {
    out.reserve(field.len() + prefix.len() + 2);
    out.push(b'"');
    out.extend_from_slice(prefix);
    while let Some(i) = memchr::memchr(b'"', field) {
        out.extend_from_slice(&field[..=i]);
        out.push(b'"');
        field = &field[i + 1..];
    }
    out.extend_from_slice(field);
    out.push(b'"');
}

/// CSV records written field by field into a `Vec<u8>`.
#[derive(Debug, Default)]
pub struct CsvOut {
    buf: Vec<u8>,
    /// Fields written in the current record.
    fields: usize,
    /// Where the current record starts in `buf`.
    record_start: usize,
}

impl CsvOut {
    /// A writer appending to `buf`.
    pub fn new(buf: Vec<u8>) -> Self {
        let record_start = buf.len();
        Self { buf, fields: 0, record_start }
    }

    pub fn into_inner(self) -> Vec<u8> {
        self.buf
    }

    /// A writer of fields that will follow other fields of a record: each one is written
    /// with the comma before it, for `rendered` to append as they are (fields repeated on
    /// many records, such as a customer's profile, rendered once).
    pub fn following() -> Self {
        Self { buf: Vec::new(), fields: 1, record_start: 0 }
    }

    /// `n` fields that a `following` writer rendered into `fields`, appended to the record.
    pub fn rendered(&mut self, fields: &[u8], n: usize) {
        if n == 0 {
            return;
        }
        // The first field of a record has no comma before it.
        let bytes = if self.fields == 0 { &fields[1..] } else { fields };
        self.buf.extend_from_slice(bytes);
        self.fields += n;
    }

    #[inline]
    fn delimit(&mut self) {
        if self.fields > 0 {
            self.buf.push(b',');
        }
        self.fields += 1;
    }

    /// One field, quoted when it must be.
    #[inline]
    pub fn field(&mut self, field: impl AsRef<[u8]>) {
        self.field_with_prefix(b"", field.as_ref());
    }

    /// One field made of `prefix` (bytes that never need quotes) then `field`.
    #[inline]
    pub fn field_with_prefix(&mut self, prefix: &[u8], field: &[u8]) {
        debug_assert!(!needs_quotes(prefix));
        self.delimit();
        if needs_quotes(field) {
            put_quoted(&mut self.buf, prefix, field);
        } else {
            self.buf.reserve(prefix.len() + field.len() + 1);
            self.buf.extend_from_slice(prefix);
            self.buf.extend_from_slice(field);
        }
    }

    /// One field of bytes that never need quotes (digits, hex, timestamps), as it is.
    #[inline]
    pub fn plain(&mut self, field: &[u8]) {
        debug_assert!(!needs_quotes(field));
        self.delimit();
        self.buf.extend_from_slice(field);
    }

    /// End the record.
    #[inline]
    pub fn end_record(&mut self) {
        if self.buf.len() == self.record_start {
            // Nothing written: an empty record reads back as one empty field.
            self.buf.extend_from_slice(b"\"\"");
        }
        self.buf.push(b'\n');
        self.fields = 0;
        self.record_start = self.buf.len();
    }

    /// A whole record.
    pub fn record<I, T>(&mut self, fields: I)
    where
        I: IntoIterator<Item = T>,
        T: AsRef<[u8]>,
    {
        for f in fields {
            self.field(f);
        }
        self.end_record();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_rendered_once_are_the_fields_written_each_time() {
        let fields: [&[u8]; 4] = [b"Emma, R.", b"", b"say \"hi\"", b"plain"];
        let mut once = CsvOut::following();
        for f in fields {
            once.field(f);
        }
        let once = once.into_inner();
        let (mut direct, mut reused) = (CsvOut::new(Vec::new()), CsvOut::new(Vec::new()));
        // After other fields, as the only fields of a record, and none at all.
        for lead in [&[&b"id"[..], b"x,y"][..], &[]] {
            for f in lead {
                direct.field(f);
                reused.field(f);
            }
            for f in fields {
                direct.field(f);
            }
            reused.rendered(&once, fields.len());
            direct.end_record();
            reused.end_record();
        }
        reused.rendered(b"", 0);
        reused.end_record();
        direct.end_record();
        let direct = direct.into_inner();
        assert_eq!(String::from_utf8(reused.into_inner()).unwrap(), String::from_utf8(direct.clone()).unwrap());
        assert_eq!(
            direct,
            by_csv_crate(&[vec![b"id", b"x,y", b"Emma, R.", b"", b"say \"hi\"", b"plain"], fields.to_vec(), vec![]])
        );
    }

    /// What the `csv` crate's default writer (as kairos configured it) writes.
    fn by_csv_crate(records: &[Vec<&[u8]>]) -> Vec<u8> {
        let mut w = csv::WriterBuilder::new().has_headers(false).flexible(true).from_writer(Vec::new());
        for r in records {
            for f in r {
                w.write_field(f).unwrap();
            }
            w.write_record(None::<&[u8]>).unwrap();
        }
        w.into_inner().unwrap()
    }

    fn by_us(records: &[Vec<&[u8]>]) -> Vec<u8> {
        let mut w = CsvOut::new(Vec::new());
        for r in records {
            w.record(r);
        }
        w.into_inner()
    }

    const TRICKY: [&str; 27] = [
        "",
        " ",
        "plain",
        " leading",
        "trailing ",
        "a,b",
        ",",
        "\"",
        "\"\"",
        "say \"hi\"",
        "\"quoted\"",
        "line\nbreak",
        "\n",
        "cr\rhere",
        "\r\n",
        "tab\there",
        "#comment",
        "'quote",
        "=1+2",
        "naïve café – ünïcødé ✓ 🎉",
        "日本語,テキスト",
        "\u{feff}bom",
        "x\0y",
        "a long field without anything special in it at all, ok no: a comma",
        "a long field without anything special in it at all and no specials",
        "a long field with a quote \" right in the middle of it, and more text",
        "a long field ending in a carriage return ..........................\r",
    ];

    #[test]
    fn fields_are_written_as_the_csv_crate_writes_them() {
        // Every tricky field alone, in pairs, and all together.
        let mut records: Vec<Vec<&[u8]>> = vec![vec![], vec![b""], vec![b"", b""], vec![b"", b"", b""]];
        for a in TRICKY {
            records.push(vec![a.as_bytes()]);
            for b in TRICKY {
                records.push(vec![a.as_bytes(), b.as_bytes()]);
            }
        }
        records.push(TRICKY.iter().map(|s| s.as_bytes()).collect());
        assert_eq!(String::from_utf8_lossy(&by_us(&records)), String::from_utf8_lossy(&by_csv_crate(&records)));
        assert_eq!(by_us(&records), by_csv_crate(&records));
    }

    /// Every length to 80 and every place of each special byte (and of bytes next to them):
    /// the 16-byte blocks, their overlapping last block and the short fields all see it.
    #[test]
    fn needs_quotes_finds_a_special_byte_anywhere() {
        for len in 0..80 {
            let plain = vec![b'a'; len];
            assert!(!needs_quotes(&plain), "len {len}");
            for at in 0..len {
                for b in [b',', b'"', b'\r', b'\n', b'+', b'-', b'!', b'\t', 0x8c, 0xac] {
                    let mut f = plain.clone();
                    f[at] = b;
                    assert_eq!(needs_quotes(&f), SPECIAL[b as usize], "len {len}, {b:#x} at {at}");
                }
            }
        }
    }

    #[test]
    fn plain_fields_are_written_as_they_are() {
        let mut w = CsvOut::new(Vec::new());
        w.plain(b"0123abcdef");
        w.field("x,y");
        w.plain(b"2025-01-02T03:04:05Z");
        w.end_record();
        assert_eq!(w.into_inner(), b"0123abcdef,\"x,y\",2025-01-02T03:04:05Z\n");
    }

    #[test]
    fn a_prefix_goes_inside_the_quotes() {
        let mut w = CsvOut::new(Vec::new());
        w.field_with_prefix(b"'", b"=HYPERLINK(\"x\")");
        w.field_with_prefix(b"'", b"+1 555");
        w.field_with_prefix(b"'", b"");
        w.end_record();
        assert_eq!(w.into_inner(), b"\"'=HYPERLINK(\"\"x\"\")\",'+1 555,'\n");
    }

    #[test]
    fn appends_to_what_the_buffer_holds() {
        let mut w = CsvOut::new(b"head\n".to_vec());
        w.end_record();
        w.record([""]);
        w.record(["a"]);
        assert_eq!(w.into_inner(), b"head\n\"\"\n\"\"\na\n");
    }

    proptest::proptest! {
        #[test]
        fn random_records_match_the_csv_crate(
            records in proptest::collection::vec(
                proptest::collection::vec("[a ,\"\r\n\t'=é日]{0,40}", 0..6), 0..8)
        ) {
            let records: Vec<Vec<&[u8]>> =
                records.iter().map(|r| r.iter().map(|f| f.as_bytes()).collect()).collect();
            proptest::prop_assert_eq!(by_us(&records), by_csv_crate(&records));
        }
    }
}
