//! The leave record: what a leader writes on the latch path, in the same multi-op that deletes
//! its latch node, so that observers can tell a leader that left from one whose session
//! expired. ZooKeeper deletes an expired session's nodes in one transaction, exactly as a
//! leave's multi-op deletes them; only the leader can say that it went on purpose.
//!
//! The record is the latch path's data (Curator's `LeaderLatch` ignores it, and it adds no
//! child to the line): `left zk_session=0x<hex>`, naming the ZooKeeper session that left. Only
//! a latch standing first writes it, so a follower's leave never overwrites the leader's; a
//! multi-op the record fails (the latch path's ACL refuses it) is done again without it.

use crate::zk::WriteOp;

const PREFIX: &str = "left zk_session=0x";

/// The write that records that `zk_session` left the latch at `latch_path` on purpose.
pub(crate) fn leave_record(latch_path: &str, zk_session: i64) -> WriteOp {
    WriteOp::SetData { path: latch_path.to_owned(), data: encode(zk_session), version: None }
}

fn encode(zk_session: i64) -> Vec<u8> {
    format!("{PREFIX}{:016x}", zk_session as u64).into_bytes()
}

/// The session a latch path's data names as the last leader that left, if it is a leave
/// record (anything else, e.g. data an operator or another tool wrote, names nobody).
pub(crate) fn who_left(data: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(data).ok()?;
    let hex = text.strip_prefix(PREFIX)?;
    u64::from_str_radix(hex, 16).ok().map(|id| id as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_names_the_session_that_left() {
        for zk_session in [0x1000_0a3b_c4d5_0001_i64, 1, -2, i64::MAX, i64::MIN] {
            assert_eq!(who_left(&encode(zk_session)), Some(zk_session));
        }
        for garbage in [&b""[..], b"left", b"left zk_session=0x", b"left zk_session=0xzz", b"\xff\xfe", b"172.0.0.1:80"]
        {
            assert_eq!(who_left(garbage), None, "{garbage:?}");
        }
    }
}
