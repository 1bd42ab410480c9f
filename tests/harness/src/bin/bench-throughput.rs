//! Throughput: N certificates requested at once through the API (http-01, then dns-01 through
//! BIND), side by side with lego running `--lego-parallel` processes at a time, against the same
//! Pebble (`PEBBLE_VA_NOSLEEP=1`, no bad-nonce rejections).
//!
//! ```text
//! bench-throughput [--binary target/release/scaivault] [--lego /usr/bin/lego]
//!                  [--sizes 20,200,1000] [--lego-sizes 20,200] [--lego-parallel 10]
//!                  [--postgres]
//! ```
//!
//! `--postgres`: the service stores everything in a fresh PostgreSQL database (127.0.0.1:5432,
//! dropped afterwards) instead of its default SQLite file, and lego is not run (it has no
//! store, so its numbers would be the same as in the SQLite run).
//!
//! ScaiVault: one service per challenge type (`orders_per_minute = 0`, one account; for dns-01
//! an `rfc2136` DNS provider). Per batch, N `POST /v1/pki/acme/issue` are sent at once; the batch
//! ends when every order is final, read from the event log (`certificate.issued`,
//! `order.invalid`), whose `created_at` is the moment the service recorded it. While a batch runs
//! the service's `VmRSS` is sampled every 100 ms and its and Pebble's CPU time read from
//! `/proc/<pid>/stat`, so the report shows when Pebble, not the service, is the limit.
//! lego: a warm-up run registers its account, then N `lego run` processes, at most
//! `--lego-parallel` at a time, reuse it (http-01 through `--http.webroot`, served to Pebble by a
//! small server on the http-01 port, since `--http` would need one port per process).
//!
//! The Markdown report goes to stdout; progress to stderr.

#[path = "bench/lego.rs"]
mod lego;
#[path = "bench/proc.rs"]
mod proc;
#[path = "bench/util.rs"]
mod util;

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use scaivault_testkit::{
    ApiClient, Bind, BindOptions, ChallTestSrv, Pebble, PebbleOptions, PgDatabase, Service,
    ServiceOptions, free_port,
};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Longest a batch may take before the benchmark reports it unfinished.
const BATCH_TIMEOUT: Duration = Duration::from_secs(600);
const DNS_ZONE: &str = "example.test";

struct Args {
    binary: PathBuf,
    lego: PathBuf,
    sizes: Vec<usize>,
    lego_sizes: Vec<usize>,
    lego_parallel: usize,
    postgres: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        binary: "target/release/scaivault".into(),
        lego: "/usr/bin/lego".into(),
        sizes: vec![20, 200, 1000],
        lego_sizes: vec![20, 200],
        lego_parallel: 10,
        postgres: false,
    };
    for (flag, value) in util::args() {
        let v = || value.clone().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--binary" => a.binary = v()?.into(),
            "--lego" => a.lego = v()?.into(),
            "--sizes" => a.sizes = util::list(&v()?)?,
            "--lego-sizes" => a.lego_sizes = util::list(&v()?)?,
            "--lego-parallel" => a.lego_parallel = util::list(&v()?)?[0].max(1),
            "--postgres" => a.postgres = true,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(a)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("bench-throughput: {e}");
            return ExitCode::from(2);
        }
    };
    let mut out = String::from(if args.postgres {
        "## Throughput on PostgreSQL\n\n"
    } else {
        "## Throughput\n\n"
    });
    out.push_str(&util::measured_line());
    let mut rows = Vec::new();
    for challenge in ["http-01", "dns-01"] {
        match bench_challenge(&args, challenge).await {
            Ok(mut r) => rows.append(&mut r),
            Err(e) => {
                eprintln!("bench-throughput: FAILED ({challenge}): {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    out.push_str(&report(&rows));
    out.push_str(&format!("\n- Machine: {}.\n", util::machine_line()));
    print!("{out}");
    ExitCode::SUCCESS
}

/// One batch's outcome.
struct Row {
    challenge: &'static str,
    tool: &'static str,
    n: usize,
    wall: Duration,
    valid: usize,
    failed: Vec<String>,
    service: Option<proc::Usage>,
    /// VmRSS of the service just before the batch.
    rss_before: u64,
    pebble_cpu: f64,
}

async fn bench_challenge(args: &Args, challenge: &'static str) -> Result<Vec<Row>, String> {
    let dns01 = challenge == "dns-01";
    let http_port = free_port(std::net::Ipv4Addr::LOCALHOST.into());
    // Either peer answers the CA's name lookups; BIND also takes the TXT records.
    let (bind, challtestsrv) = if dns01 {
        (
            Some(Bind::start(BindOptions::zones([DNS_ZONE])).await),
            None,
        )
    } else {
        (None, Some(ChallTestSrv::start().await))
    };
    let dns_server = match (&bind, &challtestsrv) {
        (Some(b), _) => b.addr(),
        (_, Some(c)) => c.dns_addr(),
        _ => unreachable!(),
    };
    let pebble = Pebble::start(PebbleOptions {
        http_port: Some(http_port),
        dns_server: Some(dns_server),
        nonce_reject_percent: Some(0),
        va_nosleep: true,
        ..PebbleOptions::default()
    })
    .await;
    let pebble_pid = proc::pid_with_arg(&pebble.dir().to_string_lossy())
        .ok_or("cannot find Pebble's process")?;
    eprintln!(
        "{challenge}: pebble {} (pid {pebble_pid})",
        pebble.directory_url()
    );

    let binary = std::fs::canonicalize(&args.binary)
        .map_err(|e| format!("{}: {e}", args.binary.display()))?;
    let database = args.postgres.then(PgDatabase::create);
    let mut opts = ServiceOptions::new(binary)
        .extra_root(pebble.listener_root_pem_path())
        .set("server", "orders_per_minute", "0")
        .env("RUST_LOG", "info");
    opts = match &bind {
        Some(b) => opts
            .set("dns", "resolvers", format!("[\"{}\"]", b.addr()))
            .set_str("dns", "propagation_interval", "50ms"),
        None => opts.set(
            "challenges",
            "http01_listen",
            format!("[\"127.0.0.1:{http_port}\"]"),
        ),
    };
    if let Some(database) = &database {
        opts = opts.postgres(database.url());
    }
    let mut service = Service::start(opts).await;
    let api = service.client();
    let body = setup_service(&api, &pebble, bind.as_ref(), challenge).await?;
    let pid = service.pid().ok_or("service not running")?;
    let mut rows = Vec::new();
    for &n in &args.sizes {
        let row = service_batch(&api, &body, n, pid, pebble_pid, challenge).await;
        if row.valid < n {
            eprintln!("{}", service.log_tail());
        }
        rows.push(row);
    }
    eprintln!("scaivault stopped ({})", service.terminate().await);
    drop(service);
    drop(database);
    if args.postgres {
        return Ok(rows);
    }

    let work = tempfile::tempdir().map_err(|e| e.to_string())?;
    let webroot = work.path().join("webroot");
    let mut lego = lego::Lego {
        binary: args.lego.clone(),
        directory_url: pebble.directory_url(),
        ca_pem: pebble.listener_root_pem_path().to_owned(),
        path: work.path().join("lego"),
        challenge: vec!["--http".into(), "--http.webroot".into()],
        env: Vec::new(),
    };
    std::fs::create_dir_all(&lego.path).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(webroot.join(".well-known").join("acme-challenge"))
        .map_err(|e| e.to_string())?;
    let _server = match &bind {
        Some(b) => {
            lego.challenge = [
                "--dns",
                "rfc2136",
                "--dns.resolvers",
                &b.addr(),
                "--dns.disable-cp",
            ]
            .map(String::from)
            .to_vec();
            lego.env = vec![
                ("RFC2136_NAMESERVER".into(), b.addr()),
                ("RFC2136_TSIG_KEY".into(), b.tsig_key_name().into()),
                (
                    "RFC2136_TSIG_ALGORITHM".into(),
                    format!("{}.", b.tsig_algorithm()),
                ),
                ("RFC2136_TSIG_SECRET".into(), b.tsig_secret_b64().into()),
            ];
            None
        }
        None => {
            lego.challenge.push(webroot.display().to_string());
            Some(lego::Webroot::start(&webroot, http_port).await?)
        }
    };
    let warm = lego.run(&name("lgw", 0)).await?;
    eprintln!(
        "lego {challenge} warm-up (registers the account): {:.0} ms",
        util::ms(warm)
    );
    for &n in &args.lego_sizes {
        let cpu0 = proc::cpu_seconds(pebble_pid).unwrap_or(0.0);
        let tag = format!("lg{n}-");
        let wall = lego.batch(n, args.lego_parallel, |i| name(&tag, i)).await?;
        eprintln!(
            "lego {challenge} {n} at {} in parallel: {:.0} ms",
            args.lego_parallel,
            util::ms(wall)
        );
        rows.push(Row {
            challenge,
            tool: "lego",
            n,
            wall,
            valid: n,
            failed: Vec::new(),
            service: None,
            rss_before: 0,
            pebble_cpu: proc::cpu_seconds(pebble_pid).unwrap_or(0.0) - cpu0,
        });
    }
    Ok(rows)
}

fn name(tag: &str, i: usize) -> String {
    format!("{tag}{i}-{:08x}.bench.{DNS_ZONE}", rand::random::<u32>())
}

/// Registers the account (and for dns-01 the TSIG secret and DNS provider); returns the body
/// of `POST /v1/pki/acme/issue` without `domains`.
async fn setup_service(
    api: &ApiClient,
    pebble: &Pebble,
    bind: Option<&Bind>,
    challenge: &str,
) -> Result<Value, String> {
    let (status, account) = api
        .post(
            "/v1/pki/acme/accounts",
            &json!({"name": "bench", "provider": "custom", "environment": "staging",
                    "email": "bench@example.test", "directory_url": pebble.directory_url()}),
        )
        .await;
    if status != 201 {
        return Err(format!("registering the account: {status} {account}"));
    }
    let mut body = json!({"account_id": account["id"], "challenge_type": challenge,
                          "key_type": "ecdsa-p256"});
    if let Some(bind) = bind {
        let (status, answer) = api
            .put(
                "/v1/secrets/dns/bench/tsig",
                &json!({"value": bind.tsig_secret_b64()}),
            )
            .await;
        if status != 201 {
            return Err(format!("storing the TSIG secret: {status} {answer}"));
        }
        let (status, provider) = api
            .post(
                "/v1/pki/dns-providers",
                &json!({"name": "bind", "type": "rfc2136", "config": {
                    "nameserver": bind.addr(), "tsig_key_name": bind.tsig_key_name(),
                    "tsig_algorithm": bind.tsig_algorithm(),
                    "tsig_secret_path": "dns/bench/tsig"}}),
            )
            .await;
        if status != 201 {
            return Err(format!("creating the DNS provider: {status} {provider}"));
        }
        body["dns_provider_id"] = provider["id"].clone();
    }
    Ok(body)
}

/// N orders at once; waits until each is final (event log) or [`BATCH_TIMEOUT`].
async fn service_batch(
    api: &ApiClient,
    body: &Value,
    n: usize,
    pid: u32,
    pebble_pid: u32,
    challenge: &'static str,
) -> Row {
    let rss_before = proc::status_bytes(pid, "VmRSS").unwrap_or(0);
    let (sampler, cpu0) = proc::RssSampler::start(pid);
    let pebble0 = proc::cpu_seconds(pebble_pid).unwrap_or(0.0);
    let since = OffsetDateTime::now_utc();
    let start = Instant::now();
    let mut posts = tokio::task::JoinSet::new();
    for i in 0..n {
        let (api, mut body) = (api.clone(), body.clone());
        body["domains"] = json!([name(&format!("sv{n}-"), i)]);
        posts.spawn(async move { api.post("/v1/pki/acme/issue", &body).await });
    }
    let mut pending: HashMap<String, ()> = HashMap::new();
    let mut failed = Vec::new();
    while let Some(done) = posts.join_next().await {
        match done {
            Ok((202, placed)) => {
                pending.insert(placed["order_id"].as_str().unwrap_or_default().into(), ());
            }
            Ok((status, answer)) => failed.push(format!("POST /issue: {status} {answer}")),
            Err(e) => failed.push(format!("POST /issue task: {e}")),
        }
    }
    let posted = start.elapsed();
    let (mut valid, mut last) = (0, Duration::ZERO);
    let mut cursor: Option<String> = None;
    let mut progress = Instant::now();
    while !pending.is_empty() && start.elapsed() < BATCH_TIMEOUT {
        // An event committed after a later one was read sorts before the cursor: after a
        // second without news, read the batch's events again from the start.
        if progress.elapsed() > Duration::from_secs(1) {
            cursor = None;
            progress = Instant::now();
        }
        let path = match &cursor {
            Some(c) => format!("/v1/events?limit=100&cursor={c}"),
            None => format!(
                "/v1/events?limit=100&since={}",
                since.format(&Rfc3339).unwrap_or_default()
            ),
        };
        let (status, page) = api.get(&path).await;
        let events = page["events"].as_array().cloned().unwrap_or_default();
        if status != 200 {
            failed.push(format!("GET {path}: {status} {page}"));
            break;
        }
        for event in &events {
            let order = event["data"]["order_id"].as_str().unwrap_or_default();
            if pending.remove(order).is_none() {
                continue;
            }
            progress = Instant::now();
            let at = event["created_at"]
                .as_str()
                .and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok())
                .map(|t| Duration::try_from(t - since).unwrap_or_default())
                .unwrap_or_else(|| start.elapsed());
            last = last.max(at);
            match event["type"].as_str() {
                Some("certificate.issued") => valid += 1,
                _ => failed.push(format!("{order}: {}", event["data"])),
            }
        }
        if let Some(e) = events.last() {
            let at = e["created_at"]
                .as_str()
                .and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok());
            if let Some(at) = at {
                let millis = at.unix_timestamp_nanos() / 1_000_000;
                cursor = Some(format!("{millis}.{}", e["id"].as_str().unwrap_or_default()));
            }
        }
        if events.len() < 100 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let wall = if pending.is_empty() {
        last.max(posted)
    } else {
        start.elapsed()
    };
    let service = sampler.stop(cpu0).await;
    let pebble_cpu = proc::cpu_seconds(pebble_pid).unwrap_or(0.0) - pebble0;
    if !pending.is_empty() {
        let mut statuses: HashMap<String, usize> = HashMap::new();
        for id in pending.keys() {
            let (_, order) = api.get(&format!("/v1/pki/acme/orders/{id}")).await;
            *statuses
                .entry(order["status"].as_str().unwrap_or("?").into())
                .or_default() += 1;
        }
        failed.push(format!(
            "{} orders not final after {BATCH_TIMEOUT:?}: {statuses:?}",
            pending.len()
        ));
    }
    eprintln!(
        "scaivault {challenge} {n} at once: {valid} valid in {:.0} ms (POSTs answered after {:.0} ms); {} failures",
        util::ms(wall),
        util::ms(posted),
        failed.len()
    );
    for f in failed.iter().take(5) {
        eprintln!("  {f}");
    }
    Row {
        challenge,
        tool: "ScaiVault",
        n,
        wall,
        valid,
        failed,
        service: Some(service),
        rss_before,
        pebble_cpu,
    }
}

fn report(rows: &[Row]) -> String {
    let mut out = String::from(
        "| challenge | tool | N | wall time | certificates/s | valid | failed | lego / ScaiVault | Pebble CPU (share of 2 cores) | service CPU | service RSS before → peak (sampled / VmHWM) |\n\
         |---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n",
    );
    let cores: f64 = util::cmd("nproc", &[]).parse().unwrap_or(1.0);
    for r in rows {
        let secs = r.wall.as_secs_f64();
        let ratio = match r.tool {
            "lego" => rows
                .iter()
                .find(|s| s.tool == "ScaiVault" && s.challenge == r.challenge && s.n == r.n)
                .map(|s| format!("**{:.1}**", secs / s.wall.as_secs_f64()))
                .unwrap_or_else(|| "—".into()),
            _ => "".into(),
        };
        let (cpu, rss) = match &r.service {
            Some(u) => (
                format!("{:.1} s", u.cpu),
                format!(
                    "{} → {} / {}",
                    proc::mib(r.rss_before),
                    proc::mib(u.rss_max),
                    proc::mib(u.hwm)
                ),
            ),
            None => ("—".into(), "—".into()),
        };
        out.push_str(&format!(
            "| {} | {} | {} | {:.2} s | {:.1} | {} | {} | {} | {:.1} s ({:.0} %) | {} | {} |\n",
            r.challenge,
            r.tool,
            r.n,
            secs,
            r.valid as f64 / secs,
            r.valid,
            r.failed.len(),
            ratio,
            r.pebble_cpu,
            100.0 * r.pebble_cpu / secs / cores,
            cpu,
            rss
        ));
    }
    out.push('\n');
    for r in rows.iter().filter(|r| r.tool == "ScaiVault") {
        if let Some(u) = &r.service
            && r.n >= 1000
        {
            out.push_str(&format!(
                "- {} × {} at once: service peak RSS {} (sampled) / {} (VmHWM), {} before the batch: about {:.1} KiB per in-flight order; {:.1} s CPU ({:.1} ms per certificate).\n",
                r.n,
                r.challenge,
                proc::mib(u.rss_max),
                proc::mib(u.hwm),
                proc::mib(r.rss_before),
                (u.rss_max.saturating_sub(r.rss_before)) as f64 / 1024.0 / r.n as f64,
                u.cpu,
                1000.0 * u.cpu / r.valid.max(1) as f64
            ));
        }
        for f in r.failed.iter().take(3) {
            out.push_str(&format!(
                "- {} × {} failure: {}\n",
                r.n,
                r.challenge,
                f.replace('\n', " ")
            ));
        }
    }
    out
}
