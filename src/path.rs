//! Validation of ZooKeeper paths given by users, so mistakes surface as typed errors up front
//! instead of as ZooKeeper `BadArguments` later.

use crate::error::{ConfigError, PathProblem};

/// Checks that `path` is an absolute ZooKeeper path other than the root: starts with `/`, no
/// trailing `/`, no empty, `.` or `..` segments, no control characters.
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
    None
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
        ];
        for (path, expected) in cases {
            assert_eq!(problem(path), Some(expected), "{path:?}");
        }
    }

    #[test]
    fn parent_of_paths() {
        assert_eq!(parent("/a/b/c"), "/a/b");
        assert_eq!(parent("/a"), "/");
    }
}
