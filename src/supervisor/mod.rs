//! The election supervisor: the state machine of Flink's `ZooKeeperLeaderElectionService`, one
//! row per handler, as actor-private state (ARCHITECTURE.md traces a grant through it).
//!
//! | event | here |
//! |---|---|
//! | subscribe | `grant.rs`: validates, joins the latch with the first contender |
//! | latch: is leader | `grant.rs`: only if running and within the session lease: every contender → `Role::Granted` with a fresh leader session, **granted** |
//! | latch: not leader, lease lapsed | `lead.rs`: every contender → `Role::Follower` (its leader node, cache and write state dropped), **revoked** |
//! | confirm | `grant.rs`: only if leading and the ID is the one granted: → `Role::Leading`, publish |
//! | leader node changed | `publish.rs`: only while leading: rewrite when absent, foreign, undecodable or different |
//! | publish | `publish.rs`: one guarded multi-op (latch node must exist); refused writes retried, the latch given up after the publish patience |
//! | stop | `leave.rs`: → `Lifecycle::Stopped` first; leader nodes and latch node deleted in one guarded multi-op (retried after the next reconnect if the connection broke it) |
//!
//! Every message but [`StopElection`](crate::StopElection) reaches its handler through `Checked` (`lead.rs`), which looks at
//! the lease first and lends the handler a `Lead` (`lead.rs`) if we may lead: the only way to
//! grant, confirm, publish or answer for leadership.

mod contenders;
mod fencing;
mod grant;
mod handover;
mod health;
mod lead;
mod leave;
mod publish;
mod reports;
mod role;

use actix::prelude::*;
use tracing::{field, info_span, warn};

use crate::config::ElectionConfig;
use crate::contender::ElectionError;
use crate::latch::{LatchEvent, LeaderLatch, Requeue};
use crate::metrics::ElectionMetrics;
use crate::port::{Lease, OwnsPort, Port, Subscription, ZooKeeper};
use crate::zk::{ConnectionState, NodeAcl, Stat, WriteOp};
use contenders::Contenders;
use leave::Leaving;

/// Whether the election runs, and what only a running or a stopped one has.
enum Lifecycle {
    /// Contenders take part. `latch` exists from the first subscribe on; `held` while we hold
    /// the latch.
    Running { latch: Option<Addr<LeaderLatch>>, held: Option<Held> },
    /// Stopped: every late event is ignored. `pending_leave`: nodes a stop could not delete
    /// for want of a connection, deleted after the next reconnect in the same session.
    Stopped { pending_leave: Option<Leaving> },
}

/// The latch as we hold it.
#[derive(Debug)]
struct Held {
    /// Our latch node: the guard of every leader write.
    node: String,
    /// The zxid that created it, which every leader on it gets as its fencing token. The
    /// leader is the lowest live latch node, and every node created later has a larger czxid,
    /// so successive leaders' tokens strictly increase (ARCHITECTURE.md, "Fencing").
    fencing_token: i64,
    /// A wake-up at the end of the lease while grants stand, and the end it is armed for
    /// (`lead.rs`).
    lease_end: Option<(tokio::time::Instant, SpawnHandle)>,
    /// The line behind us, watched for candidates of higher priority (`handover.rs`).
    line: Option<handover::LineHold>,
}

/// The election supervisor for one latch path. Start it with [`ElectionSupervisor::start`].
pub struct ElectionSupervisor {
    /// Requests, with the epoch that moves on whenever every grant ends (revoke, stop): answers
    /// to requests made for an earlier leadership are stale. Its span is
    /// `election{latch, zk_session}`: every event of this election, its latch and caches.
    port: Port,
    config: ElectionConfig,
    lifecycle: Lifecycle,
    /// Our ZooKeeper session ID, to recognise leader nodes we own.
    zk_session: Option<i64>,
    /// The session's lease: nobody leads here while it does not hold, whatever the latch says.
    lease: Option<Lease>,
    /// The connection as the session last announced it: a stop without one does not wait.
    connection: Option<ConnectionState>,
    /// ACL of the nodes we create, resolved at start from the config and the session's auth.
    acl: NodeAcl,
    /// By component name, sized to what it holds (see `contenders.rs` for why not a map).
    contenders: Contenders,
    /// From the contenders' health reports: in line, or sitting out (`health.rs`).
    health: health::Health,
    metrics: ElectionMetrics,
}

impl std::fmt::Debug for ElectionSupervisor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ElectionSupervisor")
            .field("latch_path", &self.config.latch_path())
            .field("zk_session", &self.zk_session)
            .field("running", &self.running())
            .field("contenders", &self.contenders.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl OwnsPort for ElectionSupervisor {
    fn port(&self) -> &Port {
        &self.port
    }
}

impl ElectionSupervisor {
    /// Starts a supervisor for the election `config` over `zookeeper` (a session's address, or
    /// any [`ZooKeeper`]), on the current arbiter.
    #[must_use = "an actor stops once no `Addr` to it is left"]
    pub fn start(zookeeper: impl Into<ZooKeeper>, config: ElectionConfig) -> Addr<ElectionSupervisor> {
        let span = info_span!("election", latch = %config.latch_path(), zk_session = field::Empty);
        ElectionSupervisor {
            port: Port::new(zookeeper.into(), span),
            lifecycle: Lifecycle::Running { latch: None, held: None },
            zk_session: None,
            lease: None,
            connection: None,
            acl: NodeAcl::Open,
            contenders: Contenders::default(),
            health: health::Health::default(),
            metrics: ElectionMetrics::default(),
            config,
        }
        .start()
    }

    fn running(&self) -> bool {
        matches!(self.lifecycle, Lifecycle::Running { .. })
    }

    /// Whether the latch says we lead (the lease aside: see [`ElectionSupervisor::with_lead`]).
    fn holds_latch(&self) -> bool {
        matches!(self.lifecycle, Lifecycle::Running { held: Some(_), .. })
    }

    /// Whether the node with `stat` is an ephemeral of our current ZooKeeper session.
    fn owns(&self, stat: &Stat) -> bool {
        Some(stat.ephemeral_owner) == self.zk_session
    }

    /// Remembers our ZooKeeper session ID (to recognise nodes we own) and names it in our span.
    fn set_zk_session(&mut self, zk_session: Option<i64>) {
        // Recorded on change only: a formatter shows every recorded value, the last one current.
        if let Some(id) = zk_session.filter(|id| Some(*id) != self.zk_session) {
            self.port.span().record("zk_session", field::display(format_args!("{id:#x}")));
        }
        self.zk_session = zk_session;
    }

    /// Whether the session's lease holds: the server is known to keep our session (and with it
    /// our latch node) at least until then.
    fn lease_holds(&self) -> bool {
        self.lease.as_ref().is_some_and(Lease::holds)
    }

    fn report_all(&self, error: ElectionError) {
        for (component, contender) in self.contenders.iter() {
            contender.report(component, error.clone());
        }
    }

    fn report(&self, component: &str, error: ElectionError) {
        if let Some(contender) = self.contenders.get(component) {
            warn!(component, %error, "election error");
            contender.report(component, error);
        }
    }

    /// Revokes every grant and queues again at the back of the latch; our leader nodes go in
    /// one multi-op with our latch node (and `also`), so the successor finds the place free.
    fn requeue_with(&mut self, also: Vec<WriteOp>) {
        let mut with = self.own_leader_node_deletes();
        with.extend(also);
        // Revoke first, so nobody acts as leader while the latch node is replaced.
        self.on_latch(LatchEvent::NotLeader);
        if let Lifecycle::Running { latch: Some(latch), .. } = &self.lifecycle {
            latch.do_send(Requeue { with });
        }
    }

    /// Sends `msg` to our latch, if it runs.
    fn latch_send<M>(&self, msg: M)
    where
        M: Message<Result = ()> + Send + 'static,
        LeaderLatch: Handler<M>,
    {
        if let Lifecycle::Running { latch: Some(latch), .. } = &self.lifecycle {
            latch.do_send(msg);
        }
    }

    fn start_latch(&self, participant_id: String, ctx: &mut Context<Self>) -> Addr<LeaderLatch> {
        LeaderLatch::new(
            self.port.zookeeper(),
            self.config.latch_path().to_owned(),
            self.config.candidate(&participant_id),
            self.acl.clone(),
            self.config.policy(),
            ctx.address().recipient(),
        )
        .with_cooldown(self.config.cooldown())
        .start()
    }
}

impl Actor for ElectionSupervisor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let _span = self.port.span().clone().entered();
        let me = ctx.address();
        let subscription =
            Subscription::connection(me.clone().recipient()).lease(me.clone().recipient()).failures(me.recipient());
        self.port.subscribe(ctx, subscription, |act, status, _ctx| {
            if let Ok(status) = status {
                act.set_zk_session(status.zk_session);
                act.lease = Some(status.lease);
                act.connection = status.state;
                act.acl = act.config.acl().cloned().unwrap_or(status.default_acl);
            }
        });
    }
}
