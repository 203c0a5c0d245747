//! Leader-information codecs: what a Java (Flink) peer writes and reads, and what garbage in the
//! leader node does (it is an error, never a panic).
//!
//! The byte vectors below were checked against Java 17's `ObjectOutputStream` /
//! `ObjectInputStream`; `java_reference` models the JDK's `BlockDataOutputStream` so the property
//! tests can compare every generated address with what Java would write.

use proptest::prelude::*;
use uuid::Uuid;
use zk_election::codec::{DecodeError, EncodeError, LeaderInfo, LeaderInfoCodec};

const SESSION_ID: &str = "123e4567-e89b-12d3-a456-426614174000";

fn fixed(address: &str) -> LeaderInfo {
    LeaderInfo::new(address, Uuid::parse_str(SESSION_ID).unwrap())
}

/// The `java.util.UUID` object Java writes for [`SESSION_ID`] (it follows the address).
#[rustfmt::skip]
const UUID_OBJECT: [u8; 76] = [
    0x73, 0x72, 0x00, 0x0E, b'j', b'a', b'v', b'a', b'.', b'u', b't', b'i', b'l', b'.', b'U', b'U',
    b'I', b'D', 0xBC, 0x99, 0x03, 0xF7, 0x98, 0x6D, 0x85, 0x2F, 0x02, 0x00, 0x02, 0x4A, 0x00, 0x0C,
    b'l', b'e', b'a', b's', b't', b'S', b'i', b'g', b'B', b'i', b't', b's', 0x4A, 0x00, 0x0B, b'm',
    b'o', b's', b't', b'S', b'i', b'g', b'B', b'i', b't', b's', 0x78, 0x70,
    // leastSigBits, then mostSigBits
    0xA4, 0x56, 0x42, 0x66, 0x14, 0x17, 0x40, 0x00, 0x12, 0x3E, 0x45, 0x67, 0xE8, 0x9B, 0x12, 0xD3,
];

#[test]
fn java_bytes_for_a_fixed_address_are_flinks() {
    // Printed by Java 17: writeUTF("127.0.0.1:6123"); writeObject(UUID.fromString(SESSION_ID)).
    #[rustfmt::skip]
    let java: [u8; 98] = [
        0xAC, 0xED, 0x00, 0x05, 0x77, 0x10, 0x00, 0x0E, 0x31, 0x32, 0x37, 0x2E, 0x30, 0x2E, 0x30,
        0x2E, 0x31, 0x3A, 0x36, 0x31, 0x32, 0x33, 0x73, 0x72, 0x00, 0x0E, 0x6A, 0x61, 0x76, 0x61,
        0x2E, 0x75, 0x74, 0x69, 0x6C, 0x2E, 0x55, 0x55, 0x49, 0x44, 0xBC, 0x99, 0x03, 0xF7, 0x98,
        0x6D, 0x85, 0x2F, 0x02, 0x00, 0x02, 0x4A, 0x00, 0x0C, 0x6C, 0x65, 0x61, 0x73, 0x74, 0x53,
        0x69, 0x67, 0x42, 0x69, 0x74, 0x73, 0x4A, 0x00, 0x0B, 0x6D, 0x6F, 0x73, 0x74, 0x53, 0x69,
        0x67, 0x42, 0x69, 0x74, 0x73, 0x78, 0x70, 0xA4, 0x56, 0x42, 0x66, 0x14, 0x17, 0x40, 0x00,
        0x12, 0x3E, 0x45, 0x67, 0xE8, 0x9B, 0x12, 0xD3,
    ];
    let info = fixed("127.0.0.1:6123");
    assert_eq!(LeaderInfoCodec::Java.encode(&info).unwrap(), java);
    assert_eq!(LeaderInfoCodec::Java.decode(&java), Ok(info));
    assert_eq!(java[java.len() - 76..], UUID_OBJECT);
}

#[test]
fn java_bytes_for_nul_and_a_character_beyond_the_bmp() {
    // Java 17 wrote these for "a\0😀" and read them back with readUTF + readObject.
    let mut java = vec![0xAC, 0xED, 0x00, 0x05, 0x77, 0x0B, 0x00, 0x09, b'a'];
    java.extend_from_slice(&[0xC0, 0x80]); // NUL
    java.extend_from_slice(&[0xED, 0xA0, 0xBD, 0xED, 0xB8, 0x80]); // U+1F600 as D83D DE00
    java.extend_from_slice(&UUID_OBJECT);
    let info = fixed("a\0😀");
    assert_eq!(LeaderInfoCodec::Java.encode(&info).unwrap(), java);
    assert_eq!(LeaderInfoCodec::Java.decode(&java), Ok(info));
}

#[test]
fn java_address_of_300_bytes_uses_the_long_block_header() {
    let address = "a".repeat(300);
    let encoded = LeaderInfoCodec::Java.encode(&fixed(&address)).unwrap();
    // TC_BLOCKDATALONG, 302 bytes: the UTF length 300, then the address.
    assert_eq!(encoded[..11], [0xAC, 0xED, 0x00, 0x05, 0x7A, 0, 0, 0x01, 0x2E, 0x01, 0x2C]);
    assert_eq!(&encoded[11..311], address.as_bytes());
    assert_eq!(encoded[311..], UUID_OBJECT);
}

#[test]
fn java_address_of_2000_bytes_spans_two_block_records() {
    let address = "a".repeat(2000);
    let encoded = LeaderInfoCodec::Java.encode(&fixed(&address)).unwrap();
    // 2002 bytes of block data: a full 1024-byte buffer, then 978.
    assert_eq!(encoded[..11], [0xAC, 0xED, 0x00, 0x05, 0x7A, 0, 0, 0x04, 0x00, 0x07, 0xD0]);
    assert_eq!(encoded[1033..1038], [0x7A, 0, 0, 0x03, 0xD2]);
    assert_eq!(encoded[1038..2016], address.as_bytes()[1022..]);
    assert_eq!(encoded[2016..], UUID_OBJECT);
    assert_eq!(encoded, java_reference(&fixed(&address)));
}

#[test]
fn java_refuses_addresses_writeutf_refuses() {
    let cases = [
        ("a".repeat(65535), Ok(())),
        ("a".repeat(65536), Err(65536)),
        // NUL takes two bytes.
        ("\0".repeat(32767), Ok(())),
        ("\0".repeat(32768), Err(65536)),
        // 4 bytes of UTF-8 but 6 of modified UTF-8 each: the limit counts the latter.
        ("😀".repeat(10922), Ok(())),
        ("😀".repeat(10923), Err(65538)),
    ];
    for (address, expected) in cases {
        let info = fixed(&address);
        match (LeaderInfoCodec::Java.encode(&info), expected) {
            (Ok(bytes), Ok(())) => assert!(LeaderInfoCodec::Java.decode(&bytes) == Ok(info)),
            (Err(EncodeError::AddressTooLong { codec, len, max }), Err(expected_len)) => {
                assert_eq!((codec, len, max), (LeaderInfoCodec::Java, expected_len, 65535));
            }
            (result, expected) => panic!(
                "address of {} chars: got {:?}, expected {expected:?}",
                address.chars().count(),
                result.map(|bytes| bytes.len())
            ),
        }
    }
}

#[test]
fn each_codec_treats_the_others_data_as_foreign() {
    let info = fixed("127.0.0.1:6123");
    let java = LeaderInfoCodec::Java.encode(&info).unwrap();
    let bincode = LeaderInfoCodec::Bincode.encode(&info).unwrap();
    assert_eq!(LeaderInfoCodec::Bincode.decode(&java), Err(DecodeError::UnsupportedVersion(0xAC)));
    assert_eq!(LeaderInfoCodec::Java.decode(&bincode), Err(DecodeError::BadMagic));
}

#[test]
fn every_cut_of_a_two_block_java_encoding_is_truncated() {
    let info = fixed(&format!("a\0{}", "😀€é".repeat(200)));
    let encoded = LeaderInfoCodec::Java.encode(&info).unwrap();
    assert!(encoded.len() > 1024 + 84, "spans two block records");
    assert_truncations_fail(LeaderInfoCodec::Java, &encoded);
}

/// Every proper prefix of `encoded` is `Empty` (the empty one) or `Truncated`.
fn assert_truncations_fail(codec: LeaderInfoCodec, encoded: &[u8]) {
    for cut in 0..encoded.len() {
        let expected = if cut == 0 { DecodeError::Empty } else { DecodeError::Truncated };
        assert_eq!(
            codec.decode(&encoded[..cut]),
            Err(expected),
            "{codec} encoding of {} bytes cut at {cut}",
            encoded.len()
        );
    }
}

/// What Java writes, modelled on the JDK's `ObjectOutputStream`: `writeUTF` puts the u16 length
/// and each UTF-16 code unit into a 1024-byte buffer, which is written out as a block-data
/// record whenever it is full and before the object.
fn java_reference(info: &LeaderInfo) -> Vec<u8> {
    struct BlockData {
        out: Vec<u8>,
        buf: Vec<u8>,
    }
    impl BlockData {
        fn write(&mut self, byte: u8) {
            if self.buf.len() >= 1024 {
                self.drain();
            }
            self.buf.push(byte);
        }
        fn drain(&mut self) {
            if self.buf.is_empty() {
                return;
            }
            match u8::try_from(self.buf.len()) {
                Ok(len) => self.out.extend_from_slice(&[0x77, len]),
                Err(_) => {
                    self.out.push(0x7A);
                    self.out.extend_from_slice(&(self.buf.len() as u32).to_be_bytes());
                }
            }
            self.out.append(&mut self.buf);
        }
    }

    let mut stream = BlockData { out: vec![0xAC, 0xED, 0x00, 0x05], buf: Vec::new() };
    let len = java_utf_len(&info.address) as u16;
    stream.write((len >> 8) as u8);
    stream.write(len as u8);
    for unit in info.address.encode_utf16() {
        match unit {
            0x0001..=0x007F => stream.write(unit as u8),
            0x0000 | 0x0080..=0x07FF => {
                stream.write(0xC0 | (unit >> 6) as u8);
                stream.write(0x80 | (unit & 0x3F) as u8);
            }
            _ => {
                stream.write(0xE0 | (unit >> 12) as u8);
                stream.write(0x80 | ((unit >> 6) & 0x3F) as u8);
                stream.write(0x80 | (unit & 0x3F) as u8);
            }
        }
    }
    stream.drain();
    let mut out = stream.out;
    out.extend_from_slice(&UUID_OBJECT[..60]);
    let (most, least) = info.leader_session.as_u64_pair();
    out.extend_from_slice(&least.to_be_bytes());
    out.extend_from_slice(&most.to_be_bytes());
    out
}

/// `writeUTF`'s length: 1 byte per UTF-16 unit 1..=0x7F, 2 up to 0x7FF and for NUL, 3 above.
fn java_utf_len(address: &str) -> usize {
    address
        .encode_utf16()
        .map(|unit| match unit {
            0x0001..=0x007F => 1,
            0x0000 | 0x0080..=0x07FF => 2,
            _ => 3,
        })
        .sum()
}

/// Characters of every encoded width, NUL and characters beyond the BMP included.
fn any_char() -> impl Strategy<Value = char> {
    prop_oneof![
        3 => prop::char::range('!', '~'),
        1 => Just('\0'),
        1 => prop::char::range('\u{80}', '\u{7FF}'),
        1 => prop::char::range('\u{800}', '\u{FFFF}'),
        1 => prop::char::range('\u{10000}', '\u{10FFFF}'),
        1 => any::<char>(),
    ]
}

/// The characters of long addresses: mostly beyond the BMP, to cross `writeUTF`'s limit.
fn long_char() -> impl Strategy<Value = char> {
    prop_oneof![
        1 => Just('a'),
        1 => Just('\0'),
        1 => Just('€'),
        3 => prop::char::range('\u{10000}', '\u{10FFFF}'),
    ]
}

fn string_of(
    chars: impl Strategy<Value = char>,
    len: std::ops::RangeInclusive<usize>,
) -> impl Strategy<Value = String> {
    prop::collection::vec(chars, len).prop_map(String::from_iter)
}

/// Addresses from empty to 70 000 bytes of UTF-8: short ones, ones spanning a few Java block
/// records, and ones around `writeUTF`'s 65535-byte limit.
fn address() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => string_of(any_char(), 0..=40),
        2 => string_of(any_char(), 200..=1500),
        // Long ones repeat a random pattern (generating each character would be slow) up to a
        // UTF-8 length. Beyond the BMP a character takes 4 bytes of UTF-8 but 6 of modified
        // UTF-8, NUL 1 and 2: modified-UTF-8 lengths fall on both sides of 65535.
        1 => (string_of(long_char(), 1..=64), 40_000..=70_000usize).prop_map(|(pattern, max)| {
            let mut address = String::with_capacity(max);
            for c in pattern.chars().cycle() {
                if address.len() + c.len_utf8() > max {
                    break;
                }
                address.push(c);
            }
            address
        }),
        // Plain text right at the limit.
        1 => (65_000usize..=66_000).prop_map(|n| "x".repeat(n)),
    ]
}

fn info() -> impl Strategy<Value = LeaderInfo> {
    (address(), any::<u128>()).prop_map(|(address, id)| LeaderInfo::new(address, Uuid::from_u128(id)))
}

fn codec() -> impl Strategy<Value = LeaderInfoCodec> {
    prop_oneof![Just(LeaderInfoCodec::Bincode), Just(LeaderInfoCodec::Java)]
}

/// Decoding arbitrary bytes: an error, or leader information that encodes to exactly those bytes.
fn assert_decodes_only_own_encodings(codec: LeaderInfoCodec, bytes: &[u8]) {
    if let Ok(info) = codec.decode(bytes) {
        let again = codec.encode(&info).expect("decoded information encodes");
        assert!(again == bytes, "{codec} decoded bytes it does not write");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn bincode_round_trips(info in info()) {
        let bytes = LeaderInfoCodec::Bincode.encode(&info).unwrap();
        prop_assert!(LeaderInfoCodec::Bincode.decode(&bytes) == Ok(info));
    }

    #[test]
    fn java_round_trips_or_refuses_what_writeutf_refuses(info in info()) {
        let utf_len = java_utf_len(&info.address);
        match LeaderInfoCodec::Java.encode(&info) {
            Ok(bytes) => {
                prop_assert!(utf_len <= 65535);
                prop_assert!(bytes == java_reference(&info), "differs from what Java writes");
                prop_assert!(LeaderInfoCodec::Java.decode(&bytes) == Ok(info));
            }
            Err(EncodeError::AddressTooLong { codec: LeaderInfoCodec::Java, len, max: 65535 }) => {
                prop_assert!(utf_len > 65535);
                prop_assert_eq!(len, utf_len);
            }
            Err(other) => prop_assert!(false, "unexpected {other}"),
        }
    }

    #[test]
    fn trailing_bytes_after_a_record_are_an_error(
        codec in codec(),
        address in string_of(any_char(), 0..=600),
        id in any::<u128>(),
        garbage in prop::collection::vec(any::<u8>(), 1..=64),
    ) {
        let mut bytes = codec.encode(&LeaderInfo::new(address, Uuid::from_u128(id))).unwrap();
        bytes.extend_from_slice(&garbage);
        prop_assert_eq!(codec.decode(&bytes), Err(DecodeError::TrailingBytes { count: garbage.len() }));
    }

    #[test]
    fn arbitrary_bytes_are_an_error_unless_valid(
        codec in codec(),
        bytes in prop::collection::vec(any::<u8>(), 0..=2048),
    ) {
        assert_decodes_only_own_encodings(codec, &bytes);
    }

    /// Garbage behind a plausible start, so the decoders get past their first checks.
    #[test]
    fn garbage_after_a_valid_start_is_an_error(
        codec in codec(),
        address in string_of(any_char(), 0..=400),
        keep in any::<prop::sample::Index>(),
        tail in prop::collection::vec(any::<u8>(), 0..=512),
    ) {
        let valid = codec.encode(&LeaderInfo::new(address, Uuid::nil())).unwrap();
        let mut bytes = valid[..keep.index(valid.len())].to_vec();
        bytes.extend_from_slice(&tail);
        assert_decodes_only_own_encodings(codec, &bytes);
    }

    /// One changed byte: an error, or (rarely) another valid encoding.
    #[test]
    fn a_changed_byte_is_an_error_or_another_valid_record(
        codec in codec(),
        address in string_of(any_char(), 0..=400),
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let mut bytes = codec.encode(&LeaderInfo::new(address, Uuid::nil())).unwrap();
        let at = at.index(bytes.len());
        bytes[at] = byte;
        assert_decodes_only_own_encodings(codec, &bytes);
    }

    #[test]
    fn every_truncation_is_an_error(
        codec in codec(),
        address in string_of(any_char(), 0..=400),
        id in any::<u128>(),
    ) {
        let bytes = codec.encode(&LeaderInfo::new(address, Uuid::from_u128(id))).unwrap();
        assert_truncations_fail(codec, &bytes);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4))]

    /// Big inputs: whatever a length prefix claims, decoding neither panics nor over-allocates.
    #[test]
    fn megabytes_of_garbage_are_an_error(
        codec in codec(),
        start in prop_oneof![
            Just(vec![]),
            Just(vec![0x01]),
            Just(vec![0xAC, 0xED, 0x00, 0x05, 0x7A]),
        ],
        bytes in prop::collection::vec(any::<u8>(), 512 * 1024..=1024 * 1024),
    ) {
        let mut input = start;
        input.extend_from_slice(&bytes);
        assert_decodes_only_own_encodings(codec, &input);
    }
}
