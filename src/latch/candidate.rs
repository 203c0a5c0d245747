//! What a candidate announces in line: its ID (Curator's participant ID), a priority and free-
//! form labels.
//!
//! Stored so that Curator peers still read the line:
//! - the **priority** is part of the node's name, `_c_{uuid}-p{priority}-latch-{sequence}`
//!   (`_c_{uuid}-latch-{sequence}` for priority 0, as Curator names it). Curator orders by the
//!   sequence after the last `latch-` and ignores the rest, and a leader learns every
//!   candidate's priority from the listing it reads anyway, without reading any node;
//! - the **data** is the participant ID alone when there are no labels and the priority is 0
//!   (byte for byte what Curator writes), else the ID on the first line followed by
//!   `priority=N` and `label.KEY=VALUE` lines. Curator's `getParticipants()` shows the whole
//!   text as the participant ID.

use std::collections::BTreeMap;

use crate::error::ConfigError;

/// What every latch node's name holds before its sequence (Curator's `LOCK_NAME`).
pub(super) const LATCH_MARKER: &str = "latch-";

/// What a candidate announces when it joins the line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CandidateInfo {
    /// The participant ID: by default the first contender's address.
    pub id: String,
    /// Higher leads: a leader hands over to a candidate of strictly higher priority.
    pub priority: i32,
    /// Free-form labels (version, zone, ...).
    pub labels: BTreeMap<String, String>,
}

impl CandidateInfo {
    /// The latch node's data.
    pub fn encode(&self) -> Vec<u8> {
        if self.priority == 0 && self.labels.is_empty() {
            return self.id.as_bytes().to_vec();
        }
        let mut text = format!("{}\npriority={}", self.id, self.priority);
        for (key, value) in &self.labels {
            text.push_str(&format!("\nlabel.{key}={value}"));
        }
        text.into_bytes()
    }

    /// Reads a latch node's data, whoever wrote it: anything not ours (a Curator peer's ID,
    /// bytes that are not UTF-8) is an ID with priority 0 and no labels. `priority` comes from
    /// the node's name, which wins over the data.
    pub fn decode(data: &[u8], priority: i32) -> CandidateInfo {
        let text = String::from_utf8_lossy(data);
        let mut lines = text.split('\n');
        let id = lines.next().unwrap_or_default().to_owned();
        let mut labels = BTreeMap::new();
        let rest: Vec<&str> = lines.collect();
        let ours = rest.first().is_some_and(|line| line.starts_with("priority="));
        if !ours {
            return CandidateInfo { id: text.into_owned(), priority, labels };
        }
        for line in &rest[1..] {
            if let Some((key, value)) = line.strip_prefix("label.").and_then(|label| label.split_once('=')) {
                labels.insert(key.to_owned(), value.to_owned());
            }
        }
        CandidateInfo { id, priority, labels }
    }

    /// Checks what the encoding cannot carry: a line break in the ID, a label key that is
    /// empty or holds `=` or a line break, a value with a line break.
    ///
    /// # Errors
    /// [`ConfigError::InvalidCandidate`] naming the problem.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |problem: String| Err(ConfigError::InvalidCandidate { problem });
        if self.id.contains('\n') {
            return invalid(format!("participant ID {:?} holds a line break", self.id));
        }
        for (key, value) in &self.labels {
            if key.is_empty() || key.contains(['=', '\n']) {
                return invalid(format!("label key {key:?} is empty or holds '=' or a line break"));
            }
            if value.contains('\n') {
                return invalid(format!("label {key:?} has a value with a line break"));
            }
        }
        Ok(())
    }
}

impl From<String> for CandidateInfo {
    /// A candidate with this participant ID, priority 0 and no labels (what Curator announces).
    fn from(id: String) -> CandidateInfo {
        CandidateInfo { id, ..CandidateInfo::default() }
    }
}

impl From<&str> for CandidateInfo {
    fn from(id: &str) -> CandidateInfo {
        CandidateInfo::from(id.to_owned())
    }
}

/// The part of a latch node's name that carries `priority`, before `latch-`.
pub(crate) fn name_infix(priority: i32) -> String {
    if priority == 0 {
        String::new()
    } else {
        format!("p{priority}-")
    }
}

/// The priority a latch node's name carries (0 for Curator's names and anything unreadable).
pub fn priority_of(name: &str) -> i32 {
    let Some(before) = name.rfind(LATCH_MARKER).and_then(|i| name[..i].strip_suffix('-')) else {
        return 0;
    };
    before.rfind("-p").and_then(|i| before[i + 2..].parse().ok()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_candidates_write_what_curator_writes() {
        let plain = CandidateInfo { id: "host:8080".into(), ..Default::default() };
        assert_eq!(plain.encode(), b"host:8080");
        assert_eq!(CandidateInfo::decode(b"host:8080", 0), plain);
    }

    #[test]
    fn priority_and_labels_round_trip() {
        let labels = BTreeMap::from([("version".to_owned(), "2.1".to_owned()), ("zone".to_owned(), "a=b".to_owned())]);
        let info = CandidateInfo { id: "h:1".into(), priority: 7, labels };
        let data = info.encode();
        assert_eq!(String::from_utf8_lossy(&data), "h:1\npriority=7\nlabel.version=2.1\nlabel.zone=a=b");
        assert_eq!(CandidateInfo::decode(&data, 7), info);
    }

    #[test]
    fn foreign_data_is_an_id() {
        for data in [&b"two\nlines"[..], b"\xff\xfe", b""] {
            let info = CandidateInfo::decode(data, 0);
            assert_eq!((info.priority, info.labels.len()), (0, 0));
            assert_eq!(info.id, String::from_utf8_lossy(data));
        }
    }

    #[test]
    fn priorities_are_read_from_names() {
        let uuid = "_c_0b06130b-8b26-43a4-b406-224fe61e0510-";
        for (infix, priority) in [("", 0), ("p5-", 5), ("p-3-", -3), ("p12x-", 0), ("p2147483647-", i32::MAX)] {
            let name = format!("{uuid}{infix}latch-0000000011");
            assert_eq!(priority_of(&name), priority, "{name}");
            if priority != 0 {
                assert_eq!(name_infix(priority), infix);
            }
        }
        assert_eq!(priority_of("x-latch-0000000001"), 0);
        assert_eq!(priority_of("nothing"), 0);
    }

    #[test]
    fn what_the_encoding_cannot_carry_is_refused() {
        let with = |id: &str, key: &str, value: &str| CandidateInfo {
            id: id.into(),
            priority: 0,
            labels: BTreeMap::from([(key.to_owned(), value.to_owned())]),
        };
        assert!(with("a", "k", "v").validate().is_ok());
        for bad in [with("a\nb", "k", "v"), with("a", "", "v"), with("a", "k=x", "v"), with("a", "k", "v\nw")] {
            assert!(matches!(bad.validate(), Err(ConfigError::InvalidCandidate { .. })), "{bad:?}");
        }
    }
}
