//! The bincode codec: a versioned record, so the format can evolve. Version 1 is
//! `{ version, address, leader_session }`; version 2 adds the leader's `fencing_token` (an
//! `i64`). Information with a token is written as version 2, without one as version 1; both
//! decode.

use bincode::config::{Configuration, Limit, LittleEndian, Varint};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{BincodeFailure, DecodeError, EncodeError, LeaderInfo, LeaderInfoCodec};

/// The record without a fencing token.
const V1: u8 = 1;
/// The record with a fencing token.
const V2: u8 = 2;

/// Most bytes one record may claim while decoding, so a forged length prefix cannot make the
/// decoder reserve gigabytes. ZooKeeper's default jute.maxbuffer is 1 MiB, so real data fits.
const DECODE_LIMIT: usize = 2 * 1024 * 1024;

/// Longest address [`encode`] accepts, so that everything it writes decodes: the limit also
/// counts the version, each length prefix, the session ID and the token at their in-memory sizes
/// (1 + 8 + 8 + 16 + 8 bytes); 64 leaves room for that.
const MAX_ADDRESS_LEN: usize = DECODE_LIMIT - 64;

const CONFIG: Configuration<LittleEndian, Varint, Limit<DECODE_LIMIT>> =
    bincode::config::standard().with_limit::<DECODE_LIMIT>();

/// Version 1 as stored. The address is borrowed so decoding does not copy it twice.
#[derive(Serialize, Deserialize)]
struct RecordV1<'a> {
    version: u8,
    address: &'a str,
    leader_session: Uuid,
}

/// Version 2 as stored: version 1 and the fencing token.
#[derive(Serialize, Deserialize)]
struct RecordV2<'a> {
    version: u8,
    address: &'a str,
    leader_session: Uuid,
    fencing_token: i64,
}

pub(super) fn encode(info: &LeaderInfo) -> Result<Vec<u8>, EncodeError> {
    if info.address.len() > MAX_ADDRESS_LEN {
        return Err(EncodeError::AddressTooLong {
            codec: LeaderInfoCodec::Bincode,
            len: info.address.len(),
            max: MAX_ADDRESS_LEN,
        });
    }
    let (address, leader_session) = (info.address.as_str(), info.leader_session);
    match info.fencing_token {
        Some(fencing_token) => {
            bincode::serde::encode_to_vec(RecordV2 { version: V2, address, leader_session, fencing_token }, CONFIG)
        }
        None => bincode::serde::encode_to_vec(RecordV1 { version: V1, address, leader_session }, CONFIG),
    }
    .map_err(EncodeError::Bincode)
}

/// Decodes non-empty `bytes`.
pub(super) fn decode(bytes: &[u8]) -> Result<LeaderInfo, DecodeError> {
    // The version comes first and is a plain byte, so a future layout is reported as a
    // version mismatch rather than as garbage.
    match bytes.first() {
        Some(&V1) => {
            let record: RecordV1<'_> = decode_canonical(bytes)?;
            Ok(LeaderInfo::new(record.address, record.leader_session))
        }
        Some(&V2) => {
            let record: RecordV2<'_> = decode_canonical(bytes)?;
            Ok(LeaderInfo::new(record.address, record.leader_session).with_fencing_token(record.fencing_token))
        }
        Some(&other) => Err(DecodeError::UnsupportedVersion(other)),
        None => Err(DecodeError::Empty),
    }
}

/// Decodes one record that must fill `bytes` exactly, in the form `encode` writes.
fn decode_canonical<'a, R: Serialize + Deserialize<'a>>(bytes: &'a [u8]) -> Result<R, DecodeError> {
    let (record, read): (R, usize) = bincode::serde::borrow_decode_from_slice(bytes, CONFIG).map_err(from_bincode)?;
    if read < bytes.len() {
        return Err(DecodeError::TrailingBytes { count: bytes.len() - read });
    }
    // bincode also reads lengths (and integers) written in a wider varint than needed; accept
    // only what `encode` writes, so equal information always means equal bytes.
    match bincode::serde::encode_to_vec(&record, CONFIG) {
        Ok(canonical) if canonical == bytes => Ok(record),
        _ => Err(DecodeError::NonCanonical),
    }
}

fn from_bincode(error: bincode::error::DecodeError) -> DecodeError {
    use bincode::error::DecodeError as E;
    match error {
        E::UnexpectedEnd { .. } => DecodeError::Truncated,
        E::Utf8 { .. } => DecodeError::InvalidUtf8,
        E::LimitExceeded => DecodeError::Bincode(BincodeFailure::LimitExceeded),
        E::InvalidIntegerType { .. } | E::OutsideUsizeRange(_) => DecodeError::Bincode(BincodeFailure::InvalidLength),
        _ => DecodeError::Bincode(BincodeFailure::InvalidValue),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn bincode_version_2_carries_the_fencing_token_and_version_1_still_decodes() {
        let session = Uuid::from_u128(0x0102_0304_0506_0708_090a_0b0c_0d0e_0f10);
        let with_token = LeaderInfo::new("ab", session).with_fencing_token(300);
        let encoded = LeaderInfoCodec::Bincode.encode(&with_token).unwrap();
        let mut expected = vec![2, 2, b'a', b'b', 16];
        expected.extend(1..=16);
        // 300 as a zigzag varint: 600 = 0xFB 0x58 0x02.
        expected.extend([0xFB, 0x58, 0x02]);
        assert_eq!(encoded, expected);
        assert_eq!(LeaderInfoCodec::Bincode.decode(&encoded), Ok(with_token));
        // A negative token survives too (czxids are positive, but the type allows it).
        let negative = LeaderInfo::new("ab", session).with_fencing_token(-1);
        assert_eq!(LeaderInfoCodec::Bincode.decode(&LeaderInfoCodec::Bincode.encode(&negative).unwrap()), Ok(negative));
        // What earlier releases wrote: no token.
        let mut v1 = vec![1, 2, b'a', b'b', 16];
        v1.extend(1..=16);
        assert_eq!(LeaderInfoCodec::Bincode.decode(&v1), Ok(LeaderInfo::new("ab", session)));
        // A version 2 record cut before its token is truncated, not version 1.
        assert_eq!(LeaderInfoCodec::Bincode.decode(&expected[..expected.len() - 3]), Err(DecodeError::Truncated));
    }

    #[test]
    fn bincode_rejects_other_versions_and_wide_lengths() {
        let info = LeaderInfo::new("ab", Uuid::nil());
        let mut encoded = LeaderInfoCodec::Bincode.encode(&info).unwrap();
        encoded[0] = 3;
        assert_eq!(LeaderInfoCodec::Bincode.decode(&encoded), Err(DecodeError::UnsupportedVersion(3)));
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
        let longest = LeaderInfo::new("a".repeat(MAX_ADDRESS_LEN), Uuid::max());
        let encoded = LeaderInfoCodec::Bincode.encode(&longest).unwrap();
        // Not assert_eq!: a failure would print two megabytes.
        assert!(LeaderInfoCodec::Bincode.decode(&encoded) == Ok(longest));
        let too_long = LeaderInfo::new("a".repeat(MAX_ADDRESS_LEN + 1), Uuid::max());
        assert!(matches!(
            LeaderInfoCodec::Bincode.encode(&too_long),
            Err(EncodeError::AddressTooLong { codec: LeaderInfoCodec::Bincode, .. })
        ));
    }
}
