//! The script: a blip, a partition and a heal, and what each policy's leader must have done.

use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use zk_election::{ConnectionLossPolicy, ConnectionState};

use crate::election::{self, Election, SESSION_TIMEOUT};
use crate::story::{published, short, Story, What};

/// How long the blip keeps the proxies cut.
const BLIP: Duration = Duration::from_millis(200);
/// How long the script watches for more events after the blip.
const SETTLE: Duration = Duration::from_millis(500);
/// Deadline of every wait.
const DEADLINE: Duration = Duration::from_secs(8);
const STANDARD: &str = "standard";
const TOLERANT: &str = "tolerant";

/// Plays the script; an error saying what was expected when a leader behaves otherwise.
pub async fn run(connect: String) -> Result<(), String> {
    let (sender, receiver) = mpsc::unbounded_channel();
    let mut story = Story::new(receiver);
    story.say("two elections, one contender each; each session (timeout 2 s) goes through its own fault proxy");
    let standard = Election::start(STANDARD, ConnectionLossPolicy::Standard, &connect, &sender).await?;
    let tolerant = Election::start(TOLERANT, ConnectionLossPolicy::SessionTolerant, &connect, &sender).await?;
    let both = [&standard, &tolerant];

    let (mut standard_session, mut tolerant_session) = (None, None);
    story
        .until(DEADLINE, "both leaders published", |event| {
            match (event.side, published(event)) {
                (STANDARD, Some(session)) => standard_session = Some(session),
                (TOLERANT, Some(session)) => tolerant_session = Some(session),
                _ => {}
            }
            standard_session.is_some() && tolerant_session.is_some()
        })
        .await?;
    let (Some(standard_before), Some(tolerant_before)) = (standard_session, tolerant_session) else {
        unreachable!("waited for both");
    };

    // 1. A blip: every connection is closed, and comes back within the session timeout.
    story.say(&format!("== blip: both proxies cut every connection, and pass again {} ms later", BLIP.as_millis()));
    let mark = story.seen.len();
    election::cut(&both).await;
    tokio::time::sleep(BLIP).await;
    story.say("== both proxies pass again");
    election::pass(&both);
    let (mut standard_after, mut tolerant_back) = (None, false);
    story
        .until(DEADLINE, "the standard leader republished and the tolerant session back", |event| {
            match (event.side, &event.what) {
                (STANDARD, _) => standard_after = published(event).filter(|s| *s != standard_before).or(standard_after),
                (TOLERANT, What::Connection(ConnectionState::Reconnected { same_session: true }, _)) => {
                    tolerant_back = true
                }
                _ => {}
            }
            standard_after.is_some() && tolerant_back
        })
        .await?;
    story.settle(SETTLE).await;
    let since_blip = &story.seen[mark..];
    let standard_revoked = since_blip.iter().any(|e| e.side == STANDARD && e.is_revoke());
    let tolerant_revoked = since_blip.iter().any(|e| e.side == TOLERANT && e.is_revoke());
    if !standard_revoked || tolerant_revoked {
        return Err(format!(
            "after the blip: standard revoked {standard_revoked}, tolerant revoked {tolerant_revoked}"
        ));
    }
    let standard_after = standard_after.expect("waited for it");
    story.say(&format!(
        "=> standard: revoked and granted again, leader session {} → {}",
        short(standard_before),
        short(standard_after)
    ));
    story.say(&format!("=> tolerant: still leading, leader session {} unchanged", short(tolerant_before)));

    // 2. A partition that outlasts the session timeout.
    story.say(&format!(
        "== partition: both proxies blackhole (nothing passes, no connection closes) past the {} ms session timeout",
        SESSION_TIMEOUT.as_millis()
    ));
    let partitioned = Instant::now();
    election::blackhole(&both);
    let (mut standard_down, mut tolerant_down, mut lost) = (None, None, 0);
    story
        .until(SESSION_TIMEOUT + DEADLINE, "both leaders revoked and both sessions lost", |event| {
            match (event.side, &event.what) {
                (STANDARD, _) if event.is_revoke() => standard_down = Some(event.at),
                (TOLERANT, _) if event.is_revoke() => tolerant_down = Some(event.at),
                (_, What::Connection(ConnectionState::Lost, _)) => lost += 1,
                _ => {}
            }
            standard_down.is_some() && tolerant_down.is_some() && lost == 2
        })
        .await?;
    let after = |at: Option<Instant>| at.map_or(0, |at| at.saturating_duration_since(partitioned).as_millis());
    story.say(&format!(
        "=> both stepped down: standard {} ms into the partition (at Suspended), tolerant {} ms (its session lease ended)",
        after(standard_down),
        after(tolerant_down)
    ));

    // 3. The partition heals: new sessions, new leaderships.
    story.say("== healing: both proxies pass");
    election::pass(&both);
    let (mut standard_again, mut tolerant_again) = (false, false);
    story
        .until(DEADLINE, "both leaders published again", |event| {
            match (event.side, published(event)) {
                (STANDARD, Some(_)) => standard_again = true,
                (TOLERANT, Some(_)) => tolerant_again = true,
                _ => {}
            }
            standard_again && tolerant_again
        })
        .await?;

    story.say("stopping both elections");
    election::stop(&both).await;
    Ok(())
}
