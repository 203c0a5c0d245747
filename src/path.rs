//! Validation of ZooKeeper paths given by users, so mistakes surface as typed errors up front
//! instead of as ZooKeeper `BadArguments` later.

use crate::error::{ConfigError, PathProblem};

/// ZooKeeper's own subtree (quotas, dynamic configuration).
const RESERVED: &str = "/zookeeper";

/// Checks that `path` is an absolute ZooKeeper path other than the root: starts with `/`, no
/// trailing `/`, no empty, `.` or `..` segments, no control characters, not in ZooKeeper's
/// reserved `/zookeeper` subtree. The last rule holds for chroots and for paths under a chroot
/// alike: such a path is a mistake (or meant for a server without chroot) far more often than
/// an election at `/app/zookeeper`.
pub(crate) fn validate(what: &'static str, path: &str) -> Result<(), ConfigError> {
    problem(path).map_or(Ok(()), |problem| Err(ConfigError::InvalidPath { what, path: path.to_owned(), problem }))
}

fn problem(path: &str) -> Option<PathProblem> {
    if path.is_empty() {
        return Some(PathProblem::Empty);
    }
    if !path.starts_with('/') {
        return Some(PathProblem::NotAbsolute);
    }
    if path == "/" {
        return Some(PathProblem::Root);
    }
    if path.ends_with('/') {
        return Some(PathProblem::TrailingSlash);
    }
    if path.chars().any(|c| c.is_control()) {
        return Some(PathProblem::ControlCharacter);
    }
    for segment in path[1..].split('/') {
        match segment {
            "" => return Some(PathProblem::EmptySegment),
            "." | ".." => return Some(PathProblem::RelativeSegment),
            _ => {}
        }
    }
    if is_within(path, RESERVED) {
        return Some(PathProblem::Reserved);
    }
    None
}

/// Whether `path` is `ancestor` or lies under it, segment by segment (`/a/bc` is not under `/a/b`).
fn is_within(path: &str, ancestor: &str) -> bool {
    path.strip_prefix(ancestor).is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// Whether two absolute paths overlap: equal, or one an ancestor of the other.
pub(crate) fn overlap(a: &str, b: &str) -> bool {
    is_within(a, b) || is_within(b, a)
}

/// The parent of an absolute path (`/a/b` → `/a`, `/a` → `/`).
pub(crate) fn parent(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_absolute_paths() {
        for ok in ["/a", "/a/b", "/flink/leader-latch", "/a/b.c/d..e"] {
            assert_eq!(problem(ok), None, "{ok}");
        }
    }

    #[test]
    fn names_each_problem() {
        let cases = [
            ("", PathProblem::Empty),
            ("a/b", PathProblem::NotAbsolute),
            ("/", PathProblem::Root),
            ("/a/", PathProblem::TrailingSlash),
            ("/a//b", PathProblem::EmptySegment),
            ("/a/../b", PathProblem::RelativeSegment),
            ("/a/./b", PathProblem::RelativeSegment),
            ("/a\0b", PathProblem::ControlCharacter),
            ("/zookeeper", PathProblem::Reserved),
            ("/zookeeper/quota", PathProblem::Reserved),
        ];
        for (path, expected) in cases {
            assert_eq!(problem(path), Some(expected), "{path:?}");
        }
    }

    #[test]
    fn only_the_reserved_segment_is_reserved() {
        for ok in ["/zookeeperx", "/zoo", "/app/zookeeper", "/Zookeeper"] {
            assert_eq!(problem(ok), None, "{ok}");
        }
    }

    #[test]
    fn overlap_is_by_segment() {
        for (a, b) in [("/a/b", "/a/b"), ("/a/b", "/a/b/c"), ("/a", "/a/b/c"), ("/a/b/c", "/a")] {
            assert!(overlap(a, b), "{a} {b}");
        }
        for (a, b) in [("/a/b", "/a/bc"), ("/a/bc", "/a/b"), ("/a/b", "/a/c"), ("/ab", "/a")] {
            assert!(!overlap(a, b), "{a} {b}");
        }
    }

    #[test]
    fn parent_of_paths() {
        assert_eq!(parent("/a/b/c"), "/a/b");
        assert_eq!(parent("/a"), "/");
    }
}
