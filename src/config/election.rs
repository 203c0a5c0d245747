//! One election's configuration: latch path, codec, ACL, policy, participant ID, and what
//! operators steer: priority, labels, preemption, cooldown.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::error::ConfigError;
use crate::path;

/// Configuration of one election (one latch path), shared by every contender subscribed to its
/// supervisor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ElectionConfig {
    latch_path: String,
    codec: crate::codec::LeaderInfoCodec,
    /// `None`: creator-only when the session authenticates, open otherwise.
    acl: Option<crate::zk::NodeAcl>,
    policy: crate::policy::ConnectionLossPolicy,
    participant_id: Option<String>,
    publish_patience: Duration,
    priority: i32,
    labels: BTreeMap<String, String>,
    preempt_after: Option<Duration>,
    cooldown: Duration,
    health_failures: u32,
}

/// Unhealthy reports in a row after which a contender steps down, by default.
pub const DEFAULT_HEALTH_FAILURES: u32 = 3;

/// How long a candidate of strictly higher priority must have stood in line before the leader
/// hands over to it, by default.
pub const DEFAULT_PREEMPT_AFTER: Duration = Duration::from_secs(1);

/// How long a leader retries a leader-node write that ZooKeeper refuses before it gives the
/// latch up, by default.
pub const DEFAULT_PUBLISH_PATIENCE: Duration = Duration::from_secs(5);

impl ElectionConfig {
    /// Starts a builder for an election on `latch_path`.
    pub fn builder(latch_path: impl Into<String>) -> ElectionConfigBuilder {
        ElectionConfigBuilder {
            config: ElectionConfig {
                latch_path: latch_path.into(),
                codec: Default::default(),
                acl: Default::default(),
                policy: Default::default(),
                participant_id: None,
                publish_patience: DEFAULT_PUBLISH_PATIENCE,
                priority: 0,
                labels: BTreeMap::new(),
                preempt_after: Some(DEFAULT_PREEMPT_AFTER),
                cooldown: Duration::ZERO,
                health_failures: DEFAULT_HEALTH_FAILURES,
            },
        }
    }

    /// The latch path.
    pub fn latch_path(&self) -> &str {
        &self.latch_path
    }

    /// The leader information codec.
    pub fn codec(&self) -> crate::codec::LeaderInfoCodec {
        self.codec
    }

    /// The ACL of created nodes, if set explicitly (else chosen from the session's auth).
    pub fn acl(&self) -> Option<&crate::zk::NodeAcl> {
        self.acl.as_ref()
    }

    /// The connection-loss policy.
    pub fn policy(&self) -> crate::policy::ConnectionLossPolicy {
        self.policy
    }

    /// The participant ID written in the latch node, if set explicitly.
    pub fn participant_id(&self) -> Option<&str> {
        self.participant_id.as_deref()
    }

    /// How long a leader retries a refused leader-node write before giving the latch up.
    pub fn publish_patience(&self) -> Duration {
        self.publish_patience
    }

    /// Our priority in line (default 0): a leader hands over to a candidate of strictly
    /// higher priority.
    pub fn priority(&self) -> i32 {
        self.priority
    }

    /// Our labels in line.
    pub fn labels(&self) -> &BTreeMap<String, String> {
        &self.labels
    }

    /// How long a candidate of strictly higher priority stands in line before we, leading,
    /// hand over to it; `None`: never.
    pub fn preempt_after(&self) -> Option<Duration> {
        self.preempt_after
    }

    /// How long we wait before queueing again after we resigned or lost leadership.
    pub fn cooldown(&self) -> Duration {
        self.cooldown
    }

    /// Unhealthy reports in a row after which we step down and leave the line.
    pub fn health_failures(&self) -> u32 {
        self.health_failures
    }

    /// What our latch node announces, with `participant` as its ID.
    pub fn candidate(&self, participant: &str) -> crate::latch::CandidateInfo {
        crate::latch::CandidateInfo { id: participant.to_owned(), priority: self.priority, labels: self.labels.clone() }
    }

    /// Checks a contender's leader path for this election: a valid ZooKeeper path (see
    /// [`ElectionConfigBuilder::build`]) that neither is the latch path nor lies above or
    /// below it (`/a/b` and `/a/bc` do not overlap).
    ///
    /// # Errors
    /// [`ConfigError::InvalidPath`] or [`ConfigError::OverlappingPaths`].
    pub fn check_leader_path(&self, leader_path: &str) -> Result<(), ConfigError> {
        path::validate("leader path", leader_path)?;
        if path::overlap(&self.latch_path, leader_path) {
            return Err(ConfigError::OverlappingPaths {
                latch_path: self.latch_path.clone(),
                leader_path: leader_path.to_owned(),
            });
        }
        Ok(())
    }
}

/// Builder of [`ElectionConfig`]; [`ElectionConfigBuilder::build`] validates.
#[derive(Clone, Debug)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct ElectionConfigBuilder {
    config: ElectionConfig,
}

impl ElectionConfigBuilder {
    /// Leader information codec (default `bincode`; `java` for Flink peers).
    pub fn codec(mut self, codec: crate::codec::LeaderInfoCodec) -> Self {
        self.config.codec = codec;
        self
    }

    /// ACL of the latch and leader nodes we create. By default nodes are creator-only
    /// ([`crate::zk::NodeAcl::CreatorAll`]) when the session has digest auth, and open
    /// otherwise.
    pub fn acl(mut self, acl: crate::zk::NodeAcl) -> Self {
        self.config.acl = Some(acl);
        self
    }

    /// What leadership survives connection trouble (default [`crate::ConnectionLossPolicy::Standard`]).
    pub fn policy(mut self, policy: crate::policy::ConnectionLossPolicy) -> Self {
        self.config.policy = policy;
        self
    }

    /// Participant ID written in the latch node (default: the first contender's address),
    /// what Curator tools show as the participant. Must not be empty.
    pub fn participant_id(mut self, id: impl Into<String>) -> Self {
        self.config.participant_id = Some(id.into());
        self
    }

    /// How long a leader keeps retrying a leader-node write that ZooKeeper refuses (an ACL
    /// that denies it, a quota, a parent that is an ephemeral node) before it gives the latch up
    /// and queues again at the back, so that another contender gets its turn (default
    /// [`DEFAULT_PUBLISH_PATIENCE`]). Connection trouble never counts: the connection-loss
    /// policy decides then.
    pub fn publish_patience(mut self, patience: Duration) -> Self {
        self.config.publish_patience = patience;
        self
    }

    /// Our priority in line (default 0). Leading, we hand over to a candidate of strictly
    /// higher priority once it has stood in line for [`ElectionConfigBuilder::preempt_after`];
    /// equal priorities never preempt. The priority is part of our latch node's name, so every
    /// leader sees it in the listing it reads anyway.
    pub fn priority(mut self, priority: i32) -> Self {
        self.config.priority = priority;
        self
    }

    /// A label announced in line (`zk-elect candidates` shows them): a version, a zone.
    pub fn label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.config.labels.insert(key.into(), value.into());
        self
    }

    /// How long a candidate of strictly higher priority must stand in line before we, leading,
    /// hand over to it (default [`DEFAULT_PREEMPT_AFTER`]): a candidate that comes and goes
    /// does not take leadership with it.
    pub fn preempt_after(mut self, grace: Duration) -> Self {
        self.config.preempt_after = Some(grace);
        self
    }

    /// Never hand over to a candidate of higher priority (leading costs no line watch then).
    pub fn no_preemption(mut self) -> Self {
        self.config.preempt_after = None;
        self
    }

    /// How long we wait before queueing again after we resigned, handed over or lost
    /// leadership (default none): the same failing process does not win again at once.
    pub fn cooldown(mut self, cooldown: Duration) -> Self {
        self.config.cooldown = cooldown;
        self
    }

    /// After this many [`ReportHealth`](crate::ReportHealth) `healthy: false` in a row, step
    /// down and leave the line until a healthy report (default [`DEFAULT_HEALTH_FAILURES`]).
    pub fn health_failures(mut self, failures: u32) -> Self {
        self.config.health_failures = failures;
        self
    }

    /// Validates and builds.
    ///
    /// # Errors
    /// [`ConfigError::ZeroTimeout`] for a zero publish patience;
    /// [`ConfigError::InvalidPath`] for a latch path that is not absolute, is the root, ends
    /// with `/`, has empty, `.` or `..` segments or control characters, or lies in ZooKeeper's
    /// reserved `/zookeeper` subtree; [`ConfigError::EmptyParticipantId`] for an empty
    /// participant ID; [`ConfigError::InvalidCandidate`] for a participant ID, label key or
    /// value the latch node cannot carry (a line break; `=` or nothing in a key);
    /// [`ConfigError::ZeroHealthFailures`] for `health_failures(0)`.
    pub fn build(self) -> Result<ElectionConfig, ConfigError> {
        path::validate("latch path", &self.config.latch_path)?;
        if self.config.participant_id.as_deref() == Some("") {
            return Err(ConfigError::EmptyParticipantId);
        }
        self.config.candidate(self.config.participant_id.as_deref().unwrap_or("-")).validate()?;
        if self.config.health_failures == 0 {
            return Err(ConfigError::ZeroHealthFailures);
        }
        if self.config.publish_patience.is_zero() {
            return Err(ConfigError::ZeroTimeout { what: "publish patience" });
        }
        Ok(self.config)
    }
}
