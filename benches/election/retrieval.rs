//! What observing costs, with one-shot watches and with a persistent watch, side by side: the
//! requests a `LeaderRetriever` makes per leader change (its session's own count, nothing else
//! on it), with and without the line it lists to tell how terms end, how many of the vacancies
//! between leaders it reported, and the memory of an idle retriever (RSS of this process, a
//! thousand retrievers on one session).

use std::time::Instant;

use actix::prelude::*;
use serde_json::json;
use tokio::sync::mpsc;
use zk_election::{
    LeaderInfoCodec, LeaderRetriever, LeaderState, Observation, Resign, StopRetriever, SubscribeObservations,
};

use crate::elections::trimmed_rss_kib;
use crate::setup::{
    close_sessions, connect, connect_to, join_now, session_metrics, stop, total_requests, within, Bench, Event,
    EVENT_DEADLINE, SECOND,
};
use crate::stats::{round3, row, Outcome};

const CHANGES: usize = 40;
const RETRIEVERS: usize = 1000;
const COMPONENT: &str = "bench";

/// Requests per leader change, plain and with the line, and vacancies seen; bytes per idle
/// retriever: one-shot, then persistent.
pub(crate) async fn retrieval_costs(bench: &Bench) -> Result<Outcome, String> {
    let mut rows = Vec::new();
    let mut json = serde_json::Map::new();
    for (name, persistent) in [("one_shot", false), ("persistent", true)] {
        let plain = changes(bench, &format!("/bench/retrieval/{name}/plain"), false, persistent).await?;
        let line = changes(bench, &format!("/bench/retrieval/{name}/line"), true, persistent).await?;
        let per_retriever = bytes_per_retriever(bench, name, persistent).await?;
        let requests = format!("{:.2}", plain.requests);
        rows.push(row(&format!("retriever_requests_per_leader_change ({name})"), requests, "", None));
        rows.push(row("↳ with the line (history)", format!("{:.2}", line.requests), "", None));
        rows.push(row("↳ vacancies reported", format!("{} of {CHANGES}", plain.vacancies), "", None));
        rows.push(row(&format!("rss_bytes_per_retriever ({name})"), format!("{per_retriever:.0}"), "", None));
        let figures = json!({
            "retriever_requests_per_leader_change": round3(plain.requests),
            "retriever_requests_per_leader_change_with_line": round3(line.requests),
            "vacancies_reported": plain.vacancies,
            "rss_bytes_per_retriever": round3(per_retriever),
        });
        json.insert(name.to_owned(), figures);
    }
    json.insert("changes".to_owned(), json!(CHANGES));
    json.insert("retrievers".to_owned(), json!(RETRIEVERS));
    let note = "a change is a resign: the leader node is deleted and created again by the successor; requests counted on the retriever's own session";
    json.insert("note".to_owned(), json!(note));
    Ok(Outcome { rows, json: serde_json::Value::Object(json) })
}

/// What one series of changes cost an observer.
struct Changes {
    requests: f64,
    /// How many changes the retriever reported a vacancy in.
    vacancies: usize,
}

/// Two contenders resign in turn `CHANGES` times; the retriever's session counts its requests.
async fn changes(bench: &Bench, base: &str, line: bool, persistent: bool) -> Result<Changes, String> {
    let (latch, leader) = (format!("{base}/latch"), format!("{base}/leader"));
    let observer = connect(&bench.connect, 6 * SECOND).await?;
    let mut retriever =
        LeaderRetriever::new(observer.clone(), leader.clone(), LeaderInfoCodec::Bincode).map_err(|e| e.to_string())?;
    if line {
        retriever = retriever.with_line(latch.clone()).map_err(|e| e.to_string())?;
    }
    if persistent {
        retriever = retriever.with_persistent_watch();
    }
    let retriever = retriever.start();
    let (tap, mut seen) = Tap::start();
    retriever.send(SubscribeObservations(tap)).await.map_err(|e| e.to_string())?;
    let (events, _event_rx) = mpsc::unbounded_channel::<Event>();
    let mut sessions = Vec::new();
    let mut members = Vec::new();
    for k in 0..2 {
        let session = connect_to(bench, 6 * SECOND).await?;
        members.push(join_now(&session, &latch, &leader, &format!("c{k}:1"), k, &events).await?);
        sessions.push(session);
    }
    let mut current = await_leading(&mut seen, None).await?.0;
    let mut vacancies = 0;
    let before = total_requests(&session_metrics(std::slice::from_ref(&observer)).await?);
    for _ in 0..CHANGES {
        let k = if current == "c0:1" { 0 } else { 1 };
        within(EVENT_DEADLINE, "resign", members[k].send(Resign::new(COMPONENT)))
            .await?
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        let (next, vacant) = await_leading(&mut seen, Some(&current)).await?;
        current = next;
        vacancies += usize::from(vacant);
    }
    // The listing of the last term may still be under way.
    tokio::time::sleep(SECOND / 2).await;
    let after = total_requests(&session_metrics(std::slice::from_ref(&observer)).await?);
    for member in &members {
        stop(member).await?;
    }
    let _ = retriever.send(StopRetriever).await;
    close_sessions(sessions.into_iter().chain([observer])).await;
    Ok(Changes { requests: after.saturating_sub(before) as f64 / CHANGES as f64, vacancies })
}

/// Waits until the retriever names a leader other than `other`; answers its address and
/// whether a vacancy was reported before it.
async fn await_leading(
    seen: &mut mpsc::UnboundedReceiver<Observation>,
    other: Option<&str>,
) -> Result<(String, bool), String> {
    let deadline = Instant::now() + EVENT_DEADLINE;
    let mut vacant = false;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let observation = within(left, "a new leader seen", seen.recv()).await?.ok_or("retriever gone")?;
        match observation.state {
            LeaderState::Leading { address, .. } if Some(address.as_str()) != other => return Ok((address, vacant)),
            LeaderState::Vacant => vacant = true,
            _ => {}
        }
    }
}

/// A thousand retrievers of absent nodes on one session, each having read once: RSS per one.
async fn bytes_per_retriever(bench: &Bench, name: &str, persistent: bool) -> Result<f64, String> {
    let session = connect(&bench.connect, 6 * SECOND).await?;
    let pid = std::process::id();
    let rss_before = trimmed_rss_kib(pid)?;
    let (tap, mut seen) = Tap::start();
    let mut retrievers = Vec::with_capacity(RETRIEVERS);
    for i in 0..RETRIEVERS {
        let path = format!("/bench/retrievers/{name}/leader-{i}");
        let mut retriever =
            LeaderRetriever::new(session.clone(), path, LeaderInfoCodec::Bincode).map_err(|e| e.to_string())?;
        if persistent {
            retriever = retriever.with_persistent_watch();
        }
        let retriever = retriever.start();
        retriever.do_send(SubscribeObservations(tap.clone()));
        retrievers.push(retriever);
    }
    for _ in 0..RETRIEVERS {
        within(10 * SECOND, "every retriever's first read", seen.recv()).await?.ok_or("retriever gone")?;
    }
    tokio::time::sleep(SECOND).await;
    let rss_idle = trimmed_rss_kib(pid)?;
    for retriever in &retrievers {
        retriever.do_send(StopRetriever);
    }
    close_sessions([session]).await;
    Ok(rss_idle.saturating_sub(rss_before) as f64 * 1024.0 / RETRIEVERS as f64)
}

/// Forwards observations into a channel.
struct Tap {
    sender: mpsc::UnboundedSender<Observation>,
}

impl Tap {
    fn start() -> (Recipient<Observation>, mpsc::UnboundedReceiver<Observation>) {
        let (sender, receiver) = mpsc::unbounded_channel();
        (Tap { sender }.start().recipient(), receiver)
    }
}

impl Actor for Tap {
    type Context = Context<Self>;
}

impl Handler<Observation> for Tap {
    type Result = ();

    fn handle(&mut self, msg: Observation, _ctx: &mut Context<Self>) {
        let _ = self.sender.send(msg);
    }
}
