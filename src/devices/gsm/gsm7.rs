//! The GSM 7-bit default alphabet and its extension table (3GPP TS 23.038
//! §6.2.1), and the packing of septets into octets (§6.1.2.1).

/// The default alphabet: septet value -> character.
const DEFAULT: [char; 128] = [
    '@', '£', '$', '¥', 'è', 'é', 'ù', 'ì', 'ò', 'Ç', '\n', 'Ø', 'ø', '\r', 'Å', 'å', //
    'Δ', '_', 'Φ', 'Γ', 'Λ', 'Ω', 'Π', 'Ψ', 'Σ', 'Θ', 'Ξ', '\u{1b}', 'Æ', 'æ', 'ß', 'É', //
    ' ', '!', '"', '#', '¤', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/', //
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?', //
    '¡', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O', //
    'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'Ä', 'Ö', 'Ñ', 'Ü', '§', //
    '¿', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', //
    'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 'ä', 'ö', 'ñ', 'ü', 'à', //
];

/// The escape septet that introduces an extension-table character.
pub const ESC: u8 = 0x1b;

/// The extension table: (septet after ESC, character).
const EXTENSION: [(u8, char); 10] = [
    (0x0a, '\u{0c}'),
    (0x14, '^'),
    (0x28, '{'),
    (0x29, '}'),
    (0x2f, '\\'),
    (0x3c, '['),
    (0x3d, '~'),
    (0x3e, ']'),
    (0x40, '|'),
    (0x65, '€'),
];

/// The septets of one character: one, or two for the extension table;
/// `None` if the alphabet lacks it (the message then needs UCS2).
pub fn char_septets(c: char) -> Option<([u8; 2], usize)> {
    if c == '\u{1b}' {
        return None;
    }
    if let Some(i) = DEFAULT.iter().position(|&d| d == c) {
        return Some(([i as u8, 0], 1));
    }
    EXTENSION
        .iter()
        .find(|(_, e)| *e == c)
        .map(|(s, _)| ([ESC, *s], 2))
}

/// `text` as septets, or `None` if a character is not in the alphabet.
pub fn encode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len());
    for c in text.chars() {
        let (s, n) = char_septets(c)?;
        out.extend_from_slice(&s[..n]);
    }
    Some(out)
}

/// Septets as text. An escape before an unknown extension code reads as the
/// default character of that code, as the spec asks of receivers.
pub fn decode(septets: &[u8]) -> String {
    let mut out = String::with_capacity(septets.len());
    let mut i = 0;
    while i < septets.len() {
        let s = septets[i] & 0x7f;
        if s == ESC && i + 1 < septets.len() {
            let next = septets[i + 1] & 0x7f;
            match EXTENSION.iter().find(|(code, _)| *code == next) {
                Some((_, c)) => out.push(*c),
                None => out.push(DEFAULT[next as usize]),
            }
            i += 2;
            continue;
        }
        if s != ESC {
            out.push(DEFAULT[s as usize]);
        }
        i += 1;
    }
    out
}

/// Packs septets into octets, least significant bits first, after
/// `fill_bits` zero bits (used to align text after a user-data header).
pub fn pack(septets: &[u8], fill_bits: usize) -> Vec<u8> {
    let total_bits = fill_bits + septets.len() * 7;
    let mut out = vec![0u8; total_bits.div_ceil(8)];
    let mut bit = fill_bits;
    for &s in septets {
        let s = u16::from(s & 0x7f) << (bit % 8);
        out[bit / 8] |= s as u8;
        if bit % 8 > 1 {
            out[bit / 8 + 1] |= (s >> 8) as u8;
        }
        bit += 7;
    }
    out
}

/// Unpacks `count` septets from octets that start with `fill_bits` fill bits.
/// Missing octets end the text early rather than inventing characters.
pub fn unpack(octets: &[u8], count: usize, fill_bits: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(count);
    for i in 0..count {
        let bit = fill_bits + i * 7;
        let (byte, shift) = (bit / 8, bit % 8);
        let Some(&lo) = octets.get(byte) else {
            break;
        };
        let mut v = u16::from(lo) >> shift;
        if shift > 1 {
            match octets.get(byte + 1) {
                Some(&hi) => v |= u16::from(hi) << (8 - shift),
                None => break,
            }
        }
        out.push((v & 0x7f) as u8);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02X}")).collect()
    }

    #[test]
    fn the_specs_packing_example() {
        // 3GPP TS 23.038 §6.1.2.1.1 packs "hellohello" into these 9 octets.
        let septets = encode("hellohello").unwrap();
        assert_eq!(hex(&pack(&septets, 0)), "E8329BFD4697D9EC37");
        assert_eq!(decode(&unpack(&pack(&septets, 0), 10, 0)), "hellohello");
    }

    #[test]
    fn eight_septets_fill_seven_octets() {
        let s = encode("12345678").unwrap();
        let packed = pack(&s, 0);
        assert_eq!(packed.len(), 7);
        assert_eq!(hex(&packed), "31D98C56B3DD70");
        assert_eq!(unpack(&packed, 8, 0), s);
    }

    #[test]
    fn fill_bits_align_text_after_a_header() {
        // After a 6-octet UDH (48 bits) one fill bit reaches a septet boundary.
        let s = encode("Hi").unwrap();
        let packed = pack(&s, 1);
        assert_eq!(unpack(&packed, 2, 1), s);
        assert_eq!(packed[0] & 1, 0, "the fill bit is zero");
    }

    #[test]
    fn extension_characters_take_two_septets() {
        let s = encode("€[x]").unwrap();
        assert_eq!(s, [ESC, 0x65, ESC, 0x3c, 0x78, ESC, 0x3e]);
        assert_eq!(decode(&s), "€[x]");
        assert_eq!(encode("你好"), None);
        assert_eq!(encode("\u{1b}"), None);
        assert_eq!(decode(&[0x00, 0x02, 0x11]), "@$_");
        // An unknown extension code reads as the default table's character.
        assert_eq!(decode(&[ESC, 0x41]), "A");
    }

    #[test]
    fn truncated_octets_end_the_text() {
        assert_eq!(unpack(&[0xE8], 5, 0).len(), 1);
        assert!(unpack(&[], 3, 0).is_empty());
    }
}
