//! The bincode codec: a versioned record `{ version: 1, address, session_id }`, so the format can
//! evolve.

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
const MAX_ADDRESS_LEN: usize = DECODE_LIMIT - 64;

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
