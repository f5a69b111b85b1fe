//! How long an SMS is on the wire: GSM 03.38 (7-bit, with the extension table's characters
//! costing two) when every character is in it, else UCS-2 (UTF-16 code units). A single
//! message holds 160 septets or 70 units; a concatenated one 153 or 67 per part (the rest is
//! the user data header).

/// The encoding an SMS text needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Gsm7,
    Ucs2,
}

impl Encoding {
    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::Gsm7 => "GSM-7",
            Encoding::Ucs2 => "UCS-2",
        }
    }
}

/// The length of a text as an SMS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Length {
    pub encoding: Encoding,
    /// Septets (GSM-7) or UTF-16 code units (UCS-2).
    pub units: usize,
    pub segments: usize,
}

const GSM_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
const GSM_EXTENSION: &str = "\u{c}^{}\\[~]|€";

/// ASCII characters in the GSM 03.38 basic table (the rest of it is outside ASCII).
const GSM_ASCII: [bool; 128] = {
    let mut t = [false; 128];
    let basic = GSM_BASIC.as_bytes();
    let mut i = 0;
    while i < basic.len() {
        if basic[i] < 128 {
            t[basic[i] as usize] = true;
        }
        i += 1;
    }
    t
};

/// Septets of `c` in GSM-7, or None if it has none.
fn gsm_septets(c: char) -> Option<usize> {
    if c.is_ascii() && GSM_ASCII[c as usize] {
        Some(1)
    } else if c.is_ascii() && !GSM_EXTENSION.contains(c) {
        None
    } else if GSM_BASIC.contains(c) {
        Some(1)
    } else if GSM_EXTENSION.contains(c) {
        Some(2)
    } else {
        None
    }
}

/// The length of `text` as an SMS. An empty text is one (empty) segment. Past one segment the
/// text is cut into parts of 153 septets (67 units), and a character is never split between
/// two: an extension character's escape and its septet, or a surrogate pair, go to the next
/// part whole, so a part may hold one unit less.
pub fn length(text: &str) -> Length {
    let gsm: Option<usize> = text.chars().map(gsm_septets).sum();
    let (encoding, units, single, multi) = match gsm {
        Some(n) => (Encoding::Gsm7, n, 160, 153),
        None => (Encoding::Ucs2, text.encode_utf16().count(), 70, 67),
    };
    let segments = if units <= single {
        1
    } else {
        let width = |c: char| match encoding {
            Encoding::Gsm7 => gsm_septets(c).unwrap_or(1),
            Encoding::Ucs2 => c.len_utf16(),
        };
        let (mut parts, mut used) = (1, 0);
        for c in text.chars() {
            let w = width(c);
            if used + w > multi {
                parts += 1;
                used = 0;
            }
            used += w;
        }
        parts
    };
    Length { encoding, units, segments }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_ascii_fits_160_septets_in_one_segment() {
        let l = length(&"a".repeat(160));
        assert_eq!(l, Length { encoding: Encoding::Gsm7, units: 160, segments: 1 });
        assert_eq!(length(&"a".repeat(161)).segments, 2, "past 160, parts of 153");
        assert_eq!(length(&"a".repeat(306)).segments, 2);
        assert_eq!(length(&"a".repeat(307)).segments, 3);
    }

    #[test]
    fn extension_characters_cost_two_septets() {
        let l = length("€5 off [today]");
        assert_eq!(l.encoding, Encoding::Gsm7);
        assert_eq!(l.units, 14 + 3, "€, [ and ] take two septets each");
        assert_eq!(length(&"€".repeat(80)).segments, 1);
        assert_eq!(length(&"€".repeat(81)).segments, 2);
    }

    #[test]
    fn one_character_outside_gsm_makes_the_whole_text_ucs2() {
        let l = length("Thanks Zoë — see you soon");
        assert_eq!(l.encoding, Encoding::Ucs2, "the em dash is not in GSM 03.38 (ë is not either)");
        assert_eq!(l.units, 25);
        assert_eq!(length(&"ж".repeat(70)).segments, 1);
        assert_eq!(length(&"ж".repeat(71)).segments, 2);
        assert_eq!(length(&"ж".repeat(135)).segments, 3, "67 per part");
    }

    #[test]
    fn a_character_is_never_split_between_parts() {
        // 306 septets fit two parts of 153 only if the € (escape + septet) may straddle them.
        let euro = format!("{}€{}", "a".repeat(152), "a".repeat(152));
        assert_eq!(length(&euro), Length { encoding: Encoding::Gsm7, units: 306, segments: 3 });
        let whole = format!("{}€{}", "a".repeat(151), "a".repeat(153));
        assert_eq!(length(&whole).segments, 2, "the € ends the first part");
        // 134 units, a surrogate pair at units 67–68.
        let pair = format!("{}😀{}", "ж".repeat(66), "ж".repeat(66));
        assert_eq!(length(&pair), Length { encoding: Encoding::Ucs2, units: 134, segments: 3 });
        let fits = format!("{}😀{}", "ж".repeat(65), "ж".repeat(67));
        assert_eq!(length(&fits).segments, 2);
    }

    #[test]
    fn characters_outside_the_bmp_take_two_units() {
        let l = length("🎉");
        assert_eq!((l.encoding, l.units, l.segments), (Encoding::Ucs2, 2, 1));
    }

    #[test]
    fn accented_letters_in_the_gsm_table_stay_gsm7() {
        assert_eq!(length("é à ü Ñ").encoding, Encoding::Gsm7);
        assert_eq!(length("").segments, 1);
    }
}
