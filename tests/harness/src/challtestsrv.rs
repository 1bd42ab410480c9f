//! `pebble-challtestsrv` as a mock DNS server for Pebble's validation authority.
//!
//! Pebble's VA resolves every identifier through `-dnsserver`; pointing it at this server (see
//! [`ChallTestSrv::dns_addr`]) makes every name, e.g. `a.example.test`, resolve to `127.0.0.1`,
//! so that the VA connects to the service under test on loopback for http-01 and tls-alpn-01.
//! Only the DNS server and the plain-HTTP management API run; the binary's own http-01,
//! https-01 and tls-alpn-01 servers are disabled (the service under test answers those), and so
//! are default AAAA answers (the VA would otherwise try `::1`).
//!
//! Behaviour of Debian's `pebble-challtestsrv` (pebble 2.4) worth knowing:
//! - it has no `-doh` flag;
//! - a listener that cannot bind is only *logged* (`bind: address already in use`), the process
//!   keeps running, so start-up watches the log and proves with a fresh random record that the
//!   DNS (UDP and TCP) and management ports answering are this instance's;
//! - names are matched case-sensitively (`A.example.test` gets the default answer even when
//!   `a.example.test` has records): the wrappers here lowercase host names;
//! - `/add-a` and `/set-txt` *append* to a name's records; `/clear-a` and `/clear-txt` remove all
//!   of them;
//! - TXT hosts must be fully qualified (trailing dot), A hosts need not be: the wrappers here
//!   always send the trailing dot;
//! - an unparseable IP is accepted with `200` and silently answers nothing, so the wrappers parse
//!   addresses first.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};
use tempfile::TempDir;

use crate::net::free_port;
use crate::poll::poll_until;
use crate::process::ChildProcess;

const CHALLTESTSRV_BIN: &str = "/usr/bin/pebble-challtestsrv";
const DIG_BIN: &str = "/usr/bin/dig";
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// Start attempts when a port chosen free was taken before the server bound it.
const START_ATTEMPTS: usize = 5;
/// What the binary logs (and keeps running) when a listener cannot bind.
const BIND_FAILURE: &str = "address already in use";

/// A running `pebble-challtestsrv` answering DNS on loopback; killed on drop.
pub struct ChallTestSrv {
    // Field order matters: the process is killed before its directory is removed.
    process: ChildProcess,
    dir: TempDir,
    dns_port: u16,
    management_port: u16,
    http: reqwest::Client,
}

impl fmt::Debug for ChallTestSrv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChallTestSrv")
            .field("dns_addr", &self.dns_addr())
            .field("management_url", &self.management_url())
            .field("dir", &self.dir.path())
            .finish_non_exhaustive()
    }
}

/// What one start attempt came to.
enum Attempt {
    Ready,
    /// A listener could not bind (the port was taken after we chose it).
    PortTaken,
}

impl ChallTestSrv {
    /// Starts it with DNS on a free `127.0.0.1` UDP+TCP port answering `A 127.0.0.1` for every
    /// name (no AAAA), every challenge server of its own disabled, and waits until the DNS server
    /// answers over UDP and TCP and the management API answers.
    pub async fn start() -> ChallTestSrv {
        for bin in [CHALLTESTSRV_BIN, DIG_BIN] {
            if !Path::new(bin).exists() {
                crate::missing_peer(bin, bin);
            }
        }
        let mut dir = crate::peer_dir("scaivault-challtestsrv-");
        let mut log_path = dir.path().join("challtestsrv.log");
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("reqwest client for pebble-challtestsrv");

        for attempt in 1..=START_ATTEMPTS {
            let management_port = free_port(IpAddr::V4(Ipv4Addr::LOCALHOST));
            let dns_port = free_udp_tcp_port(management_port);
            let mut cmd = Command::new(CHALLTESTSRV_BIN);
            cmd.arg("-dns01")
                .arg(format!("127.0.0.1:{dns_port}"))
                .args(["-http01", "", "-https01", "", "-tlsalpn01", ""])
                .arg("-management")
                .arg(format!("127.0.0.1:{management_port}"))
                .args(["-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""])
                .current_dir(dir.path());
            // One log per attempt: a bind failure logged by an earlier attempt must not fail
            // this one.
            if attempt > 1 {
                log_path = dir
                    .path()
                    .join(format!("challtestsrv.attempt{attempt}.log"));
            }
            let process = ChildProcess::spawn("pebble-challtestsrv", cmd, &log_path);
            let mut srv = ChallTestSrv {
                process,
                dir,
                dns_port,
                management_port,
                http: http.clone(),
            };
            match srv.wait_ready().await {
                Attempt::Ready => return srv,
                Attempt::PortTaken => {
                    let ChallTestSrv {
                        mut process,
                        dir: d,
                        ..
                    } = srv;
                    process.kill();
                    dir = d;
                }
            }
        }
        panic!(
            "pebble-challtestsrv could not bind free ports in {START_ATTEMPTS} attempts\n{}",
            crate::process::log_report("pebble-challtestsrv", &log_path)
        )
    }

    /// Polls until a fresh random name added through the management API resolves over UDP and
    /// TCP: that proves all three listeners are up and are this process's, not another test's
    /// that happens to hold a port we failed to bind. Every name resolving to 127.0.0.1 by
    /// default is checked too.
    async fn wait_ready(&mut self) -> Attempt {
        let log_path = self.process.log_path().to_owned();
        let name = format!("ready-{:016x}.challtestsrv.test", rand::random::<u64>());
        let other = format!("other-{:016x}.example.test", rand::random::<u64>());
        let marker = random_marker_ip();
        let (dns_port, http, base) = (self.dns_port, self.http.clone(), self.management_url());
        let process = &mut self.process;
        let outcome = poll_until(
            &format!(
                "pebble-challtestsrv to answer DNS on 127.0.0.1:{dns_port} (UDP and TCP) and \
                 its management API on {base}"
            ),
            START_TIMEOUT,
            || process.assert_running("its DNS and management listeners"),
            || {
                let log_path = log_path.clone();
                let (name, other, http, base) =
                    (name.clone(), other.clone(), http.clone(), base.clone());
                async move {
                    if read_log(&log_path).contains(BIND_FAILURE) {
                        return Some(Attempt::PortTaken);
                    }
                    let body = json!({ "host": fqdn(&name), "addresses": [marker.to_string()] });
                    let resp = http
                        .post(format!("{base}/add-a"))
                        .body(body.to_string())
                        .send()
                        .await
                        .ok()?;
                    if !resp.status().is_success() {
                        return None;
                    }
                    // Every probe appends the marker once more: all answers must be it.
                    let marker = marker.to_string();
                    for tcp in [false, true] {
                        let answers = dig_short(dns_port, tcp, "A", &name).await;
                        if answers.is_empty() || answers.iter().any(|a| *a != marker) {
                            return None;
                        }
                    }
                    let default = dig_short(dns_port, false, "A", &other).await;
                    (default == ["127.0.0.1"]).then_some(Attempt::Ready)
                }
            },
            || crate::process::log_report("pebble-challtestsrv", &log_path),
        )
        .await;
        if let Attempt::Ready = outcome {
            self.post("clear-a", json!({ "host": fqdn(&name) })).await;
            // A failed bind logged after the probe succeeded would still mean a foreign listener.
            if self.log_text().contains(BIND_FAILURE) {
                return Attempt::PortTaken;
            }
        }
        outcome
    }

    /// `127.0.0.1:PORT`, for [`crate::PebbleOptions::dns_server`] or a resolver setting.
    pub fn dns_addr(&self) -> String {
        format!("127.0.0.1:{}", self.dns_port)
    }

    /// The DNS port (UDP and TCP) on 127.0.0.1.
    pub fn dns_port(&self) -> u16 {
        self.dns_port
    }

    /// `http://127.0.0.1:PORT`, the plain-HTTP management API.
    pub fn management_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.management_port)
    }

    /// Adds A records for `host` (`/add-a`); they are *appended* to any added before and take
    /// precedence over the default address. Panics on an address that is not IPv4.
    pub async fn add_a(&self, host: &str, addrs: &[&str]) {
        let addrs: Vec<String> = addrs
            .iter()
            .map(|a| {
                a.parse::<Ipv4Addr>()
                    .unwrap_or_else(|e| panic!("add_a({host}): {a:?} is not an IPv4 address: {e}"))
                    .to_string()
            })
            .collect();
        self.post("add-a", json!({ "host": fqdn(host), "addresses": addrs }))
            .await;
    }

    /// Removes every A record added for `host` (`/clear-a`); it gets the default answer again.
    pub async fn clear_a(&self, host: &str) {
        self.post("clear-a", json!({ "host": fqdn(host) })).await;
    }

    /// Sets the A answer for every name without records of its own (`/set-default-ipv4`);
    /// `""` makes such names answer NOERROR with no records (NODATA), i.e. resolve to nothing.
    pub async fn set_default_ipv4(&self, ip: &str) {
        if !ip.is_empty() {
            ip.parse::<Ipv4Addr>().unwrap_or_else(|e| {
                panic!("set_default_ipv4: {ip:?} is not an IPv4 address (or \"\"): {e}")
            });
        }
        self.post("set-default-ipv4", json!({ "ip": ip })).await;
    }

    /// Adds a TXT record for `host` (`/set-txt`, which appends despite its name), e.g.
    /// `_acme-challenge.a.example.test` for dns-01.
    pub async fn add_txt(&self, host: &str, value: &str) {
        self.post("set-txt", json!({ "host": fqdn(host), "value": value }))
            .await;
    }

    /// Removes every TXT record of `host` (`/clear-txt`).
    pub async fn clear_txt(&self, host: &str) {
        self.post("clear-txt", json!({ "host": fqdn(host) })).await;
    }

    /// Makes every query for `host` answer SERVFAIL (`/set-servfail`).
    pub async fn set_servfail(&self, host: &str) {
        self.post("set-servfail", json!({ "host": fqdn(host) }))
            .await;
    }

    /// Undoes [`ChallTestSrv::set_servfail`] (`/clear-servfail`).
    pub async fn clear_servfail(&self, host: &str) {
        self.post("clear-servfail", json!({ "host": fqdn(host) }))
            .await;
    }

    /// Records of `rtype` for `name` as this server answers them over UDP, as `dig +short`
    /// prints them (TXT values keep their quotes); empty for none.
    pub async fn query(&self, rtype: &str, name: &str) -> Vec<String> {
        dig_short(self.dns_port, false, rtype, name).await
    }

    /// The questions this server received about `host` (`/dns-request-history`), as JSON objects
    /// `{"Question": {"Name": "host.", "Qtype": 1, "Qclass": 1}}`, oldest first: shows whether
    /// Pebble's VA asked. Unlike records, the history is keyed by the name *as queried*: without
    /// the trailing dot (stripped here) and case-sensitively (not lowercased here; Pebble's VA
    /// asks in lowercase).
    pub async fn dns_request_history(&self, host: &str) -> Vec<Value> {
        let host = host.trim_end_matches('.');
        let body = self
            .post("dns-request-history", json!({ "host": host }))
            .await;
        match serde_json::from_str(&body) {
            Ok(Value::Array(items)) => items,
            Ok(Value::Null) => Vec::new(),
            other => panic!("dns-request-history: unexpected answer {other:?}: {body}"),
        }
    }

    /// POSTs `body` to `/<path>` of the management API and returns the response body; panics
    /// with the log tail unless the answer is 2xx.
    async fn post(&self, path: &str, body: Value) -> String {
        let url = format!("{}/{path}", self.management_url());
        let resp = self
            .http
            .post(&url)
            .body(body.to_string())
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {url} {body}: {e}\n{}", self.process.log_report()));
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        assert!(
            status.is_success(),
            "POST {url} {body}: {status} {text}\n{}",
            self.process.log_report()
        );
        text
    }

    /// The temporary directory holding the log.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Everything the server has logged so far (one line per management call, so a test can
    /// show what was configured).
    pub fn log_text(&self) -> String {
        read_log(self.process.log_path())
    }
}

fn read_log(path: &Path) -> String {
    std::fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

/// `Host.Example.TEST` → `host.example.test.`: the server matches names case-sensitively and
/// TXT hosts only when fully qualified.
fn fqdn(host: &str) -> String {
    let mut name = host.trim_end_matches('.').to_ascii_lowercase();
    name.push('.');
    name
}

/// A random `10.x.y.z`, the readiness probe's answer, unlike any default.
fn random_marker_ip() -> Ipv4Addr {
    let [a, b, c] = rand::random::<[u8; 3]>();
    Ipv4Addr::new(10, a, b, c.max(1))
}

/// A 127.0.0.1 port that is free over both TCP and UDP right now and is not `avoid`.
fn free_udp_tcp_port(avoid: u16) -> u16 {
    for _ in 0..100 {
        let tcp = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
            .unwrap_or_else(|e| panic!("cannot bind a TCP port on 127.0.0.1: {e}"));
        let port = tcp.local_addr().expect("local address").port();
        if port != avoid && UdpSocket::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).is_ok() {
            return port;
        }
    }
    panic!("no 127.0.0.1 port free over both TCP and UDP in 100 tries")
}

/// `dig +short` against this server, without retries or search lists.
async fn dig_short(port: u16, tcp: bool, rtype: &str, name: &str) -> Vec<String> {
    let mut cmd = tokio::process::Command::new(DIG_BIN);
    cmd.args([
        "+short",
        "+time=1",
        "+tries=1",
        "@127.0.0.1",
        "-p",
        &port.to_string(),
    ]);
    if tcp {
        cmd.arg("+tcp");
    }
    let out = cmd
        .args([rtype, name])
        .output()
        .await
        .unwrap_or_else(|e| panic!("cannot run dig: {e}"));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::trim)
        // dig prints ";; ..." comments on timeouts even with +short.
        .filter(|l| !l.is_empty() && !l.starts_with(';'))
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::fqdn;

    #[test]
    fn hosts_are_lowercased_and_fully_qualified() {
        assert_eq!(fqdn("A.Example.test"), "a.example.test.");
        assert_eq!(fqdn("a.example.test."), "a.example.test.");
    }
}
