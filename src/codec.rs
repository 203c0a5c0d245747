//! Leader information as bytes: what the leader znode holds and how it is written and read.
//!
//! The leader publishes its address and its leader session ID in an ephemeral znode; followers and
//! the leader itself (to notice when the node was overwritten) read it back. Two formats exist, and
//! a deployment chooses one in configuration:
//!
//! - [`LeaderInfoCodec::Bincode`] (default): a small versioned bincode 2 record, for Rust-only
//!   deployments.
//! - [`LeaderInfoCodec::Java`]: the bytes Flink's Java service writes (`ObjectOutputStream` with
//!   `writeUTF(address)` then `writeObject(java.util.UUID)`), so Rust and Java peers can share
//!   one leader node.
//!
//! Both decoders accept exactly the bytes their encoder writes and nothing else: anything else is a
//! [`DecodeError`], which the election treats as "not ours" (and rewrites if it is the confirmed
//! leader). Decoding never panics and never allocates more than the input's length.

use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

/// What the leader node holds: where the leader can be reached, and the leader session it runs.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct LeaderInfo {
    /// The leader contender's address, as it gave it when subscribing (opaque to this crate).
    pub address: String,
    /// The leader session ID the contender confirmed; followers tag their requests with it.
    pub session_id: Uuid,
}

impl LeaderInfo {
    /// Leader information for `address` leading session `session_id`.
    pub fn new(address: impl Into<String>, session_id: Uuid) -> Self {
        LeaderInfo { address: address.into(), session_id }
    }
}

/// How leader information is written to and read from the leader znode; chosen in configuration.
///
/// Every process sharing a leader path must use the same codec: data written with the other codec
/// does not decode and is treated as foreign.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LeaderInfoCodec {
    /// A versioned bincode 2 record `{ version: 1, address, session_id }`.
    #[default]
    Bincode,
    /// Java serialization as written by Flink's `ZooKeeperLeaderElectionService`.
    Java,
}

impl LeaderInfoCodec {
    /// Every codec, in the order they are documented.
    pub const ALL: [LeaderInfoCodec; 2] = [LeaderInfoCodec::Bincode, LeaderInfoCodec::Java];

    /// The bytes to store in the leader node for `info`.
    ///
    /// # Errors
    ///
    /// [`EncodeError::AddressTooLong`] when the address does not fit the format (Java: more than
    /// 65535 bytes of modified UTF-8; bincode: more than the decode limit allows).
    pub fn encode(self, info: &LeaderInfo) -> Result<Vec<u8>, EncodeError> {
        match self {
            LeaderInfoCodec::Bincode => record::encode(info),
            LeaderInfoCodec::Java => java::encode(info),
        }
    }

    /// The leader information in `bytes`, if they are exactly what [`encode`](Self::encode) writes.
    ///
    /// # Errors
    ///
    /// Any other input, including empty data, is a [`DecodeError`] saying what is wrong with it.
    pub fn decode(self, bytes: &[u8]) -> Result<LeaderInfo, DecodeError> {
        if bytes.is_empty() {
            return Err(DecodeError::Empty);
        }
        match self {
            LeaderInfoCodec::Bincode => record::decode(bytes),
            LeaderInfoCodec::Java => java::decode(bytes),
        }
    }

    /// The codec's name in configuration: `"bincode"` or `"java"`.
    pub fn name(self) -> &'static str {
        match self {
            LeaderInfoCodec::Bincode => "bincode",
            LeaderInfoCodec::Java => "java",
        }
    }
}

impl fmt::Display for LeaderInfoCodec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for LeaderInfoCodec {
    type Err = UnknownCodec;

    /// Parses a codec name as written in configuration (`"bincode"` or `"java"`, exact spelling).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        LeaderInfoCodec::ALL.into_iter().find(|codec| codec.name() == s).ok_or_else(|| UnknownCodec(s.to_owned()))
    }
}

/// A configured codec name that is neither `"bincode"` nor `"java"`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown leader information codec {0:?} (expected \"bincode\" or \"java\")")]
pub struct UnknownCodec(pub String);

/// Why leader information could not be turned into bytes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The address is longer than the codec can store. For [`LeaderInfoCodec::Java`], `len` and
    /// `max` count bytes of Java's modified UTF-8 (`writeUTF` stores a `u16` length); for
    /// [`LeaderInfoCodec::Bincode`] they count bytes of UTF-8.
    #[error("leader address is {len} bytes long; the {codec} codec stores at most {max}")]
    AddressTooLong {
        /// The codec that cannot store the address.
        codec: LeaderInfoCodec,
        /// The address's encoded length.
        len: usize,
        /// The longest address the codec stores.
        max: usize,
    },
    /// bincode failed to serialize the record (not expected to happen for an in-memory buffer).
    #[error("bincode could not encode the leader record")]
    Bincode(#[source] bincode::error::EncodeError),
}

/// Why bytes read from the leader node are not leader information in the configured format.
///
/// The election treats every variant alike (the node is "not ours"); they exist to say in logs what
/// was wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The node holds no data at all.
    #[error("leader node data is empty")]
    Empty,
    /// The data ends before the record does.
    #[error("leader node data is truncated")]
    Truncated,
    /// A complete record is followed by more bytes.
    #[error("leader node data has {count} bytes after the record")]
    TrailingBytes {
        /// How many bytes follow the record.
        count: usize,
    },
    /// A bincode record with a version this crate does not know (it writes version 1).
    #[error("bincode leader record has unsupported version {0}")]
    UnsupportedVersion(u8),
    /// The bincode record's address is not valid UTF-8.
    #[error("bincode leader record's address is not valid UTF-8")]
    InvalidUtf8,
    /// The bytes decode as a bincode record, but not in the form bincode writes (e.g. a length in a
    /// wider integer than needed), so they were not written by this codec.
    #[error("bincode leader record is not in canonical form")]
    NonCanonical,
    /// bincode rejected the record for another reason.
    #[error("bincode leader record is malformed: {0}")]
    Bincode(BincodeFailure),
    /// The data does not start with Java serialization's magic and version `AC ED 00 05`.
    #[error("not a Java serialization stream (bad magic or version)")]
    BadMagic,
    /// A Java serialization type code other than the one Java writes at that place.
    #[error("unexpected Java serialization type code {found:#04x} at byte {offset}")]
    UnexpectedTypeCode {
        /// Where the type code is, counted from the start of the data.
        offset: usize,
        /// The byte found there.
        found: u8,
    },
    /// A Java block-data record whose length is not the one Java's `ObjectOutputStream` writes.
    #[error("Java block-data record at byte {offset} holds {found} bytes, Java writes {expected}")]
    UnexpectedBlockLength {
        /// Where the record's header is, counted from the start of the data.
        offset: usize,
        /// The length Java writes for this address.
        expected: u32,
        /// The length in the header.
        found: u32,
    },
    /// The serialized object is not of class `java.util.UUID`.
    #[error("the serialized object is not a java.util.UUID")]
    WrongClass,
    /// The class is `java.util.UUID`, but with another `serialVersionUID` than the JDK's.
    #[error("java.util.UUID has serialVersionUID {found:#018x}, expected 0xbc9903f7986d852f")]
    WrongSerialVersionUid {
        /// The `serialVersionUID` found.
        found: u64,
    },
    /// The `java.util.UUID` class descriptor differs from the JDK's (flags or fields).
    #[error("java.util.UUID class descriptor differs from the JDK's at byte {offset}")]
    WrongClassDescriptor {
        /// Where the first difference is, counted from the start of the data.
        offset: usize,
    },
    /// The Java address is not modified UTF-8 as `writeUTF` writes it.
    #[error("Java leader address is not valid modified UTF-8 at byte {position} of the address")]
    InvalidModifiedUtf8 {
        /// Where the bad sequence starts, counted from the start of the address's bytes.
        position: usize,
    },
}

/// Why bincode rejected a record, without bincode's own error (which is neither `Clone` nor
/// comparable).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BincodeFailure {
    /// A length prefix asks for more bytes than the decode limit allows.
    #[error("a length exceeds the decode limit")]
    LimitExceeded,
    /// A length prefix is not a valid varint, or does not fit in memory.
    #[error("a length prefix is invalid")]
    InvalidLength,
    /// A field holds an invalid value, e.g. a session ID that is not 16 bytes.
    #[error("a field holds an invalid value")]
    InvalidValue,
}

/// The bincode codec: a versioned record, so the format can evolve.
mod record {
    use bincode::config::{Configuration, Limit, LittleEndian, Varint};
    use serde::{Deserialize, Serialize};
    use uuid::Uuid;

    use super::{BincodeFailure, DecodeError, EncodeError, LeaderInfo, LeaderInfoCodec};

    /// The record version this crate writes and reads.
    const VERSION: u8 = 1;

    /// Most bytes one record may claim while decoding, so a forged length prefix cannot make the
    /// decoder reserve gigabytes. ZooKeeper's default jute.maxbuffer is 1 MiB, so real data fits.
    const DECODE_LIMIT: usize = 2 * 1024 * 1024;

    /// Longest address [`encode`] accepts, so that everything it writes decodes: the limit also
    /// counts the version, and each length prefix and the session ID at their in-memory sizes
    /// (1 + 8 + 8 + 16 bytes); 64 leaves room for that.
    pub(super) const MAX_ADDRESS_LEN: usize = DECODE_LIMIT - 64;

    const CONFIG: Configuration<LittleEndian, Varint, Limit<DECODE_LIMIT>> =
        bincode::config::standard().with_limit::<DECODE_LIMIT>();

    /// The record as stored. The address is borrowed so decoding does not copy it twice.
    #[derive(Serialize, Deserialize)]
    struct Record<'a> {
        version: u8,
        address: &'a str,
        session_id: Uuid,
    }

    pub(super) fn encode(info: &LeaderInfo) -> Result<Vec<u8>, EncodeError> {
        if info.address.len() > MAX_ADDRESS_LEN {
            return Err(EncodeError::AddressTooLong {
                codec: LeaderInfoCodec::Bincode,
                len: info.address.len(),
                max: MAX_ADDRESS_LEN,
            });
        }
        let record = Record { version: VERSION, address: &info.address, session_id: info.session_id };
        bincode::serde::encode_to_vec(&record, CONFIG).map_err(EncodeError::Bincode)
    }

    /// Decodes non-empty `bytes`.
    pub(super) fn decode(bytes: &[u8]) -> Result<LeaderInfo, DecodeError> {
        // The version comes first and is a plain byte, so a future layout is reported as a
        // version mismatch rather than as garbage.
        match bytes.first() {
            Some(&VERSION) => {}
            Some(&other) => return Err(DecodeError::UnsupportedVersion(other)),
            None => return Err(DecodeError::Empty),
        }
        let (record, read): (Record<'_>, usize) =
            bincode::serde::borrow_decode_from_slice(bytes, CONFIG).map_err(from_bincode)?;
        if read < bytes.len() {
            return Err(DecodeError::TrailingBytes { count: bytes.len() - read });
        }
        // bincode also reads lengths written in a wider varint than needed; accept only what
        // `encode` writes, so equal information always means equal bytes.
        match bincode::serde::encode_to_vec(&record, CONFIG) {
            Ok(canonical) if canonical == bytes => {}
            _ => return Err(DecodeError::NonCanonical),
        }
        Ok(LeaderInfo { address: record.address.to_owned(), session_id: record.session_id })
    }

    fn from_bincode(error: bincode::error::DecodeError) -> DecodeError {
        use bincode::error::DecodeError as E;
        match error {
            E::UnexpectedEnd { .. } => DecodeError::Truncated,
            E::Utf8 { .. } => DecodeError::InvalidUtf8,
            E::LimitExceeded => DecodeError::Bincode(BincodeFailure::LimitExceeded),
            E::InvalidIntegerType { .. } | E::OutsideUsizeRange(_) => {
                DecodeError::Bincode(BincodeFailure::InvalidLength)
            }
            _ => DecodeError::Bincode(BincodeFailure::InvalidValue),
        }
    }
}

/// The Java codec: the Java serialization stream of `writeUTF(address)` then
/// `writeObject(java.util.UUID)` on a fresh `ObjectOutputStream` (DESIGN.md §4).
mod java {
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
        write_uuid(&mut out, info.session_id);
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
        let session_id = read_uuid(&mut input)?;
        match input.remaining() {
            0 => Ok(LeaderInfo { address, session_id }),
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
            assert_eq!(
                mutate(object + 18, 0xBD),
                Err(DecodeError::WrongSerialVersionUid { found: 0xBD99_03F7_986D_852F })
            );
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
}

/// Java's "modified UTF-8" (`DataOutput.writeUTF`): UTF-8 of the UTF-16 code units, except that
/// NUL is `C0 80` and a character beyond the BMP is its two surrogates, three bytes each.
mod mutf8 {
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for codec in LeaderInfoCodec::ALL {
            assert_eq!(codec.name().parse::<LeaderInfoCodec>(), Ok(codec));
            assert_eq!(codec.to_string(), codec.name());
        }
        assert_eq!(LeaderInfoCodec::default(), LeaderInfoCodec::Bincode);
        assert_eq!("Java".parse::<LeaderInfoCodec>(), Err(UnknownCodec("Java".into())));
    }

    #[test]
    fn bincode_record_layout() {
        let info = LeaderInfo::new("ab", Uuid::from_u128(0x0102_0304_0506_0708_090a_0b0c_0d0e_0f10));
        let encoded = LeaderInfoCodec::Bincode.encode(&info).unwrap();
        let mut expected = vec![1, 2, b'a', b'b', 16];
        expected.extend(1..=16);
        assert_eq!(encoded, expected);
        assert_eq!(LeaderInfoCodec::Bincode.decode(&encoded), Ok(info));
    }

    #[test]
    fn bincode_rejects_other_versions_and_wide_lengths() {
        let info = LeaderInfo::new("ab", Uuid::nil());
        let mut encoded = LeaderInfoCodec::Bincode.encode(&info).unwrap();
        encoded[0] = 2;
        assert_eq!(LeaderInfoCodec::Bincode.decode(&encoded), Err(DecodeError::UnsupportedVersion(2)));
        // Length 2 written as a u16 varint (`FB 02 00`): bincode reads it, we do not.
        encoded[0] = 1;
        encoded.splice(1..2, [0xFB, 2, 0]);
        assert_eq!(LeaderInfoCodec::Bincode.decode(&encoded), Err(DecodeError::NonCanonical));
    }

    #[test]
    fn bincode_length_beyond_the_limit_is_refused_without_allocating() {
        // Version 1, then a u64 varint length of 2^62.
        let mut bytes = vec![1, 0xFD];
        bytes.extend_from_slice(&(1u64 << 62).to_le_bytes());
        assert_eq!(LeaderInfoCodec::Bincode.decode(&bytes), Err(DecodeError::Bincode(BincodeFailure::LimitExceeded)));
    }

    #[test]
    fn bincode_longest_address_round_trips() {
        let longest = LeaderInfo::new("a".repeat(record::MAX_ADDRESS_LEN), Uuid::max());
        let encoded = LeaderInfoCodec::Bincode.encode(&longest).unwrap();
        // Not assert_eq!: a failure would print two megabytes.
        assert!(LeaderInfoCodec::Bincode.decode(&encoded) == Ok(longest));
        let too_long = LeaderInfo::new("a".repeat(record::MAX_ADDRESS_LEN + 1), Uuid::max());
        assert!(matches!(
            LeaderInfoCodec::Bincode.encode(&too_long),
            Err(EncodeError::AddressTooLong { codec: LeaderInfoCodec::Bincode, .. })
        ));
    }

    #[test]
    fn empty_input_is_empty_for_both() {
        for codec in LeaderInfoCodec::ALL {
            assert_eq!(codec.decode(&[]), Err(DecodeError::Empty));
        }
    }
}
