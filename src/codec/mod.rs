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
//!
//! This module is the public face; each format lives in its own private module:
//! `bincode_record` (the bincode record), `java` (Java serialization) and `mutf8` (the modified
//! UTF-8 the Java format stores its address in).

use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

mod bincode_record;
mod java;
mod mutf8;

/// What the leader node holds: where the leader can be reached, the leader session it runs and,
/// where the format carries it, its fencing token.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct LeaderInfo {
    /// The leader contender's address, as it gave it when subscribing (opaque to this crate).
    pub address: String,
    /// The leader session ID the contender confirmed; followers tag their requests with it.
    pub leader_session: Uuid,
    /// The leader's fencing token (the czxid of its latch node), when the format carries one:
    /// the bincode record from version 2 does, Flink's Java format does not.
    pub fencing_token: Option<i64>,
}

impl LeaderInfo {
    /// Leader information for `address` leading session `leader_session`, without a token.
    pub fn new(address: impl Into<String>, leader_session: Uuid) -> Self {
        LeaderInfo { address: address.into(), leader_session, fencing_token: None }
    }

    /// The same information carrying `fencing_token`.
    pub fn with_fencing_token(self, fencing_token: i64) -> Self {
        LeaderInfo { fencing_token: Some(fencing_token), ..self }
    }
}

/// How leader information is written to and read from the leader znode; chosen in configuration.
///
/// Every process sharing a leader path must use the same codec: data written with the other codec
/// does not decode and is treated as foreign.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LeaderInfoCodec {
    /// A versioned bincode 2 record: `{ version: 2, address, leader_session, fencing_token }`,
    /// or `{ version: 1, address, leader_session }` for information without a token (version 1
    /// is what earlier releases wrote; both decode).
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
            LeaderInfoCodec::Bincode => bincode_record::encode(info),
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
            LeaderInfoCodec::Bincode => bincode_record::decode(bytes),
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
    fn empty_input_is_empty_for_both() {
        for codec in LeaderInfoCodec::ALL {
            assert_eq!(codec.decode(&[]), Err(DecodeError::Empty));
        }
    }
}
