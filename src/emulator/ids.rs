//! Salesforce record Ids: 15-character case-sensitive form, 18-character form
//! with the case-checksum suffix, and generation of new Ids.
//!
//! The suffix encodes, for each 5-character chunk of the 15-character Id, which
//! characters are upper-case letters (bit i for character i), as one character
//! of `A..Z0..5`. That makes the 18-character form safe for case-insensitive
//! systems, and it is why both forms name the same record.

const SUFFIX_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";
const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// The 3-character checksum suffix of a 15-character Id.
fn suffix(id15: &[u8]) -> [u8; 3] {
    let mut out = [0u8; 3];
    for (chunk, slot) in id15.chunks(5).zip(out.iter_mut()) {
        let mut bits = 0usize;
        for (i, c) in chunk.iter().enumerate() {
            if c.is_ascii_uppercase() {
                bits |= 1 << i;
            }
        }
        *slot = SUFFIX_ALPHABET[bits];
    }
    out
}

/// Normalises a 15- or 18-character Id to its 18-character form.
///
/// `None` when the value is not Id-shaped (wrong length, non-alphanumeric).
/// The suffix of an 18-character input is recomputed rather than trusted, so
/// `005...aaa` and `005...AAA` name the same record, as in Salesforce.
pub fn to18(id: &str) -> Option<String> {
    let b = id.as_bytes();
    if !(b.len() == 15 || b.len() == 18) || !b.iter().all(u8::is_ascii_alphanumeric) {
        return None;
    }
    let mut out = String::with_capacity(18);
    out.push_str(&id[..15]);
    for c in suffix(&b[..15]) {
        out.push(c as char);
    }
    Some(out)
}

/// A new 18-character Id: the key prefix (`005`, `00e`, `00D`, `01g`), a fixed
/// instance part and a base-62 counter. Zero-padded base 62 in ASCII order
/// sorts like the counter, so Ids made in sequence are in `ORDER BY Id` order.
pub fn make(prefix: &str, n: u64) -> String {
    debug_assert_eq!(prefix.len(), 3);
    let mut id = [b'0'; 15];
    id[..3].copy_from_slice(prefix.as_bytes());
    id[3..6].copy_from_slice(b"EM0");
    let mut v = n;
    for slot in id[6..].iter_mut().rev() {
        *slot = BASE62[(v % 62) as usize];
        v /= 62;
    }
    let mut out = String::with_capacity(18);
    out.push_str(std::str::from_utf8(&id).expect("ASCII"));
    for c in suffix(&id) {
        out.push(c as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_suffix_from_salesforce_docs() {
        // A documented pair: 001A0000006Vm9r -> 001A0000006Vm9rIAC.
        assert_eq!(
            to18("001A0000006Vm9r").as_deref(),
            Some("001A0000006Vm9rIAC")
        );
        assert_eq!(
            to18("00e90000001aV2o").as_deref(),
            Some("00e90000001aV2oAAE")
        );
    }

    #[test]
    fn both_forms_normalise_alike() {
        let id = make("005", 12345);
        assert_eq!(id.len(), 18);
        assert_eq!(to18(&id[..15]).as_deref(), Some(id.as_str()));
        assert_eq!(
            to18(&id.to_lowercase()[..15]),
            to18(&id.to_lowercase()[..15])
        );
        assert_eq!(to18("short"), None);
        assert_eq!(to18("005EM0000000001-AA"), None);
    }

    #[test]
    fn generated_ids_sort_like_their_counter() {
        let a = make("005", 61);
        let b = make("005", 62);
        let c = make("005", 3_000_000);
        assert!(a < b && b < c, "{a} {b} {c}");
    }
}
