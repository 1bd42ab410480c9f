//! BIND 9 (`named`) as an authoritative, TSIG-updatable nameserver for dns-01 tests.
//!
//! Each instance owns one loopback address (see [`crate::lock_loopback_ip`]) so that it can listen
//! on port 53, where propagation checks query a zone's authoritative nameservers. The zones are
//! primaries accepting RFC 2136 updates signed with one TSIG key; zone files and journals live
//! in the instance's temporary directory. No AppArmor profile is active on the machines this was
//! written for; should one be, named.conf and zone files live in a directory given explicitly in
//! named.conf's `directory` option, which the profile would have to allow.

use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use base64::Engine as _;
use tempfile::TempDir;

use crate::net::{LoopbackIp, lock_loopback_ip};
use crate::poll::poll_until;
use crate::process::ChildProcess;

const NAMED_BIN: &str = "/usr/sbin/named";
const DIG_BIN: &str = "/usr/bin/dig";
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// What one BIND serves.
#[derive(Debug, Clone)]
pub struct BindOptions {
    /// Primary zones, e.g. `example.test`; each gets SOA, `NS ns1.<zone>.` and
    /// `ns1.<zone>. A <this instance's address>`.
    pub zones: Vec<String>,
    /// Name of the TSIG key allowed to update every zone.
    pub tsig_key_name: String,
    /// TSIG algorithm, as named.conf and nsupdate spell it.
    pub tsig_algorithm: String,
    /// Extra records as `(zone, record line)`, written into the zone file at start; the line is
    /// in zone-file syntax relative to the zone, e.g.
    /// `("example.test", "_acme-challenge.www 60 IN CNAME _acme-challenge.delegated.example.test.")`.
    pub records: Vec<(String, String)>,
    /// Answer recursive queries from loopback clients, as a CA's resolver does: a CNAME into
    /// another zone this server holds is then followed within one answer (with `recursion no`,
    /// BIND returns only the CNAME). Off by default: an authoritative server does not recurse.
    pub recursion: bool,
}

impl Default for BindOptions {
    fn default() -> Self {
        Self {
            zones: vec!["example.test".to_owned()],
            tsig_key_name: "scaivault-test-key".to_owned(),
            tsig_algorithm: "hmac-sha256".to_owned(),
            records: Vec::new(),
            recursion: false,
        }
    }
}

impl BindOptions {
    /// Options serving the given zones, with the default key.
    pub fn zones<I, S>(zones: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            zones: zones.into_iter().map(Into::into).collect(),
            ..Self::default()
        }
    }

    /// Adds a static record to `zone` (see [`BindOptions::records`]).
    pub fn record(mut self, zone: &str, line: &str) -> Self {
        self.records.push((zone.to_owned(), line.to_owned()));
        self
    }
}

/// A running `named`; killed on drop, which also releases its loopback address.
pub struct Bind {
    // Field order matters: the process is killed before its directory and address are released.
    process: ChildProcess,
    dir: TempDir,
    loopback: LoopbackIp,
    opts: BindOptions,
    secret_b64: String,
}

impl std::fmt::Debug for Bind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bind")
            .field("addr", &self.addr())
            .field("zones", &self.opts.zones)
            .field("dir", &self.dir.path())
            .finish_non_exhaustive()
    }
}

impl Bind {
    /// Starts `named` on a fresh `127.0.0.N:53` and waits until every zone's SOA answers.
    pub async fn start(opts: BindOptions) -> Bind {
        check_binaries();
        Self::start_on(lock_loopback_ip(), opts).await
    }

    /// Starts `named` on an address the caller locked beforehand with [`lock_loopback_ip`].
    ///
    /// For tests that must know an instance's address before it starts, e.g. two instances that
    /// both serve a zone listing each other as NS (`ns2.<zone>. A <the other's address>` among
    /// [`BindOptions::records`]).
    pub async fn start_on(loopback: LoopbackIp, opts: BindOptions) -> Bind {
        assert!(
            !opts.zones.is_empty(),
            "BindOptions needs at least one zone"
        );
        check_binaries();
        let ip = loopback.ip();
        let dir = crate::peer_dir("scaivault-bind-");
        let secret_b64 =
            base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 32]>());

        for zone in &opts.zones {
            let path = dir.path().join(format!("{zone}.zone"));
            std::fs::write(&path, zone_file(zone, ip, &opts.records))
                .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        }
        let conf_path = dir.path().join("named.conf");
        std::fs::write(&conf_path, named_conf(dir.path(), ip, &opts, &secret_b64))
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", conf_path.display()));

        let mut cmd = Command::new(NAMED_BIN);
        // -g: foreground, log to stderr (captured); -4: no IPv6 sockets at all.
        cmd.args(["-g", "-4", "-c"])
            .arg(&conf_path)
            .current_dir(dir.path());
        let process = ChildProcess::spawn("named", cmd, &dir.path().join("named.log"));

        let mut bind = Bind {
            process,
            dir,
            loopback,
            opts,
            secret_b64,
        };
        bind.wait_ready().await;
        bind
    }

    async fn wait_ready(&mut self) {
        let ip = self.ip();
        let zones = self.opts.zones.clone();
        let log_path = self.process.log_path().to_owned();
        let process = &mut self.process;
        poll_until(
            &format!("named on {ip}:53 to answer SOA for {zones:?}"),
            START_TIMEOUT,
            || process.assert_running("its zones' SOA"),
            || {
                let zones = zones.clone();
                async move {
                    for zone in &zones {
                        if dig_short(ip, "SOA", zone).await.is_empty() {
                            return None;
                        }
                    }
                    Some(())
                }
            },
            || crate::process::log_report("named", &log_path),
        )
        .await;
    }

    /// `127.0.0.N:53`.
    pub fn addr(&self) -> String {
        format!("{}:53", self.ip())
    }

    /// `127.0.0.N`, also the A record of every zone's `ns1`.
    pub fn ip(&self) -> Ipv4Addr {
        self.loopback.ip()
    }

    pub fn zones(&self) -> &[String] {
        &self.opts.zones
    }

    /// The nameserver host name of `zone`: `ns1.<zone>`.
    pub fn ns_name(&self, zone: &str) -> String {
        format!("ns1.{zone}")
    }

    pub fn tsig_key_name(&self) -> &str {
        &self.opts.tsig_key_name
    }

    /// The TSIG secret, standard base64 as in named.conf.
    pub fn tsig_secret_b64(&self) -> &str {
        &self.secret_b64
    }

    pub fn tsig_algorithm(&self) -> &str {
        &self.opts.tsig_algorithm
    }

    /// `algorithm:name:secret`, the argument of `nsupdate -y`.
    pub fn nsupdate_key_arg(&self) -> String {
        format!(
            "{}:{}:{}",
            self.opts.tsig_algorithm, self.opts.tsig_key_name, self.secret_b64
        )
    }

    /// The TXT records of `name` as this server answers them (no recursion), each record's
    /// character-strings joined; empty when there are none.
    pub async fn txt(&self, name: &str) -> Vec<String> {
        dig_short(self.ip(), "TXT", name)
            .await
            .iter()
            .map(|line| parse_txt_line(line))
            .collect()
    }

    /// Records of any type, as `dig +short` prints them.
    pub async fn query(&self, rtype: &str, name: &str) -> Vec<String> {
        dig_short(self.ip(), rtype, name).await
    }

    /// The temporary directory holding named.conf, zone files, journals and log.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Everything named has logged so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self.process.log_path()).unwrap_or_default()
    }
}

fn check_binaries() {
    for bin in [NAMED_BIN, DIG_BIN] {
        if !Path::new(bin).exists() {
            crate::missing_peer(bin, bin);
        }
    }
}

fn named_conf(dir: &Path, ip: Ipv4Addr, opts: &BindOptions, secret: &str) -> String {
    let dir = dir.display();
    let key = &opts.tsig_key_name;
    let recursion = if opts.recursion {
        "recursion yes; allow-recursion { 127.0.0.0/8; };"
    } else {
        "recursion no;"
    };
    let mut conf = format!(
        r#"options {{
    directory "{dir}";
    pid-file "{dir}/named.pid";
    session-keyfile "{dir}/session.key";
    managed-keys-directory "{dir}";
    listen-on port 53 {{ {ip}; }};
    listen-on-v6 {{ none; }};
    {recursion}
    allow-transfer {{ none; }};
    dnssec-validation no;
    notify no;
}};
controls {{ }};
key "{key}" {{
    algorithm {alg};
    secret "{secret}";
}};
"#,
        alg = opts.tsig_algorithm,
    );
    for zone in &opts.zones {
        let _ = write!(
            conf,
            r#"zone "{zone}" {{
    type primary;
    file "{dir}/{zone}.zone";
    allow-update {{ key "{key}"; }};
}};
"#
        );
    }
    conf
}

fn zone_file(zone: &str, ip: Ipv4Addr, records: &[(String, String)]) -> String {
    let mut text = format!(
        "$ORIGIN {zone}.\n$TTL 60\n\
         @ IN SOA ns1.{zone}. hostmaster.{zone}. ( 1 60 60 3600 60 )\n\
         @ IN NS ns1.{zone}.\n\
         ns1 IN A {ip}\n"
    );
    for (_, line) in records.iter().filter(|(z, _)| z == zone) {
        text.push_str(line);
        text.push('\n');
    }
    text
}

/// `dig +short` against one server, without recursion, retries or search lists.
async fn dig_short(ip: Ipv4Addr, rtype: &str, name: &str) -> Vec<String> {
    let out = tokio::process::Command::new(DIG_BIN)
        .args([
            "+short",
            "+norecurse",
            "+time=1",
            "+tries=1",
            &format!("@{ip}"),
            rtype,
            name,
        ])
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

/// `"abc" "def"` → `abcdef` (RFC 1035 character-strings of one TXT record).
fn parse_txt_line(line: &str) -> String {
    let mut out = String::new();
    let mut in_quotes = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => in_quotes = !in_quotes,
            '\\' if in_quotes => {
                if let Some(next) = chars.next() {
                    out.push(next);
                }
            }
            c if in_quotes => out.push(c),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::parse_txt_line;

    #[test]
    fn txt_lines_are_unquoted_and_joined() {
        assert_eq!(parse_txt_line(r#""abc""#), "abc");
        assert_eq!(parse_txt_line(r#""ab" "cd""#), "abcd");
        assert_eq!(parse_txt_line(r#""a\"b""#), "a\"b");
    }
}
