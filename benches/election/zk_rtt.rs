//! Raw request round trips through the session actor: the floor every other figure stands on.

use std::time::Instant;
use zk_election::testkit::Operator;

use serde_json::json;
use zk_election::zk::Exists;

use crate::setup::{close_sessions, connect, Bench, SECOND, WARMUP};
use crate::stats::{row, Outcome, Samples};

/// Raw request round trip through the session actor: the unit every other figure is made of.
pub(crate) async fn zk_round_trip(bench: &Bench) -> Result<Outcome, String> {
    let session = connect(&bench.connect, 6 * SECOND).await?;
    // The requests the election makes, through the same seam (one local hop more than the session).
    let operator = Operator::start(&session);
    let mut exists = Samples::default();
    let mut create_delete = Samples::default();
    for i in 0..(WARMUP * 10 + 200) {
        let start = Instant::now();
        operator
            .send(Exists { path: "/zookeeper".into() })
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        if i >= WARMUP * 10 {
            exists.push(start.elapsed());
        }
    }
    for i in 0..(WARMUP * 10 + 100) {
        let path = format!("/bench-rtt-{i}");
        let start = Instant::now();
        let create = zk_election::zk::Create::new(path.clone(), Vec::new(), zk_election::zk::NodeMode::Ephemeral);
        operator.send(create).await.map_err(|e| e.to_string())?.map_err(|e| e.to_string())?;
        operator
            .send(zk_election::zk::Delete { path, version: None })
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        if i >= WARMUP * 10 {
            create_delete.push_ms(start.elapsed().as_secs_f64() * 1000.0 / 2.0);
        }
    }
    close_sessions([session]).await;
    Ok(Outcome {
        rows: vec![
            row(
                "zk_read_rtt_ms p50/p99",
                format!("{:.3} / {:.3}", exists.percentile(50.0), exists.percentile(99.0)),
                "(floor)",
                None,
            ),
            row(
                "zk_write_rtt_ms p50/p99",
                format!("{:.3} / {:.3}", create_delete.percentile(50.0), create_delete.percentile(99.0)),
                "(floor)",
                None,
            ),
        ],
        json: json!({ "read_exists_ms": exists.summary(), "write_create_or_delete_ms": create_delete.summary() }),
    })
}
