//! Choosing free loopback ports for servers that bind them later, and seeing when they have.

use std::collections::HashSet;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

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

/// The kernel's table of IPv4 TCP sockets (the JVMs run with `preferIPv4Stack`).
const TCP_TABLE: &str = "/proc/net/tcp";

/// Whether a socket listens on `port` on 127.0.0.1 or the wildcard address.
///
/// Read from the kernel's socket table rather than by connecting: a TLS port logs every
/// connection that closes before its handshake as an error, which would fill the server log
/// that a test reads to learn why a client was refused. Without `/proc`, a connection it is.
pub(crate) fn is_listening(port: u16) -> bool {
    match std::fs::read_to_string(TCP_TABLE) {
        Ok(table) => listening_in(&table, port),
        Err(_) => {
            let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
            TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
        }
    }
}

/// Whether the `/proc/net/tcp` text `table` has a listening socket on `port` on 127.0.0.1 or
/// the wildcard address.
fn listening_in(table: &str, port: u16) -> bool {
    /// The state column's value for `LISTEN`.
    const LISTEN: &str = "0A";
    table.lines().skip(1).any(|line| {
        // Columns: slot, local address, remote address, state, ...
        let columns: Vec<&str> = line.split_whitespace().take(4).collect();
        let [_, local, _, state] = columns[..] else {
            return false;
        };
        let Some((addr, local_port)) = local.split_once(':') else {
            return false;
        };
        // The address is the network-order bytes printed as a native integer: 127.0.0.1 is
        // 0100007F on little-endian machines.
        let ip = u32::from_str_radix(addr, 16).map(|raw| Ipv4Addr::from(raw.to_ne_bytes()));
        let loopback = ip.is_ok_and(|ip| ip.is_unspecified() || ip.is_loopback());
        state == LISTEN && loopback && u16::from_str_radix(local_port, 16) == Ok(port)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_listening_loopback_and_wildcard_sockets_only() {
        // As the kernel prints them: network-order bytes as a native integer.
        let hex = |ip: [u8; 4]| format!("{:08X}", u32::from_ne_bytes(ip));
        let (loopback, any, other) = (hex([127, 0, 0, 1]), hex([0, 0, 0, 0]), hex([10, 0, 0, 10]));
        let table = format!(
            "  sl  local_address rem_address   st tx_queue ...\n\
             0: {loopback}:1F90 00000000:0000 0A 00000000:00000000\n\
             1: {any}:1F91 00000000:0000 0A 00000000:00000000\n\
             2: {loopback}:1F92 {loopback}:8009 01 00000000:00000000\n\
             3: {other}:1F93 00000000:0000 0A 00000000:00000000\n"
        );
        let table = table.as_str();
        assert!(listening_in(table, 0x1F90));
        assert!(listening_in(table, 0x1F91));
        assert!(!listening_in(table, 0x1F92), "established, not listening");
        assert!(!listening_in(table, 0x1F93), "10.0.0.10 is not loopback");
        assert!(!listening_in(table, 1));
        assert!(!listening_in("", 0x1F90));
    }

    #[test]
    fn sees_a_real_listener() -> std::io::Result<()> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        assert!(is_listening(listener.local_addr()?.port()));
        Ok(())
    }
}
