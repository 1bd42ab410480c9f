//! Side-by-side issuance latency: the `scaivault` service against lego, one after the other,
//! against the same Pebble and the same `pebble-challtestsrv`.
//!
//! ```text
//! bench-issuance [--binary target/release/scaivault] [--count 10] [--lego /usr/bin/lego]
//! ```
//!
//! Pebble runs with `PEBBLE_VA_NOSLEEP=1` and no bad-nonce rejections; its VA resolves every name
//! through `pebble-challtestsrv` (everything is `127.0.0.1`) and fetches http-01 responses from
//! a fixed port. First the service listens there: it registers one account, places one warm-up
//! order, then `--count` single-domain http-01 orders one after another, each timed from just
//! before `POST /v1/pki/acme/issue` to the first `GET /v1/pki/acme/orders/{id}` that shows
//! `valid` (the order is polled every 5 ms). Then the service is stopped and lego gets the same
//! port: one warm-up `lego run` (which also registers lego's account), then `--count` fresh
//! `lego run` processes reusing that account (same `--path`), each timed from spawn to exit.
//!
//! Then the same for dns-01, on a second Pebble whose VA resolves through a BIND 9 (`named`)
//! authoritative for `example.test` on its own `127.0.0.N:53`, TXT records written with
//! TSIG-signed RFC 2136 updates: a fresh service (its `[dns] resolvers` = that BIND,
//! `propagation_interval = 50ms`) with an account, the TSIG secret stored under
//! `/v1/secrets/...` and an `rfc2136` DNS provider; one warm-up and `--count` single-domain
//! dns-01 orders timed as above, then one order for a name and its wildcard (`x` and `*.x`),
//! timed once and reported on its own. Then lego (`lego run --dns rfc2136`, with the flags and
//! environment of `tests/harness/tests/peers.rs`): one warm-up that registers its account, then
//! `--count` timed runs reusing it.
//!
//! The Markdown report goes to stdout; progress goes to stderr. Every process started here
//! (Pebble, pebble-challtestsrv, BIND, the service, lego) is stopped before exit.

use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::time::{Duration, Instant};

use scaivault_testkit::{
    ApiClient, Bind, BindOptions, ChallTestSrv, Pebble, PebbleOptions, Service, ServiceOptions,
    free_port,
};
use serde_json::json;

/// Pause between two polls of an order; with the GET's own round trip it bounds the resolution
/// of the service's measurement.
const ORDER_POLL: Duration = Duration::from_millis(5);
/// Longest an order or a lego run may take before the benchmark gives up.
const RUN_TIMEOUT: Duration = Duration::from_secs(120);
const EMAIL: &str = "bench@example.test";
/// The zone BIND serves for the dns-01 measurement; every name issued there is below it.
const DNS_ZONE: &str = "example.test";
/// `[dns] propagation_interval` of the service in the dns-01 measurement: the period at which
/// its propagation check polls the zone's authoritative nameservers.
const PROPAGATION_INTERVAL: &str = "50ms";
/// Where the service keeps the TSIG secret (`PUT /v1/secrets/<path>`).
const TSIG_SECRET_PATH: &str = "dns/bench/tsig";

const USAGE: &str = "usage: bench-issuance [--binary PATH] [--count N] [--lego PATH] [--verbose]

  --binary PATH   the scaivault service binary (default target/release/scaivault)
  --count N       timed issuances per tool and challenge type, after one warm-up each
                  (default 10)
  --lego PATH     the lego binary (default /usr/bin/lego)
  --verbose       copy every lego run's own log to stderr

Prints a Markdown report (section \"## Issuance latency\") on stdout.";

#[derive(Debug)]
struct Args {
    binary: PathBuf,
    count: usize,
    lego: PathBuf,
    verbose: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        binary: PathBuf::from("target/release/scaivault"),
        count: 10,
        lego: PathBuf::from("/usr/bin/lego"),
        verbose: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| {
            inline
                .clone()
                .or_else(|| it.next())
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match flag.as_str() {
            "--binary" => args.binary = PathBuf::from(value("--binary")?),
            "--lego" => args.lego = PathBuf::from(value("--lego")?),
            "--count" => {
                let v = value("--count")?;
                args.count = v
                    .parse()
                    .map_err(|_| format!("--count: not a number: {v}"))?;
                if args.count == 0 {
                    return Err("--count must be at least 1".to_owned());
                }
            }
            "--verbose" => args.verbose = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(args)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("bench-issuance: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    for (what, path) in [("service binary", &args.binary), ("lego", &args.lego)] {
        if !path.exists() {
            eprintln!("bench-issuance: {what} {} does not exist", path.display());
            return ExitCode::from(2);
        }
    }
    match run(&args).await {
        Ok(report) => {
            print!("{report}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("bench-issuance: FAILED: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Both measurements (http-01, then dns-01); the report.
async fn run(args: &Args) -> Result<String, String> {
    let (scaivault, lego) = bench_http01(args).await?;
    let dns01 = bench_dns01(args).await?;
    let facts = machine_facts();
    Ok(report(args, &scaivault, &lego, &dns01, &facts))
}

/// http-01: both tools on one Pebble, names resolved by `pebble-challtestsrv`.
async fn bench_http01(args: &Args) -> Result<(Series, Series), String> {
    let dns = ChallTestSrv::start().await;
    let loopback = std::net::Ipv4Addr::LOCALHOST.into();
    let http_port = free_port(loopback);
    let pebble = Pebble::start(PebbleOptions {
        http_port: Some(http_port),
        dns_server: Some(dns.dns_addr()),
        nonce_reject_percent: Some(0),
        va_nosleep: true,
        ..PebbleOptions::default()
    })
    .await;
    eprintln!(
        "pebble at {} (VA: http-01 on port {http_port}, DNS {})",
        pebble.directory_url(),
        dns.dns_addr()
    );

    let scaivault = bench_service(args, &pebble, http_port).await?;
    let lego = bench_lego(args, &pebble, http_port).await?;
    Ok((scaivault, lego))
}

/// One tool's timings.
#[derive(Debug)]
struct Series {
    warm_up: Duration,
    runs: Vec<Duration>,
}

/// Times one warm-up and `count` runs of `run(name)` (each a fresh name tagged `tag`), logging
/// each as `<label> <which>: <name> <verb> in <ms>`; the warm-up is kept apart from the runs.
async fn measure<F, Fut>(
    count: usize,
    tag: &str,
    label: &str,
    verb: &str,
    warm_up_note: &str,
    mut run: F,
) -> Result<Series, String>
where
    F: FnMut(String) -> Fut,
    Fut: std::future::Future<Output = Result<Duration, String>>,
{
    let mut timings = Vec::with_capacity(count + 1);
    for i in 0..=count {
        let name = domain(tag, i);
        let took = run(name.clone()).await?;
        let which = if i == 0 {
            warm_up_note.to_owned()
        } else {
            format!("{i}/{count}")
        };
        eprintln!("{label} {which}: {name} {verb} in {:.1} ms", ms(took));
        timings.push(took);
    }
    let warm_up = timings.remove(0);
    Ok(Series {
        warm_up,
        runs: timings,
    })
}

fn domain(tag: &str, i: usize) -> String {
    format!("{tag}{i}-{:08x}.bench.example.test", rand::random::<u32>())
}

async fn bench_service(args: &Args, pebble: &Pebble, http_port: u16) -> Result<Series, String> {
    let binary = std::fs::canonicalize(&args.binary)
        .map_err(|e| format!("{}: {e}", args.binary.display()))?;
    let mut service = Service::start(
        ServiceOptions::new(binary)
            .extra_root(pebble.listener_root_pem_path())
            .set(
                "challenges",
                "http01_listen",
                format!("[\"127.0.0.1:{http_port}\"]"),
            )
            // The service's own default level, not the harness's debug logging.
            .env("RUST_LOG", "info"),
    )
    .await;
    let api = service.client();
    let (status, account) = api
        .post(
            "/v1/pki/acme/accounts",
            &json!({
                "name": "bench",
                "provider": "custom",
                "environment": "staging",
                "email": EMAIL,
                "directory_url": pebble.directory_url(),
            }),
        )
        .await;
    if status != 201 {
        return Err(format!(
            "registering the service's account: {status} {account}\n{}",
            service.log_tail()
        ));
    }
    let account_id = account["id"].as_str().unwrap_or_default().to_owned();
    eprintln!("scaivault: account {account_id} registered");

    let series = measure(args.count, "sv", "scaivault", "valid", "warm-up", |name| {
        let (api, service) = (&api, &service);
        let body = json!({
            "account_id": account_id,
            "domains": [name],
            "challenge_type": "http-01",
            "key_type": "ecdsa-p256",
        });
        async move {
            issue_once(api, &body)
                .await
                .map_err(|e| format!("scaivault, {name}: {e}\n{}", service.log_tail()))
        }
    })
    .await?;
    let status = service.terminate().await;
    eprintln!("scaivault stopped ({status})");
    drop(service);
    Ok(series)
}

/// Places one order (`body` of `POST /v1/pki/acme/issue`) and polls it until `valid`: the time
/// from just before the POST to the poll that saw `valid`.
async fn issue_once(api: &ApiClient, body: &serde_json::Value) -> Result<Duration, String> {
    let start = Instant::now();
    let (status, placed) = api.post("/v1/pki/acme/issue", body).await;
    if status != 202 {
        return Err(format!("POST /v1/pki/acme/issue: {status} {placed}"));
    }
    let order_id = placed["order_id"]
        .as_str()
        .ok_or_else(|| format!("no order_id in {placed}"))?;
    let path = format!("/v1/pki/acme/orders/{order_id}");
    loop {
        let (status, order) = api.get(&path).await;
        let seen = start.elapsed();
        if status != 200 {
            return Err(format!("GET {path}: {status} {order}"));
        }
        match order["status"].as_str().unwrap_or_default() {
            "valid" => {
                if !order["certificate_id"].is_string() {
                    return Err(format!("order valid without certificate_id: {order}"));
                }
                return Ok(seen);
            }
            "pending" | "ready" | "processing" => {}
            other => return Err(format!("order {order_id} ended {other}: {order}")),
        }
        if seen > RUN_TIMEOUT {
            return Err(format!(
                "order {order_id} not valid after {RUN_TIMEOUT:?}: {order}"
            ));
        }
        tokio::time::sleep(ORDER_POLL).await;
    }
}

async fn bench_lego(args: &Args, pebble: &Pebble, http_port: u16) -> Result<Series, String> {
    let work = tempfile::Builder::new()
        .prefix("scaivault-bench-lego-")
        .tempdir()
        .map_err(|e| format!("temporary directory for lego: {e}"))?;
    let http = [
        "--http".to_owned(),
        "--http.port".to_owned(),
        format!("127.0.0.1:{http_port}"),
    ];
    measure(
        args.count,
        "lg",
        "lego",
        "issued",
        "warm-up (registers the account)",
        |name| {
            let (http, work) = (&http, &work);
            async move { lego_once(args, pebble, work.path(), &name, http, &[]).await }
        },
    )
    .await
}

/// One `lego run` for `name` with the challenge flags `challenge` and extra environment `env`;
/// the time from spawn to exit. lego's account lives in `path` and is reused by every run after
/// the first.
async fn lego_once(
    args: &Args,
    pebble: &Pebble,
    path: &Path,
    name: &str,
    challenge: &[String],
    env: &[(&str, String)],
) -> Result<Duration, String> {
    let mut cmd = tokio::process::Command::new(&args.lego);
    cmd.current_dir(path)
        .env("LEGO_CA_CERTIFICATES", pebble.listener_root_pem_path())
        .envs(env.iter().map(|(k, v)| (k, v)))
        .args(["--server", &pebble.directory_url()])
        .args(["--accept-tos", "--email", EMAIL])
        .arg("--path")
        .arg(path)
        .args(["--key-type", "ec256"])
        .args(challenge)
        .args(["--domains", name, "run"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for var in [
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "no_proxy",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "NO_PROXY",
    ] {
        cmd.env_remove(var);
    }
    let start = Instant::now();
    let child = cmd
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", args.lego.display()))?;
    let out = tokio::time::timeout(RUN_TIMEOUT, child.wait_with_output())
        .await
        .map_err(|_| format!("lego for {name} still running after {RUN_TIMEOUT:?} (killed)"))?
        .map_err(|e| format!("waiting for lego: {e}"))?;
    let took = start.elapsed();
    if args.verbose {
        eprint!("{}", String::from_utf8_lossy(&out.stderr));
    }
    let cert = path.join("certificates").join(format!("{name}.crt"));
    if !out.status.success() || !cert.exists() {
        return Err(format!(
            "lego for {name}: {} (certificate {} {})\n{}{}",
            out.status,
            cert.display(),
            if cert.exists() { "exists" } else { "missing" },
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(took)
}

/// The dns-01 measurement: both tools' series, the service's wildcard-and-apex order, and the
/// set-up as the report describes it.
#[derive(Debug)]
struct Dns01 {
    scaivault: Series,
    lego: Series,
    /// One order for `x.<zone>` and `*.x.<zone>` through the service, after its timed runs.
    wildcard: (String, Duration),
    bind_addr: String,
    tsig_algorithm: String,
}

/// dns-01: a BIND for [`DNS_ZONE`], a second Pebble whose VA resolves through it, the service,
/// then lego.
async fn bench_dns01(args: &Args) -> Result<Dns01, String> {
    let bind = Bind::start(BindOptions::zones([DNS_ZONE])).await;
    let pebble = Pebble::start(PebbleOptions {
        dns_server: Some(bind.addr()),
        nonce_reject_percent: Some(0),
        va_nosleep: true,
        ..PebbleOptions::default()
    })
    .await;
    eprintln!(
        "dns-01: pebble at {} (VA: DNS {}, BIND authoritative for {DNS_ZONE})",
        pebble.directory_url(),
        bind.addr()
    );
    let (scaivault, wildcard) = bench_service_dns01(args, &pebble, &bind).await?;
    let lego = bench_lego_dns01(args, &pebble, &bind).await?;
    Ok(Dns01 {
        scaivault,
        lego,
        wildcard,
        bind_addr: bind.addr(),
        tsig_algorithm: bind.tsig_algorithm().to_owned(),
    })
}

async fn bench_service_dns01(
    args: &Args,
    pebble: &Pebble,
    bind: &Bind,
) -> Result<(Series, (String, Duration)), String> {
    let binary = std::fs::canonicalize(&args.binary)
        .map_err(|e| format!("{}: {e}", args.binary.display()))?;
    let mut service = Service::start(
        ServiceOptions::new(binary)
            .extra_root(pebble.listener_root_pem_path())
            .set("dns", "resolvers", format!("[\"{}\"]", bind.addr()))
            .set_str("dns", "propagation_interval", PROPAGATION_INTERVAL)
            .env("RUST_LOG", "info"),
    )
    .await;
    let api = service.client();
    let fail = |what: &str, status: u16, answer: &serde_json::Value, service: &Service| {
        format!("{what}: {status} {answer}\n{}", service.log_tail())
    };
    let (status, account) = api
        .post(
            "/v1/pki/acme/accounts",
            &json!({
                "name": "bench-dns",
                "provider": "custom",
                "environment": "staging",
                "email": EMAIL,
                "directory_url": pebble.directory_url(),
            }),
        )
        .await;
    if status != 201 {
        return Err(fail(
            "registering the service's account",
            status,
            &account,
            &service,
        ));
    }
    let account_id = account["id"].as_str().unwrap_or_default().to_owned();
    let (status, answer) = api
        .put(
            &format!("/v1/secrets/{TSIG_SECRET_PATH}"),
            &json!({ "value": bind.tsig_secret_b64() }),
        )
        .await;
    if status != 201 {
        return Err(fail("storing the TSIG secret", status, &answer, &service));
    }
    let (status, provider) = api
        .post(
            "/v1/pki/dns-providers",
            &json!({
                "name": "bind",
                "type": "rfc2136",
                "config": {
                    "nameserver": bind.addr(),
                    "tsig_key_name": bind.tsig_key_name(),
                    "tsig_algorithm": bind.tsig_algorithm(),
                    "tsig_secret_path": TSIG_SECRET_PATH,
                },
            }),
        )
        .await;
    if status != 201 {
        return Err(fail(
            "creating the rfc2136 DNS provider",
            status,
            &provider,
            &service,
        ));
    }
    let provider_id = provider["id"].as_str().unwrap_or_default().to_owned();
    eprintln!("scaivault dns-01: account {account_id}, DNS provider {provider_id}");

    let order = |domains: Vec<String>| {
        json!({
            "account_id": account_id,
            "domains": domains,
            "challenge_type": "dns-01",
            "dns_provider_id": provider_id,
            "key_type": "ecdsa-p256",
        })
    };
    let series = measure(
        args.count,
        "svd",
        "scaivault dns-01",
        "valid",
        "warm-up",
        |name| {
            let (api, service, order) = (&api, &service, &order);
            async move {
                issue_once(api, &order(vec![name.clone()]))
                    .await
                    .map_err(|e| format!("scaivault dns-01, {name}: {e}\n{}", service.log_tail()))
            }
        },
    )
    .await?;
    let name = format!("wc-{:08x}.bench.{DNS_ZONE}", rand::random::<u32>());
    let wildcard = issue_once(&api, &order(vec![name.clone(), format!("*.{name}")]))
        .await
        .map_err(|e| {
            format!(
                "scaivault dns-01, {name} + *.{name}: {e}\n{}",
                service.log_tail()
            )
        })?;
    eprintln!(
        "scaivault dns-01 wildcard: {name} + *.{name} valid in {:.1} ms",
        ms(wildcard)
    );
    let status = service.terminate().await;
    eprintln!("scaivault stopped ({status})");
    drop(service);
    Ok((series, (name, wildcard)))
}

/// lego with the flags and environment of `tests/harness/tests/peers.rs`
/// (`lego_gets_a_short_lived_certificate_from_pebble_through_bind`): the nameserver as
/// `IP:port`, the TSIG algorithm with its trailing dot, `--dns.resolvers` = BIND and
/// `--dns.disable-cp`; lego's rfc2136 defaults otherwise.
async fn bench_lego_dns01(args: &Args, pebble: &Pebble, bind: &Bind) -> Result<Series, String> {
    let work = tempfile::Builder::new()
        .prefix("scaivault-bench-lego-dns-")
        .tempdir()
        .map_err(|e| format!("temporary directory for lego: {e}"))?;
    let env = [
        ("RFC2136_NAMESERVER", bind.addr()),
        ("RFC2136_TSIG_KEY", bind.tsig_key_name().to_owned()),
        (
            "RFC2136_TSIG_ALGORITHM",
            format!("{}.", bind.tsig_algorithm()),
        ),
        ("RFC2136_TSIG_SECRET", bind.tsig_secret_b64().to_owned()),
    ];
    let dns = [
        "--dns".to_owned(),
        "rfc2136".to_owned(),
        "--dns.resolvers".to_owned(),
        bind.addr(),
        "--dns.disable-cp".to_owned(),
    ];
    measure(
        args.count,
        "lgd",
        "lego dns-01",
        "issued",
        "warm-up (registers the account)",
        |name| {
            let (dns, env, work) = (&dns, &env, &work);
            async move { lego_once(args, pebble, work.path(), &name, dns, env).await }
        },
    )
    .await
}

/// Order statistics of one series, in milliseconds.
#[derive(Debug)]
struct Stats {
    median: f64,
    min: f64,
    max: f64,
    /// Nearest-rank 90th percentile; only for 10 or more runs.
    p90: Option<f64>,
}

fn stats(runs: &[Duration]) -> Stats {
    let mut v: Vec<f64> = runs.iter().map(|d| ms(*d)).collect();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    let p90 = (n >= 10).then(|| v[(n * 9).div_ceil(10) - 1]);
    Stats {
        median,
        min: v[0],
        max: v[n - 1],
        p90,
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Machine and peer versions, as shown in the report.
#[derive(Debug)]
struct Facts {
    date: String,
    nproc: String,
    cpu: String,
    packages: String,
    rustc: String,
    /// `named -v` up to its "(": e.g. `BIND 9.18.49-1~deb12u3-Debian`.
    named: String,
}

fn machine_facts() -> Facts {
    let cmd = |program: &str, args: &[&str]| {
        std::process::Command::new(program)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_else(|| "unknown".to_owned())
    };
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned());
    Facts {
        date: cmd("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
        nproc: cmd("nproc", &[]),
        cpu,
        packages: cmd("dpkg-query", &["-W", "pebble", "lego"])
            .lines()
            .map(|l| l.replace('\t', " "))
            .collect::<Vec<_>>()
            .join(", "),
        rustc: cmd("rustc", &["--version"]),
        // "BIND 9.18.49-1~deb12u3-Debian (Extended Support Version) <id:>": up to the "(".
        named: cmd("/usr/sbin/named", &["-v"])
            .split(" (")
            .next()
            .unwrap_or_default()
            .trim()
            .to_owned(),
    }
}

fn report(args: &Args, scaivault: &Series, lego: &Series, dns01: &Dns01, facts: &Facts) -> String {
    let sv = stats(&scaivault.runs);
    let lg = stats(&lego.runs);
    let n = args.count;
    let cell = |v: f64| format!("{v:.1} ms");
    let p90 = |s: &Stats| s.p90.map_or_else(|| "n/a (N < 10)".to_owned(), cell);
    let list = |runs: &[Duration]| {
        runs.iter()
            .map(|d| format!("{:.1}", ms(*d)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let argv: Vec<String> = std::env::args().collect();
    let mut out = String::new();
    out.push_str("## Issuance latency\n\n");
    out.push_str(&format!(
        "Measured {} with `{}`",
        facts.date,
        argv.join(" ")
    ));
    if let Ok(outer) = std::env::var("BENCH_COMMAND") {
        out.push_str(&format!(" (run by `{outer}`)"));
    }
    out.push_str(".\n\n");
    out.push_str("| tool | N | median | min | p90 | max |\n");
    out.push_str("|---|---:|---:|---:|---:|---:|\n");
    out.push_str(&format!(
        "| ScaiVault (release, POST /issue → order `valid`) | {n} | {} | {} | {} | {} |\n",
        cell(sv.median),
        cell(sv.min),
        p90(&sv),
        cell(sv.max)
    ));
    out.push_str(&format!(
        "| lego (`lego run` process, start → exit) | {n} | {} | {} | {} | {} |\n",
        cell(lg.median),
        cell(lg.min),
        p90(&lg),
        cell(lg.max)
    ));
    out.push_str(&format!(
        "\nlego median / ScaiVault median = **{:.2}**\n\n",
        lg.median / sv.median
    ));
    out.push_str(&format!(
        "- Single-domain http-01 certificates (ECDSA P-256 keys on both sides), one after another; \
         one warm-up issuance per tool not counted (ScaiVault {:.1} ms, lego {:.1} ms including \
         its account registration).\n",
        ms(scaivault.warm_up),
        ms(lego.warm_up)
    ));
    out.push_str(&format!(
        "- Runs in ms, in order: ScaiVault {}; lego {}.\n",
        list(&scaivault.runs),
        list(&lego.runs)
    ));
    out.push_str(&format!(
        "- ScaiVault's order is polled every {} ms (plus the GET's round trip), which bounds \
         that measurement's resolution.\n",
        ORDER_POLL.as_millis()
    ));
    out.push_str(
        "- lego reuses the account registered by its warm-up run (same `--path`); ScaiVault \
         uses the account registered before its warm-up. Neither timed run registers an \
         account.\n",
    );
    out.push_str(
        "- One Pebble for both (`PEBBLE_VA_NOSLEEP=1`, `PEBBLE_WFE_NONCEREJECT=0`), names \
         resolved by `pebble-challtestsrv`; the service was stopped before lego took the \
         http-01 port.\n",
    );
    out.push_str(&format!(
        "- Machine: {} cores (nproc), CPU \"{}\"; {}; {}.\n",
        facts.nproc, facts.cpu, facts.packages, facts.rustc
    ));
    out.push_str(&report_dns01(n, dns01, facts));
    out
}

/// The "dns-01 (rfc2136 via BIND)" part of the section.
fn report_dns01(n: usize, dns: &Dns01, facts: &Facts) -> String {
    let sv = stats(&dns.scaivault.runs);
    let lg = stats(&dns.lego.runs);
    let cell = |v: f64| format!("{v:.1} ms");
    let p90 = |s: &Stats| s.p90.map_or_else(|| "n/a (N < 10)".to_owned(), cell);
    let list = |runs: &[Duration]| {
        runs.iter()
            .map(|d| format!("{:.1}", ms(*d)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut out = String::new();
    out.push_str("\n### dns-01 (rfc2136 via BIND)\n\n");
    out.push_str("| tool | N | median | min | p90 | max |\n");
    out.push_str("|---|---:|---:|---:|---:|---:|\n");
    out.push_str(&format!(
        "| ScaiVault (release, POST /issue → order `valid`) | {n} | {} | {} | {} | {} |\n",
        cell(sv.median),
        cell(sv.min),
        p90(&sv),
        cell(sv.max)
    ));
    out.push_str(&format!(
        "| lego (`lego run --dns rfc2136` process, start → exit) | {n} | {} | {} | {} | {} |\n",
        cell(lg.median),
        cell(lg.min),
        p90(&lg),
        cell(lg.max)
    ));
    out.push_str(&format!(
        "\nlego median / ScaiVault median = **{:.2}**\n\n",
        lg.median / sv.median
    ));
    let (name, took) = &dns.wildcard;
    out.push_str(&format!(
        "ScaiVault, wildcard and apex in one order (`{name}` + `*.{name}`, two TXT values at one \
         name), once, after its timed runs: **{:.1} ms**\n\n",
        ms(*took)
    ));
    out.push_str(&format!(
        "- Single-domain dns-01 certificates (ECDSA P-256 keys on both sides), one after \
         another; one warm-up issuance per tool not counted (ScaiVault {:.1} ms, lego {:.1} ms \
         including its account registration).\n",
        ms(dns.scaivault.warm_up),
        ms(dns.lego.warm_up)
    ));
    out.push_str(&format!(
        "- Runs in ms, in order: ScaiVault {}; lego {}.\n",
        list(&dns.scaivault.runs),
        list(&dns.lego.runs)
    ));
    out.push_str(&format!(
        "- A second Pebble (same settings) with `-dnsserver {addr}`: {named} on its own \
         loopback address, authoritative for `{DNS_ZONE}` only, no recursion; TXT records \
         written with RFC 2136 updates signed with TSIG {alg}. Both tools send their updates to \
         `{addr}`.\n",
        addr = dns.bind_addr,
        named = facts.named,
        alg = dns.tsig_algorithm,
    ));
    out.push_str(&format!(
        "- ScaiVault: a fresh service with `[dns] resolvers = [\"{addr}\"]` and \
         `propagation_interval = \"{PROPAGATION_INTERVAL}\"` (the poll period of its \
         propagation check, which asks every authoritative nameserver of the zone directly); \
         DNS provider `rfc2136` with the TSIG secret stored under `/v1/secrets/`; order polled \
         every {} ms as above.\n",
        ORDER_POLL.as_millis(),
        addr = dns.bind_addr,
    ));
    out.push_str(&format!(
        "- lego: `--dns rfc2136 --dns.resolvers {addr} --dns.disable-cp`, `RFC2136_NAMESERVER={addr}`, \
         `RFC2136_TSIG_KEY`, `RFC2136_TSIG_ALGORITHM={alg}.`, `RFC2136_TSIG_SECRET` (as in \
         `tests/harness/tests/peers.rs`); no `RFC2136_POLLING_INTERVAL`, \
         `RFC2136_PROPAGATION_TIMEOUT` or `RFC2136_TTL`, so lego's defaults apply. Every timed run \
         reuses the warm-up's account.\n",
        addr = dns.bind_addr,
        alg = dns.tsig_algorithm,
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistics_use_nearest_rank_and_middle_mean() {
        let runs: Vec<Duration> = (1..=10).map(Duration::from_millis).collect();
        let s = stats(&runs);
        assert_eq!((s.median, s.min, s.max, s.p90), (5.5, 1.0, 10.0, Some(9.0)));
        let s = stats(&runs[..3]);
        assert_eq!((s.median, s.p90), (2.0, None));
    }
}
