//! The cost of TLS: clean failovers over mutual TLS beside plain TCP, on one server that serves
//! both (Netty connection factory, as TLS requires), in alternating rounds.

use serde_json::json;
use zk_election::secure::TlsConfig;
use zk_election::testkit::ZkServer;

use crate::clean_failover::handovers;
use crate::setup::{close_sessions, connect, Bench, SECOND};
use crate::stats::{row, Outcome, Samples};

/// Handovers per round and transport; rounds alternate plain and TLS so that drift in the
/// machine's load touches both alike.
const PER_ROUND: usize = 50;
const ROUNDS: usize = 4;

pub(crate) async fn tls_cost(_bench: &Bench) -> Result<Outcome, String> {
    let server = tokio::task::spawn_blocking(|| ZkServer::builder().force_sync(false).tls().start())
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("TLS ZooKeeper: {e}"))?;
    let material = server.tls().ok_or("no TLS material")?;
    let tls = TlsConfig::ca_file(material.ca_path())
        .client_identity_files(material.client_cert_path(), material.client_key_path());
    let observer = connect(&server.connect_string(), 10 * SECOND).await?;
    let context = |connect: String, tls: Option<TlsConfig>| Bench {
        connect,
        observer: observer.clone(),
        tick: None,
        zk_pid: server.pid(),
        zk_log: server.log_path().to_owned(),
        zk_addr: server.addr(),
        example: Err("not used".to_owned()),
        tls,
    };
    let plain_bench = context(server.connect_string(), None);
    let tls_bench = context(server.secure_connect_string().ok_or("no TLS port")?, Some(tls));
    let (mut plain, mut secured) = (Samples::default(), Samples::default());
    for _ in 0..ROUNDS {
        plain.0.extend(handovers(&plain_bench, PER_ROUND).await?.0 .0);
        secured.0.extend(handovers(&tls_bench, PER_ROUND).await?.0 .0);
    }
    close_sessions([observer]).await;
    drop(server);
    let (tcp50, tls50) = (plain.percentile(50.0), secured.percentile(50.0));
    let ratio = if tcp50 > 0.0 { tls50 / tcp50 } else { f64::NAN };
    Ok(Outcome {
        rows: vec![
            row(
                "clean_failover_tcp_ms p50/p99 (Netty)",
                format!("{tcp50:.2} / {:.2}", plain.percentile(99.0)),
                "(baseline)",
                None,
            ),
            row(
                "clean_failover_tls_ms p50/p99 (mutual TLS)",
                format!("{tls50:.2} / {:.2} (×{ratio:.2})", secured.percentile(99.0)),
                "(cost of TLS)",
                None,
            ),
        ],
        json: json!({
            "server": "standalone, NettyServerCnxnFactory, plain clientPort and secureClientPort (ssl.clientAuth=need)",
            "rounds": ROUNDS,
            "handovers_per_round": PER_ROUND,
            "tcp_ms": plain.summary(),
            "tls_ms": secured.summary(),
            "tls_over_tcp_p50": ratio,
        }),
    })
}
