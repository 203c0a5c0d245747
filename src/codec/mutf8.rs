//! Java's "modified UTF-8" (`DataOutput.writeUTF`): UTF-8 of the UTF-16 code units, except that
//! NUL is `C0 80` and a character beyond the BMP is its two surrogates, three bytes each.

/// Length of `s` in modified UTF-8.
pub(super) fn encoded_len(s: &str) -> usize {
    s.chars()
        .map(|c| match u32::from(c) {
            0 => 2,
            0x01..=0x7F => 1,
            0x80..=0x7FF => 2,
            0x800..=0xFFFF => 3,
            _ => 6,
        })
        .sum()
}

/// Appends `s` in modified UTF-8, as `writeUTF` writes each UTF-16 code unit.
pub(super) fn encode_into(s: &str, out: &mut Vec<u8>) {
    let mut units = [0u16; 2];
    for c in s.chars() {
        for &unit in c.encode_utf16(&mut units).iter() {
            match unit {
                0x01..=0x7F => out.push(unit as u8),
                0 | 0x80..=0x7FF => out.extend_from_slice(&[0xC0 | (unit >> 6) as u8, 0x80 | (unit & 0x3F) as u8]),
                _ => out.extend_from_slice(&[
                    0xE0 | (unit >> 12) as u8,
                    0x80 | ((unit >> 6) & 0x3F) as u8,
                    0x80 | (unit & 0x3F) as u8,
                ]),
            }
        }
    }
}

/// Decodes modified UTF-8 as `writeUTF` writes it. Anything else fails with the position of
/// the offending sequence: a raw NUL, an overlong form other than `C0 80`, 4-byte UTF-8, a
/// stray continuation byte, a cut sequence, or an unpaired surrogate (Rust strings cannot
/// hold one).
pub(super) fn decode(bytes: &[u8]) -> Result<String, usize> {
    let mut out = String::with_capacity(bytes.len());
    let mut pos = 0;
    while pos < bytes.len() {
        let start = pos;
        let (unit, len) = unit_at(bytes, pos).ok_or(start)?;
        pos += len;
        let code_point = match unit {
            0xD800..=0xDBFF => match unit_at(bytes, pos) {
                Some((low @ 0xDC00..=0xDFFF, low_len)) => {
                    pos += low_len;
                    0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
                }
                _ => return Err(start),
            },
            0xDC00..=0xDFFF => return Err(start),
            _ => unit,
        };
        out.push(char::from_u32(code_point).ok_or(start)?);
    }
    Ok(out)
}

/// The UTF-16 code unit encoded at `pos` and the length of its encoding.
fn unit_at(bytes: &[u8], pos: usize) -> Option<(u32, usize)> {
    let continuation = |i: usize| bytes.get(pos + i).filter(|&&b| b & 0xC0 == 0x80).map(|&b| u32::from(b & 0x3F));
    let lead = *bytes.get(pos)?;
    match lead {
        0x01..=0x7F => Some((u32::from(lead), 1)),
        0xC0..=0xDF => {
            let unit = (u32::from(lead & 0x1F) << 6) | continuation(1)?;
            // Only NUL may use a longer form than needed.
            (unit == 0 || unit >= 0x80).then_some((unit, 2))
        }
        0xE0..=0xEF => {
            let unit = (u32::from(lead & 0x0F) << 12) | (continuation(1)? << 6) | continuation(2)?;
            (unit >= 0x800).then_some((unit, 3))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(s: &str) -> Vec<u8> {
        let mut out = Vec::new();
        encode_into(s, &mut out);
        assert_eq!(out.len(), encoded_len(s), "encoded_len({s:?})");
        out
    }

    #[test]
    fn ascii_and_bmp_text_is_plain_utf8() {
        for s in ["", "127.0.0.1:6123", "é", "\u{7FF}", "\u{800}", "€", "\u{FFFF}"] {
            assert_eq!(encode(s), s.as_bytes());
            assert_eq!(decode(s.as_bytes()).as_deref(), Ok(s));
        }
    }

    #[test]
    fn nul_is_two_bytes() {
        assert_eq!(encode("a\0b"), [b'a', 0xC0, 0x80, b'b']);
        assert_eq!(decode(&[b'a', 0xC0, 0x80, b'b']).as_deref(), Ok("a\0b"));
    }

    #[test]
    fn beyond_the_bmp_is_two_surrogates() {
        // U+1F600 = D83D DE00.
        let bytes = [0xED, 0xA0, 0xBD, 0xED, 0xB8, 0x80];
        assert_eq!(encode("😀"), bytes);
        assert_eq!(decode(&bytes).as_deref(), Ok("😀"));
        // U+10000 and U+10FFFF, the ends of the range.
        for s in ["\u{10000}", "\u{10FFFF}"] {
            assert_eq!(decode(&encode(s)).as_deref(), Ok(s));
        }
    }

    #[test]
    fn what_writeutf_never_writes_is_rejected() {
        let cases: [(&[u8], usize); 11] = [
            (&[b'a', 0x00], 1),                               // raw NUL
            (&[0xC0, 0x81], 0),                               // overlong U+0001
            (&[0xC1, 0xBF], 0),                               // overlong U+007F
            (&[0xE0, 0x9F, 0xBF], 0),                         // overlong U+07FF
            (&[0xF0, 0x9F, 0x98, 0x80], 0),                   // 4-byte UTF-8 of U+1F600
            (&[b'a', 0x80], 1),                               // stray continuation byte
            (&[0xE2, 0x82], 0),                               // cut sequence
            (&[0xC3, 0x41], 0),                               // lead without continuation
            (&[0xED, 0xA0, 0xBD], 0),                         // lone high surrogate
            (&[0xED, 0xB8, 0x80], 0),                         // lone low surrogate
            (&[b'x', 0xED, 0xA0, 0xBD, b'a', b'b', b'c'], 1), // high then non-low
        ];
        for (bytes, position) in cases {
            assert_eq!(decode(bytes), Err(position), "{bytes:02X?}");
        }
    }
}
