//! Stable identifiers: xxh3-128 over a length-prefixed canonical encoding, so the same message
//! or customer gets the same id in every run, on every machine, in every version.

use xxhash_rust::xxh3::xxh3_128;

/// Hash a sequence of fields; each is prefixed with its length so `("ab","c")` and `("a","bc")`
/// never collide by construction. The encoding is built on the stack when it is short (a
/// message id's always is): the output hashes one per message.
pub fn stable_hash(parts: &[&[u8]]) -> u128 {
    let len: usize = parts.iter().map(|p| p.len() + 8).sum();
    let mut stack = [0u8; 256];
    let mut heap = Vec::new();
    let buf: &mut [u8] = if len <= stack.len() {
        &mut stack[..len]
    } else {
        heap.resize(len, 0);
        &mut heap
    };
    let mut at = 0;
    for p in parts {
        buf[at..at + 8].copy_from_slice(&(p.len() as u64).to_le_bytes());
        buf[at + 8..at + 8 + p.len()].copy_from_slice(p);
        at += 8 + p.len();
    }
    xxh3_128(buf)
}

/// The id of one message: customer, dialogue, instance, step, the visit of that step in the
/// instance (1 = first time entered) and attempt (0 = the step's message, 1.. = its
/// escalations).
pub fn message_id(customer: &str, dialogue: &str, instance: u32, step: &str, visit: u32, attempt: u32) -> String {
    let hex = hex32(message_hash(customer, dialogue, instance, step, visit, attempt));
    String::from_utf8_lossy(&hex).into_owned()
}

/// The 128-bit hash behind a message id. A first visit hashes exactly as before visits were
/// counted, so the ids of every message of a step entered once are unchanged; a revisit (a
/// loop back to a step) adds the visit number, so each visit's messages have their own ids.
pub fn message_hash(customer: &str, dialogue: &str, instance: u32, step: &str, visit: u32, attempt: u32) -> u128 {
    let (instance, attempt, visit_le) = (instance.to_le_bytes(), attempt.to_le_bytes(), visit.to_le_bytes());
    let parts: [&[u8]; 8] = [
        b"kairos.message.v1",
        customer.as_bytes(),
        dialogue.as_bytes(),
        &instance,
        step.as_bytes(),
        &attempt,
        b"visit",
        &visit_le,
    ];
    stable_hash(if visit > 1 { &parts } else { &parts[..6] })
}

/// The hash of a message of an announcement's run: the catalogue row (`item`: its id, type and
/// time) stands for the run number, so a row added to the feed later, or a customer's key
/// changing, never renumbers (and so re-sends) the announcements already made.
pub fn message_hash_item(customer: &str, dialogue: &str, item: &str, step: &str, visit: u32, attempt: u32) -> u128 {
    let (attempt, visit) = (attempt.to_le_bytes(), visit.to_le_bytes());
    stable_hash(&[
        b"kairos.message.item.v1",
        customer.as_bytes(),
        dialogue.as_bytes(),
        item.as_bytes(),
        step.as_bytes(),
        &visit,
        &attempt,
    ])
}

/// Lower-case hex, 32 digits, without allocating.
pub fn hex32(h: u128) -> [u8; 32] {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0u8; 32];
    for (pair, b) in out.chunks_exact_mut(2).zip(h.to_be_bytes()) {
        pair[0] = DIGITS[(b >> 4) as usize];
        pair[1] = DIGITS[(b & 0xf) as usize];
    }
    out
}

/// A number in `[0, 1)` fixed for a customer and a salt (e.g. a dialogue id): used to pick
/// holdout groups the same way every run.
pub fn unit_interval(customer: &str, salt: &str) -> f64 {
    let h = stable_hash(&[b"kairos.bucket.v1", customer.as_bytes(), salt.as_bytes()]);
    ((h >> 75) as f64) / ((1u64 << 53) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_are_pinned() {
        // Pinned: if this changes, every id a mail tool has stored changes with it.
        let id = message_id("C1", "win_back", 1, "call", 1, 0);
        assert_eq!(id, "4dba22998c4355ffbe43dd82d343af1d");
        assert_eq!(id.len(), 32);
        assert_eq!(id, format!("{:032x}", message_hash("C1", "win_back", 1, "call", 1, 0)));
        assert_ne!(id, message_id("C1", "win_back", 2, "call", 1, 0));
        assert_ne!(id, message_id("C1", "win_back", 1, "call", 1, 1));
        // A second visit of the step in the same instance is another message.
        let again = message_id("C1", "win_back", 1, "call", 2, 0);
        assert_eq!(again, "67b1c4c052ebe6d5662e989c123c6376");
        assert_ne!(again, id);
        assert_ne!(again, message_id("C1", "win_back", 1, "call", 3, 0));
        assert_ne!(stable_hash(&[b"ab", b"c"]), stable_hash(&[b"a", b"bc"]));
    }

    #[test]
    fn announcement_ids_are_pinned_and_keyed_by_the_item() {
        let h = message_hash_item("C1", "new_title", "B1\u{1f}arrival\u{1f}1735689600", "tell", 1, 0);
        assert_eq!(format!("{h:032x}"), "8e30143b24f48de094635c86c29ce2a8");
        assert_ne!(h, message_hash_item("C1", "new_title", "B2\u{1f}arrival\u{1f}1735689600", "tell", 1, 0));
        assert_ne!(h, message_hash_item("C2", "new_title", "B1\u{1f}arrival\u{1f}1735689600", "tell", 1, 0));
        assert_ne!(h, message_hash_item("C1", "new_title", "B1\u{1f}arrival\u{1f}1735689600", "tell", 1, 1));
    }

    #[test]
    fn long_fields_hash_as_short_ones_do() {
        // Past the stack buffer the encoding goes to the heap; the hash is of the same bytes.
        let long = "x".repeat(300);
        let mut enc = Vec::new();
        for p in [b"a".as_slice(), long.as_bytes(), b""] {
            enc.extend_from_slice(&(p.len() as u64).to_le_bytes());
            enc.extend_from_slice(p);
        }
        assert_eq!(stable_hash(&[b"a", long.as_bytes(), b""]), xxh3_128(&enc));
        assert_eq!(stable_hash(&[]), xxh3_128(b""));
        let h = message_hash(&long, "d", 7, "s", 3, 1);
        assert_eq!(hex32(h), *format!("{h:032x}").as_bytes());
        assert_eq!(hex32(u128::MAX), [b'f'; 32]);
        assert_eq!(hex32(0x0123_4567_89ab_cdef_0011_2233_4455_6677), *b"0123456789abcdef0011223344556677");
    }

    #[test]
    fn unit_interval_in_range() {
        for c in ["a", "b", "C0000001", ""] {
            let u = unit_interval(c, "d");
            assert!((0.0..1.0).contains(&u));
        }
    }
}
