//! The Java codec: the Java serialization stream of `writeUTF(address)` then
//! `writeObject(java.util.UUID)` on a fresh `ObjectOutputStream`, Flink's leader-information format.

use uuid::Uuid;

use super::{mutf8, DecodeError, EncodeError, LeaderInfo, LeaderInfoCodec};

/// `STREAM_MAGIC` and `STREAM_VERSION`.
const STREAM_HEADER: [u8; 4] = [0xAC, 0xED, 0x00, 0x05];
const TC_NULL: u8 = 0x70;
const TC_CLASSDESC: u8 = 0x72;
const TC_OBJECT: u8 = 0x73;
const TC_BLOCKDATA: u8 = 0x77;
const TC_ENDBLOCKDATA: u8 = 0x78;
const TC_BLOCKDATALONG: u8 = 0x7A;
/// `ObjectOutputStream` buffers primitive data in 1024 bytes and writes the buffer as one
/// block-data record when it is full or when an object follows.
const MAX_BLOCK_SIZE: usize = 1024;
/// Longest block `TC_BLOCKDATA` (one length byte) describes; longer ones use `TC_BLOCKDATALONG`.
const MAX_SHORT_BLOCK: usize = u8::MAX as usize;
/// `writeUTF` stores the length as an unsigned 16-bit integer.
const MAX_UTF_LEN: usize = u16::MAX as usize;

const UUID_CLASS: &[u8] = b"java.util.UUID";
/// `serialVersionUID` of `java.util.UUID` (`-4856846361193249489L`).
const UUID_SERIAL_VERSION_UID: u64 = 0xBC99_03F7_986D_852F;
const SC_SERIALIZABLE: u8 = 0x02;
/// Field type code of `long`.
const LONG: u8 = b'J';
/// `UUID`'s fields in serialization order (primitive fields sorted by name).
const UUID_FIELDS: [&[u8]; 2] = [b"leastSigBits", b"mostSigBits"];

/// Bytes after the address: class descriptor (60), `TC_ENDBLOCKDATA`, `TC_NULL`, two longs.
const OBJECT_LEN: usize = 76;

/// Writes Flink's bytes: the address and the leader session. Flink's format has no place for a
/// fencing token, so one is not written (readers of a Java-coded node get `None`).
pub(super) fn encode(info: &LeaderInfo) -> Result<Vec<u8>, EncodeError> {
    let utf_len = mutf8::encoded_len(&info.address);
    let Ok(utf_len_u16) = u16::try_from(utf_len) else {
        return Err(EncodeError::AddressTooLong { codec: LeaderInfoCodec::Java, len: utf_len, max: MAX_UTF_LEN });
    };
    // The block data `writeUTF` produces: the u16 length, then the characters.
    let mut data = Vec::with_capacity(2 + utf_len);
    data.extend_from_slice(&utf_len_u16.to_be_bytes());
    mutf8::encode_into(&info.address, &mut data);

    let blocks = data.len().div_ceil(MAX_BLOCK_SIZE);
    let mut out = Vec::with_capacity(STREAM_HEADER.len() + 5 * blocks + data.len() + OBJECT_LEN);
    out.extend_from_slice(&STREAM_HEADER);
    // Java splits at byte boundaries (even inside a character): full buffers, then the rest.
    for block in data.chunks(MAX_BLOCK_SIZE) {
        match u8::try_from(block.len()) {
            Ok(short) => out.extend_from_slice(&[TC_BLOCKDATA, short]),
            // At most MAX_BLOCK_SIZE bytes.
            Err(_) => {
                out.push(TC_BLOCKDATALONG);
                out.extend_from_slice(&(block.len() as u32).to_be_bytes());
            }
        }
        out.extend_from_slice(block);
    }
    write_uuid(&mut out, info.leader_session);
    Ok(out)
}

fn write_uuid(out: &mut Vec<u8>, id: Uuid) {
    out.extend_from_slice(&[TC_OBJECT, TC_CLASSDESC]);
    write_name(out, UUID_CLASS);
    out.extend_from_slice(&UUID_SERIAL_VERSION_UID.to_be_bytes());
    out.push(SC_SERIALIZABLE);
    out.extend_from_slice(&(UUID_FIELDS.len() as u16).to_be_bytes());
    for field in UUID_FIELDS {
        out.push(LONG);
        write_name(out, field);
    }
    // No class annotations; the superclass (Object) is not serializable.
    out.extend_from_slice(&[TC_ENDBLOCKDATA, TC_NULL]);
    let (most, least) = id.as_u64_pair();
    out.extend_from_slice(&least.to_be_bytes());
    out.extend_from_slice(&most.to_be_bytes());
}

/// A class or field name as Java writes it (ASCII, so modified UTF-8 is the bytes).
fn write_name(out: &mut Vec<u8>, name: &[u8]) {
    out.extend_from_slice(&(name.len() as u16).to_be_bytes());
    out.extend_from_slice(name);
}

/// Decodes non-empty `bytes`.
pub(super) fn decode(bytes: &[u8]) -> Result<LeaderInfo, DecodeError> {
    let mut input = Cursor { bytes, pos: 0 };
    match input.take(STREAM_HEADER.len()) {
        Ok(magic) if magic == STREAM_HEADER => {}
        // Shorter than the magic but a prefix of it: a truncated stream.
        Err(_) if STREAM_HEADER.starts_with(bytes) => return Err(DecodeError::Truncated),
        _ => return Err(DecodeError::BadMagic),
    }
    let utf = read_utf_block_data(&mut input)?;
    let address = mutf8::decode(&utf).map_err(|position| DecodeError::InvalidModifiedUtf8 { position })?;
    let leader_session = read_uuid(&mut input)?;
    match input.remaining() {
        0 => Ok(LeaderInfo::new(address, leader_session)),
        count => Err(DecodeError::TrailingBytes { count }),
    }
}

/// Reads the block-data records `writeUTF` produced and returns the address's modified UTF-8.
///
/// Only the split Java makes is accepted: records of exactly [`MAX_BLOCK_SIZE`] bytes and
/// then the rest, each with the shortest header for its length.
fn read_utf_block_data(input: &mut Cursor<'_>) -> Result<Vec<u8>, DecodeError> {
    let mut header_at = input.pos;
    let mut header = input.block_header()?;
    // The first record starts with the UTF length, which says how much block data follows.
    let utf_len = usize::from(u16::from_be_bytes(input.peek::<2>()?));
    let mut remaining = 2 + utf_len;
    let mut utf = Vec::with_capacity(utf_len.min(input.remaining()));
    let mut skip = 2;
    loop {
        let expected = remaining.min(MAX_BLOCK_SIZE);
        check_block_header(header_at, header, expected)?;
        let block = input.take(expected)?;
        utf.extend_from_slice(&block[skip..]);
        skip = 0;
        remaining -= expected;
        if remaining == 0 {
            return Ok(utf);
        }
        header_at = input.pos;
        header = input.block_header()?;
    }
}

/// Checks that a block-data header `(type code, length)` found at `offset` is the one Java
/// writes for a block of `expected` bytes.
fn check_block_header(offset: usize, (code, len): (u8, u32), expected: usize) -> Result<(), DecodeError> {
    let canonical = if expected <= MAX_SHORT_BLOCK { TC_BLOCKDATA } else { TC_BLOCKDATALONG };
    if code != canonical {
        return Err(DecodeError::UnexpectedTypeCode { offset, found: code });
    }
    // `expected` is at most MAX_BLOCK_SIZE.
    let expected = expected as u32;
    if len != expected {
        return Err(DecodeError::UnexpectedBlockLength { offset, expected, found: len });
    }
    Ok(())
}

/// Reads the `java.util.UUID` object, checking its class descriptor against the JDK's.
fn read_uuid(input: &mut Cursor<'_>) -> Result<Uuid, DecodeError> {
    input.type_code(TC_OBJECT)?;
    input.type_code(TC_CLASSDESC)?;
    if input.name()? != UUID_CLASS {
        return Err(DecodeError::WrongClass);
    }
    let serial_version_uid = u64::from_be_bytes(input.array()?);
    if serial_version_uid != UUID_SERIAL_VERSION_UID {
        return Err(DecodeError::WrongSerialVersionUid { found: serial_version_uid });
    }
    let at = input.pos;
    if input.array::<1>()? != [SC_SERIALIZABLE] {
        return Err(DecodeError::WrongClassDescriptor { offset: at });
    }
    let at = input.pos;
    if usize::from(u16::from_be_bytes(input.array()?)) != UUID_FIELDS.len() {
        return Err(DecodeError::WrongClassDescriptor { offset: at });
    }
    for field in UUID_FIELDS {
        let at = input.pos;
        if input.array::<1>()? != [LONG] || input.name()? != field {
            return Err(DecodeError::WrongClassDescriptor { offset: at });
        }
    }
    input.type_code(TC_ENDBLOCKDATA)?;
    input.type_code(TC_NULL)?;
    let least = u64::from_be_bytes(input.array()?);
    let most = u64::from_be_bytes(input.array()?);
    Ok(Uuid::from_u64_pair(most, least))
}

/// Reads a Java stream front to back; every read checks the length, so none can panic.
struct Cursor<'a> {
    bytes: &'a [u8],
    /// Bytes before `pos` have been read; always `<= bytes.len()`.
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self.pos.checked_add(n).ok_or(DecodeError::Truncated)?;
        let taken = self.bytes.get(self.pos..end).ok_or(DecodeError::Truncated)?;
        self.pos = end;
        Ok(taken)
    }

    fn peek<const N: usize>(&self) -> Result<[u8; N], DecodeError> {
        Cursor { bytes: self.bytes, pos: self.pos }.array()
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut array = [0; N];
        array.copy_from_slice(self.take(N)?);
        Ok(array)
    }

    fn type_code(&mut self, expected: u8) -> Result<(), DecodeError> {
        let offset = self.pos;
        match self.array()? {
            [found] if found == expected => Ok(()),
            [found] => Err(DecodeError::UnexpectedTypeCode { offset, found }),
        }
    }

    /// A block-data header: its type code and the length it announces.
    fn block_header(&mut self) -> Result<(u8, u32), DecodeError> {
        let offset = self.pos;
        match self.array()? {
            [TC_BLOCKDATA] => Ok((TC_BLOCKDATA, u32::from(self.array::<1>()?[0]))),
            [TC_BLOCKDATALONG] => Ok((TC_BLOCKDATALONG, u32::from_be_bytes(self.array()?))),
            [found] => Err(DecodeError::UnexpectedTypeCode { offset, found }),
        }
    }

    /// A class or field name: a u16 length, then that many bytes.
    fn name(&mut self) -> Result<&'a [u8], DecodeError> {
        let len = u16::from_be_bytes(self.array()?);
        self.take(usize::from(len))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(address: &str) -> LeaderInfo {
        LeaderInfo::new(address, Uuid::from_u128(0x0011_2233_4455_6677_8899_aabb_ccdd_eeff))
    }

    /// `(offset, header length, block length)` of every block-data record in `encoded`.
    fn blocks(encoded: &[u8]) -> Vec<(usize, usize, usize)> {
        let mut found = Vec::new();
        let mut pos = STREAM_HEADER.len();
        loop {
            let (header, len) = match encoded[pos] {
                TC_BLOCKDATA => (2, usize::from(encoded[pos + 1])),
                TC_BLOCKDATALONG => (5, u32::from_be_bytes(encoded[pos + 1..pos + 5].try_into().unwrap()) as usize),
                _ => return found,
            };
            found.push((pos, header, len));
            pos += header + len;
        }
    }

    #[test]
    fn block_sizes_follow_javas_buffer() {
        // (address length, block lengths): the payload is 2 + address length bytes.
        let cases: [(usize, &[usize]); 8] = [
            (0, &[2]),
            (253, &[255]),
            (254, &[256]),
            (1022, &[1024]),
            (1023, &[1024, 1]),
            (2046, &[1024, 1024]),
            (2047, &[1024, 1024, 1]),
            (65535, &[1024; 64]),
        ];
        for (len, expected) in cases {
            let encoded = encode(&info(&"a".repeat(len))).unwrap();
            let lens: Vec<usize> = blocks(&encoded).iter().map(|b| b.2).collect();
            if len == 65535 {
                assert_eq!(lens.len(), 65, "65537 bytes = 64 full blocks + 1");
                assert_eq!(&lens[..64], expected);
                assert_eq!(lens[64], 1);
            } else {
                assert_eq!(lens, expected, "address of {len} bytes");
            }
            for (_, header, block) in blocks(&encoded) {
                assert_eq!(header, if block <= 255 { 2 } else { 5 });
            }
            assert_eq!(decode(&encoded).unwrap().address.len(), len);
        }
    }

    #[test]
    fn block_split_inside_a_character_is_read_back() {
        // The first block holds the 2-byte length, 'a' and 340⅓ '€' (three bytes each): the
        // 341st '€' straddles the block boundary.
        let address = format!("a{}", "€".repeat(400));
        let encoded = encode(&info(&address)).unwrap();
        assert_eq!(blocks(&encoded).len(), 2);
        assert_eq!(decode(&encoded).unwrap().address, address);
    }

    #[test]
    fn long_header_for_a_short_block_is_rejected() {
        let mut encoded = encode(&info("host:1")).unwrap();
        // Rewrite `77 08` as `7A 00 00 00 08`, which ObjectInputStream would accept but
        // ObjectOutputStream never writes.
        encoded.splice(4..6, [TC_BLOCKDATALONG, 0, 0, 0, 8]);
        assert_eq!(decode(&encoded), Err(DecodeError::UnexpectedTypeCode { offset: 4, found: TC_BLOCKDATALONG }));
    }

    #[test]
    fn block_length_disagreeing_with_utf_length_is_rejected() {
        let mut encoded = encode(&info("host:1")).unwrap();
        encoded[5] = 9;
        assert_eq!(decode(&encoded), Err(DecodeError::UnexpectedBlockLength { offset: 4, expected: 8, found: 9 }));
    }

    #[test]
    fn descriptor_mismatches_are_named() {
        let encoded = encode(&info("h")).unwrap();
        // Layout: header 4, block header 2, utf 3, then the object at 9.
        let object = 9;
        let mutate = |at: usize, byte: u8| {
            let mut bytes = encoded.clone();
            bytes[at] = byte;
            decode(&bytes)
        };
        assert_eq!(mutate(object, 0x71), Err(DecodeError::UnexpectedTypeCode { offset: object, found: 0x71 }));
        assert_eq!(mutate(object + 4, b'J'), Err(DecodeError::WrongClass));
        assert_eq!(mutate(object + 18, 0xBD), Err(DecodeError::WrongSerialVersionUid { found: 0xBD99_03F7_986D_852F }));
        assert_eq!(mutate(object + 26, 0x03), Err(DecodeError::WrongClassDescriptor { offset: object + 26 }));
        assert_eq!(mutate(object + 28, 0x03), Err(DecodeError::WrongClassDescriptor { offset: object + 27 }));
        assert_eq!(mutate(object + 29, b'I'), Err(DecodeError::WrongClassDescriptor { offset: object + 29 }));
        assert_eq!(mutate(object + 47, b'X'), Err(DecodeError::WrongClassDescriptor { offset: object + 44 }));
        assert_eq!(
            mutate(object + 58, TC_BLOCKDATA),
            Err(DecodeError::UnexpectedTypeCode { offset: object + 58, found: TC_BLOCKDATA })
        );
        assert_eq!(
            mutate(object + 59, 0x71),
            Err(DecodeError::UnexpectedTypeCode { offset: object + 59, found: 0x71 })
        );
    }

    #[test]
    fn magic_is_checked_and_a_cut_magic_is_truncation() {
        assert_eq!(decode(&[0xAC, 0xED]), Err(DecodeError::Truncated));
        assert_eq!(decode(&[0xAC, 0xED, 0x00, 0x04]), Err(DecodeError::BadMagic));
        assert_eq!(decode(&[0x01]), Err(DecodeError::BadMagic));
    }

    #[test]
    fn cursor_never_reads_past_the_end() {
        let mut cursor = Cursor { bytes: &[1, 2, 3], pos: 0 };
        assert_eq!(cursor.take(usize::MAX), Err(DecodeError::Truncated));
        assert_eq!(cursor.peek::<2>(), Ok([1, 2]));
        assert_eq!(cursor.array::<2>(), Ok([1, 2]));
        assert_eq!(cursor.array::<2>(), Err(DecodeError::Truncated));
        assert_eq!(cursor.remaining(), 1);
    }
}
