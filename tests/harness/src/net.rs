//! Loopback ports and addresses that parallel test processes do not fight over.
//!
//! Ports are claimed like addresses: a port below the kernel's ephemeral range (so no outgoing
//! connection's source port can take it) that binds, guarded by an exclusive lock file under
//! [`LOCK_DIR`] held until the test process exits. A peer that must use a fixed port, such as BIND
//! on port 53, gets its own loopback address instead: `127.0.0.N` is claimed the same way. The
//! kernel releases a lock when the holding process exits, however it exits, so a killed test
//! never leaks a port or an address.

use std::fs::{File, OpenOptions, TryLockError};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::path::Path;
use std::process::Command;

/// Where the per-address lock files live; shared by all test processes on the machine.
pub const LOCK_DIR: &str = "/tmp/scaivault-tests";

/// The range of `127.0.0.N` handed out: clear of 127.0.0.1 and of the low addresses that system
/// services such as systemd-resolved (127.0.0.53 is inside, but guarded by the port-53 probe)
/// like to use.
const FIRST: u8 = 10;
const LAST: u8 = 250;

/// Ports handed out: below Linux's default ephemeral range (32768–60999), above well-known and
/// commonly configured service ports.
const FIRST_PORT: u16 = 20000;
const LAST_PORT: u16 = 32000;

/// A free TCP (and UDP) port on `ip`, reserved for this test process until it exits.
///
/// `bind(:0)` would hand out an ephemeral port, which any outgoing connection (to PostgreSQL,
/// say) may take as its source port between the check and the peer's own bind. A port outside
/// that range, claimed with a lock file that other test processes respect, cannot be taken.
pub fn free_port(ip: IpAddr) -> u16 {
    use std::sync::Mutex;
    /// Locks held by this process: released when it exits.
    static HELD: Mutex<Vec<File>> = Mutex::new(Vec::new());
    std::fs::create_dir_all(LOCK_DIR)
        .unwrap_or_else(|e| panic!("cannot create lock directory {LOCK_DIR}: {e}"));
    let span = LAST_PORT - FIRST_PORT + 1;
    let start = rand::random_range(0..span);
    for i in 0..span {
        let port = FIRST_PORT + (start + i) % span;
        let path = Path::new(LOCK_DIR).join(format!("port-{port}.lock"));
        let Ok(file) = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
        else {
            continue;
        };
        if file.try_lock().is_err() {
            continue;
        }
        let addr = SocketAddr::new(ip, port);
        if TcpListener::bind(addr).is_err() || UdpSocket::bind(addr).is_err() {
            continue;
        }
        HELD.lock().unwrap_or_else(|e| e.into_inner()).push(file);
        return port;
    }
    panic!("no free port in {FIRST_PORT}..={LAST_PORT} on {ip}")
}

/// A `127.0.0.N` address held exclusively by this process for as long as the value lives.
///
/// The address stays configured on `lo` after the lock is released (that is harmless and saves
/// the next test the `ip addr add`).
#[derive(Debug)]
pub struct LoopbackIp {
    ip: Ipv4Addr,
    _lock: File,
}

impl LoopbackIp {
    pub fn ip(&self) -> Ipv4Addr {
        self.ip
    }
}

/// Claims a `127.0.0.N` (N in 10..=250) that no other test process holds, whose port 53 is free
/// over TCP and UDP (a peer orphaned by a killed test may still sit on it), and makes sure the
/// address is on `lo` (BIND only listens on addresses an interface holds; Linux answers for all
/// of 127/8 but lists only 127.0.0.1). Needs root for `ip addr add`.
pub fn lock_loopback_ip() -> LoopbackIp {
    std::fs::create_dir_all(LOCK_DIR)
        .unwrap_or_else(|e| panic!("cannot create lock directory {LOCK_DIR}: {e}"));
    // Start at a random offset so that parallel processes do not all contend for 127.0.0.10.
    let span = u16::from(LAST - FIRST) + 1;
    let start = rand::random_range(0..span);
    for i in 0..span {
        let n = FIRST + u8::try_from((start + i) % span).expect("offset fits in u8");
        let ip = Ipv4Addr::new(127, 0, 0, n);
        let path = Path::new(LOCK_DIR).join(format!("{ip}.lock"));
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .unwrap_or_else(|e| panic!("cannot open lock file {}: {e}", path.display()));
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => continue,
            Err(TryLockError::Error(e)) => panic!("cannot lock {}: {e}", path.display()),
        }
        if !port_53_free(ip) {
            continue;
        }
        ensure_on_lo(ip);
        return LoopbackIp { ip, _lock: file };
    }
    panic!(
        "no free 127.0.0.N address in {FIRST}..={LAST}: all locked under {LOCK_DIR} or busy on port 53"
    )
}

fn port_53_free(ip: Ipv4Addr) -> bool {
    let addr = SocketAddr::new(IpAddr::V4(ip), 53);
    TcpListener::bind(addr).is_ok() && UdpSocket::bind(addr).is_ok()
}

/// Adds `ip/32` to `lo` unless it is already there.
fn ensure_on_lo(ip: Ipv4Addr) {
    let cidr = format!("{ip}/32");
    let shown = Command::new("ip")
        .args(["-4", "-o", "addr", "show", "dev", "lo"])
        .output()
        .unwrap_or_else(|e| panic!("cannot run `ip addr show lo` (package iproute2): {e}"));
    let listing = String::from_utf8_lossy(&shown.stdout);
    if listing.split_whitespace().any(|word| word == cidr.as_str()) {
        return;
    }
    let added = Command::new("ip")
        .args(["addr", "add", &cidr, "dev", "lo"])
        .output()
        .unwrap_or_else(|e| panic!("cannot run `ip addr add {cidr} dev lo`: {e}"));
    let stderr = String::from_utf8_lossy(&added.stderr);
    // "File exists": another process added it between our check and our add.
    if !added.status.success() && !stderr.contains("File exists") {
        panic!("`ip addr add {cidr} dev lo` failed (tests need root): {stderr}");
    }
}
