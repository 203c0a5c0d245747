//! Choosing free loopback ports for servers that bind them later.

use std::collections::HashSet;
use std::net::{Ipv4Addr, TcpListener};
use std::sync::{Mutex, PoisonError};

use super::TestkitError;

/// Every port this process has handed out. The kernel may offer a port again as soon as our
/// probe socket is closed, and another test of the same binary may be between choosing its
/// port and its JVM binding it; never handing a port out twice closes that window within one
/// process. (Another process can still take a port first: callers retry on fresh ports when a
/// server reports its port in use.)
static HANDED_OUT: Mutex<Option<HashSet<u16>>> = Mutex::new(None);

/// Returns `n` distinct ports that were free on 127.0.0.1 a moment ago.
///
/// All probe sockets stay bound until all `n` ports are chosen, so the kernel cannot offer the
/// same port twice within one call.
pub(crate) fn free_ports(n: usize) -> Result<Vec<u16>, TestkitError> {
    let mut handed_out = HANDED_OUT.lock().unwrap_or_else(PoisonError::into_inner);
    let handed_out = handed_out.get_or_insert_with(HashSet::new);
    let mut held = Vec::with_capacity(n);
    let mut ports = Vec::with_capacity(n);
    // Bounded so a machine short of ports fails instead of spinning.
    for _ in 0..(n * 20 + 100) {
        if ports.len() == n {
            break;
        }
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .map_err(|e| TestkitError::io("binding 127.0.0.1:0 to find a free port", e))?;
        let port = listener.local_addr().map_err(|e| TestkitError::io("reading the probe socket's port", e))?.port();
        if handed_out.insert(port) {
            ports.push(port);
        }
        held.push(listener);
    }
    if ports.len() < n {
        return Err(TestkitError::io(
            "finding free ports",
            std::io::Error::new(std::io::ErrorKind::AddrInUse, format!("only {} of {n} free ports found", ports.len())),
        ));
    }
    Ok(ports)
}
