//! What crosses the seam: one [`Call`] message per request, answered with one [`Reply`].
//!
//! Both are opaque outside the crate, and inside it only [`Port`](super::Port) makes a `Call`:
//! the actors of an election have no other way to reach ZooKeeper. The [`Op`] trait ties each
//! request type to the answer it expects, so a caller sees typed results, and an implementation
//! that answered with the wrong kind produces an error, never a panic.

use actix::prelude::*;

use super::events::{SessionStatus, Subscription, WatchFired};
use crate::zk::{
    AddWatch, Create, Created, Delete, Exists, GetChildren, GetData, GuardedMulti, RequestKind, SetData, Stat, Sync,
    WriteResult, ZkError,
};

/// One request to a ZooKeeper implementation (the session actor, or a simulated one). Only
/// this crate makes them; an implementation handles them (`Handler<Call>`).
#[derive(Debug, Message)]
#[rtype(result = "Result<Reply, ZkError>")]
pub struct Call {
    pub(crate) request: Request,
    /// Who hears the watch the request sets (watching reads only).
    pub(crate) watch: Option<Recipient<WatchFired>>,
}

/// The answer to a [`Call`]. Opaque outside the crate.
#[derive(Debug)]
pub struct Reply(pub(crate) Answer);

/// The requests, by kind.
#[derive(Debug)]
pub(crate) enum Request {
    Create(Create),
    Delete(Delete),
    Exists(Exists),
    GetData(GetData),
    GetChildren(GetChildren),
    SetData(SetData),
    Multi(GuardedMulti),
    Sync(Sync),
    AddWatch(AddWatch),
    Subscribe(Subscription),
}

impl Request {
    /// The kind, for counting (`None`: not a ZooKeeper request).
    pub fn kind(&self) -> Option<RequestKind> {
        Some(match self {
            Request::Create(_) => RequestKind::Create,
            Request::Delete(_) => RequestKind::Delete,
            Request::Exists(_) => RequestKind::Exists,
            Request::GetData(_) => RequestKind::GetData,
            Request::GetChildren(_) => RequestKind::GetChildren,
            Request::SetData(_) => RequestKind::SetData,
            Request::Multi(_) => RequestKind::Multi,
            Request::Sync(_) => RequestKind::Sync,
            Request::AddWatch(_) => RequestKind::AddWatch,
            Request::Subscribe(_) => return None,
        })
    }
}

/// The answers, by kind.
#[derive(Debug)]
pub(crate) enum Answer {
    Created(Created),
    Deleted,
    Stat(Option<Stat>),
    Data(Vec<u8>, Stat),
    Children(Vec<String>),
    Updated(Stat),
    Wrote(Vec<WriteResult>),
    Synced,
    Watching,
    Subscribed(SessionStatus),
}

/// A request and the answer it expects.
pub(crate) trait Op: Send + 'static {
    /// What a successful request answers.
    type Output: Send + 'static;

    /// The request as it crosses the seam.
    fn into_request(self) -> Request;

    /// The typed answer, if `answer` is of this request's kind.
    fn output(answer: Answer) -> Option<Self::Output>;

    /// The answer of `reply`, typed; an answer of another kind is an error.
    fn answer(reply: Result<Reply, ZkError>) -> Result<Self::Output, ZkError> {
        let Reply(answer) = reply?;
        Self::output(answer).ok_or_else(|| ZkError::Unexpected("an answer of another kind than the request".into()))
    }
}

/// Requests that can set a watch (ZooKeeper's watching reads).
pub(crate) trait Watching: Op {}

/// `impl Op for Request => Variant(pattern) => output`, once per request kind.
macro_rules! ops {
    ($($op:ident => $answer:pat => $output:expr, $ty:ty;)*) => {$(
        impl Op for $op {
            type Output = $ty;

            fn into_request(self) -> Request {
                Request::$op(self)
            }

            fn output(answer: Answer) -> Option<$ty> {
                match answer {
                    $answer => Some($output),
                    _ => None,
                }
            }
        }
    )*};
}

ops! {
    Create => Answer::Created(created) => created, Created;
    Delete => Answer::Deleted => (), ();
    Exists => Answer::Stat(stat) => stat, Option<Stat>;
    GetData => Answer::Data(data, stat) => (data, stat), (Vec<u8>, Stat);
    GetChildren => Answer::Children(children) => children, Vec<String>;
    SetData => Answer::Updated(stat) => stat, Stat;
    Sync => Answer::Synced => (), ();
    AddWatch => Answer::Watching => (), ();
}

impl Op for GuardedMulti {
    type Output = Vec<WriteResult>;

    fn into_request(self) -> Request {
        Request::Multi(self)
    }

    fn output(answer: Answer) -> Option<Vec<WriteResult>> {
        match answer {
            Answer::Wrote(results) => Some(results),
            _ => None,
        }
    }
}

impl Op for Subscription {
    type Output = SessionStatus;

    fn into_request(self) -> Request {
        Request::Subscribe(self)
    }

    fn output(answer: Answer) -> Option<SessionStatus> {
        match answer {
            Answer::Subscribed(status) => Some(status),
            _ => None,
        }
    }
}

impl Watching for Exists {}
impl Watching for GetData {}
impl Watching for GetChildren {}
impl Watching for AddWatch {}
