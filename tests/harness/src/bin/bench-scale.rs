//! Scale: 100,000 managed certificates in the store, on SQLite and on PostgreSQL; then the API
//! under `wrk`.
//!
//! ```text
//! bench-scale [--binary target/release/scaivault] [--count 100000] [--backends sqlite,postgres]
//!             [--idle 10] [--wrk-seconds 10] [--wrk-connections 32]
//! ```
//!
//! Per backend: a service on a fresh database issues one http-01 certificate from Pebble (the
//! template), stops, and [`seed::seed_sql`] copies it `--count` times in SQL and deletes every
//! renewal task, as for certificates imported or seeded from elsewhere. Then the service is
//! started again by this program (so the time is not capped by the testkit's start timeout):
//! process start → `GET /readyz` 200 is the start-up time, which includes giving every
//! certificate its renewal task. Then: RSS (`VmRSS`, `VmHWM`), CPU time over `--idle` seconds
//! with nothing to do, [`seed::one_task_each_sql`] (exactly one live renewal task each), 50
//! pages of `GET /v1/pki/certificates?limit=100` following `next_cursor`, and a second start
//! (tasks in place). Last, wrk on `GET /v1/pki/acme/orders/{id}` (bearer token) and `/healthz`.
//!
//! The Markdown report goes to stdout; progress to stderr.

#[path = "bench/proc.rs"]
mod proc;
#[path = "bench/seed.rs"]
mod seed;
#[path = "bench/util.rs"]
mod util;
#[path = "bench/wrk.rs"]
mod wrk;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use scaivault_testkit::{
    ApiClient, ChallTestSrv, Pebble, PebbleOptions, PgDatabase, Service, ServiceOptions, free_port,
};
use serde_json::json;

const START_TIMEOUT: Duration = Duration::from_secs(1800);

struct Args {
    binary: PathBuf,
    count: usize,
    backends: Vec<String>,
    idle: u64,
    wrk_seconds: u32,
    wrk_connections: u32,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        binary: "target/release/scaivault".into(),
        count: 100_000,
        backends: vec!["sqlite".into(), "postgres".into()],
        idle: 10,
        wrk_seconds: 10,
        wrk_connections: 32,
    };
    for (flag, value) in util::args() {
        let v = || value.clone().ok_or_else(|| format!("{flag} needs a value"));
        let num = |s: String| util::list(&s).map(|l| l.first().copied().unwrap_or(0));
        match flag.as_str() {
            "--binary" => a.binary = v()?.into(),
            "--count" => a.count = num(v()?)?,
            "--backends" => a.backends = v()?.split(',').map(String::from).collect(),
            "--idle" => a.idle = num(v()?)? as u64,
            "--wrk-seconds" => a.wrk_seconds = num(v()?)? as u32,
            "--wrk-connections" => a.wrk_connections = num(v()?)? as u32,
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
            eprintln!("bench-scale: {e}");
            return ExitCode::from(2);
        }
    };
    let mut out = format!("## Scale and API\n\n{}", util::measured_line());
    let mut wrk_out = String::new();
    out.push_str(
        "| backend | certificates | seeding (SQL) | start → /readyz (tasks created) | second start | RSS after start (VmRSS / VmHWM) | idle CPU | valid auto-renewed / with exactly one live task / live tasks | GET /v1/pki/certificates?limit=100 median / p99 / max (50 pages) |\n\
         |---|---:|---:|---:|---:|---|---:|---|---|\n",
    );
    for backend in &args.backends {
        match bench_backend(&args, backend).await {
            Ok((row, wrk)) => {
                out.push_str(&row);
                wrk_out.push_str(&wrk);
            }
            Err(e) => {
                eprintln!("bench-scale: FAILED ({backend}): {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    out.push_str(&format!(
        "\n- Idle CPU: CPU seconds (utime + stime, `/proc/<pid>/stat`) over {} s after `/readyz`, as a share of one core.\n",
        args.idle
    ));
    out.push_str(&wrk_out);
    out.push_str(&format!("\n- Machine: {}.\n", util::machine_line()));
    print!("{out}");
    ExitCode::SUCCESS
}

/// The scale measurement and the wrk runs on one backend: (table row, wrk section).
async fn bench_backend(args: &Args, backend: &str) -> Result<(String, String), String> {
    let pg = (backend == "postgres").then(PgDatabase::create);
    let dns = ChallTestSrv::start().await;
    let http_port = free_port(std::net::Ipv4Addr::LOCALHOST.into());
    let pebble = Pebble::start(PebbleOptions {
        http_port: Some(http_port),
        dns_server: Some(dns.dns_addr()),
        nonce_reject_percent: Some(0),
        ..PebbleOptions::default()
    })
    .await;
    let binary = std::fs::canonicalize(&args.binary)
        .map_err(|e| format!("{}: {e}", args.binary.display()))?;
    let mut opts = ServiceOptions::new(&binary)
        .extra_root(pebble.listener_root_pem_path())
        .set(
            "challenges",
            "http01_listen",
            format!("[\"127.0.0.1:{http_port}\"]"),
        )
        .env("RUST_LOG", "info");
    if let Some(db) = &pg {
        opts = opts.postgres(db.url());
    }
    let mut service = Service::start(opts).await;
    let api = service.client();
    let order_id = issue_template(&api, &pebble).await?;
    service.terminate().await;

    let now_ms = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis(),
    )
    .unwrap_or(0);
    let sql_run = |sql: &str| -> Result<String, String> {
        match &pg {
            Some(db) => Ok(db.query(sql)),
            None => sqlite(&service.data_dir().join("scaivault.db"), sql),
        }
    };
    // The template's renewal task as the queue stored it, to compare with start-up's.
    let template = sql_run(&seed::template_sql())?;
    let prefix = format!("renewal:{template}:");
    let queued_row = sql_run(&seed::task_rows_sql(backend, &prefix))?;
    let started = Instant::now();
    sql_run(&seed::seed_sql(backend, args.count, now_ms))?;
    if pg.is_some() {
        // A long-running database has statistics; a freshly bulk-loaded one gets them here.
        sql_run("ANALYZE")?;
    }
    let seeding = started.elapsed();
    eprintln!(
        "{backend}: seeded {} certificates in {:.1} s",
        args.count,
        seeding.as_secs_f64()
    );

    let log = service.data_dir().join("scale.log");
    let (mut child, ready) = start(&binary, &service, &log).await?;
    let pid = child.id().ok_or("no pid")?;
    let scheduled = scheduled_count(&log);
    let (rss, hwm) = (
        proc::status_bytes(pid, "VmRSS").unwrap_or(0),
        proc::status_bytes(pid, "VmHWM").unwrap_or(0),
    );
    let cpu0 = proc::cpu_seconds(pid).unwrap_or(0.0);
    tokio::time::sleep(Duration::from_secs(args.idle)).await;
    let idle = (proc::cpu_seconds(pid).unwrap_or(0.0) - cpu0) / args.idle as f64;
    let tasks = sql_run(&seed::one_task_each_sql(backend))?;
    let filled_row = sql_run(&seed::task_rows_sql(backend, &prefix))?;
    let pages = list_pages(&api, 50).await?;
    eprintln!(
        "{backend}: ready in {:.2} s (scheduled {scheduled}), RSS {}, idle CPU {:.2} %, tasks {tasks}, list median {:.1} ms",
        ready.as_secs_f64(),
        proc::mib(rss),
        idle * 100.0,
        util::percentile(&pages, 50.0)
    );

    let mut wrk_md = format!(
        "\n### {backend}: the template certificate's renewal task\n\n\
         `job | status | attempts | max_attempts | priority | metadata | idempotency_key | run_at | length(id)`; \
         as the queue stored it at issuance, then as start-up stored it after the seeding deleted it:\n\n\
         ```text\n{queued_row}\n{filled_row}\n```\n"
    );
    let auth = format!("Authorization: Bearer {}", service.admin_token());
    let base = service.base_url();
    wrk_md.push_str(&format!(
        "\n### wrk on {backend} ({} certificates in the store)\n\n",
        args.count + 1
    ));
    for (what, url, header) in [
        (
            "GET /v1/pki/acme/orders/{id}",
            format!("{base}/v1/pki/acme/orders/{order_id}"),
            Some(auth.as_str()),
        ),
        ("GET /healthz", format!("{base}/healthz"), None),
    ] {
        let (sampler, c0) = proc::RssSampler::start(pid);
        let run = wrk::run(&url, header, 2, args.wrk_connections, args.wrk_seconds).await?;
        let usage = sampler.stop(c0).await;
        eprintln!(
            "{backend}: {what}: {:.0} requests/s, p99 {}",
            run.rps, run.p99
        );
        wrk_md.push_str(&format!(
            "**{what}**: **{:.0} requests/s**, p99 **{}**, non-2xx {}; service CPU {:.0} % of one core, RSS peak {}. `{}`:\n\n```text\n{}```\n\n",
            run.rps,
            run.p99,
            run.errors,
            100.0 * usage.cpu / f64::from(args.wrk_seconds),
            proc::mib(usage.rss_max),
            run.command,
            run.output
        ));
    }

    stop(&mut child).await;
    let (mut child, second) = start(&binary, &service, &log).await?;
    stop(&mut child).await;

    let stats = format!(
        "{:.1} / {:.1} / {:.1} ms",
        util::percentile(&pages, 50.0),
        util::percentile(&pages, 99.0),
        util::percentile(&pages, 100.0)
    );
    let row = format!(
        "| {backend} | {} | {:.1} s | **{:.2} s** ({scheduled}) | {:.2} s | {} / {} | {:.2} % | {} | {stats} |\n",
        args.count + 1,
        seeding.as_secs_f64(),
        ready.as_secs_f64(),
        second.as_secs_f64(),
        proc::mib(rss),
        proc::mib(hwm),
        idle * 100.0,
        tasks.replace('|', " / "),
    );
    drop(service);
    Ok((row, wrk_md))
}

/// Registers an account and issues one http-01 certificate; returns its order id.
async fn issue_template(api: &ApiClient, pebble: &Pebble) -> Result<String, String> {
    let (status, account) = api
        .post(
            "/v1/pki/acme/accounts",
            &json!({"name": "scale", "provider": "custom", "environment": "staging",
                    "email": "bench@example.test", "directory_url": pebble.directory_url()}),
        )
        .await;
    if status != 201 {
        return Err(format!("account: {status} {account}"));
    }
    let (status, placed) = api
        .post(
            "/v1/pki/acme/issue",
            &json!({"account_id": account["id"], "domains": ["template.seed.example.test"],
                    "challenge_type": "http-01", "key_type": "ecdsa-p256"}),
        )
        .await;
    if status != 202 {
        return Err(format!("issue: {status} {placed}"));
    }
    let id = placed["order_id"].as_str().unwrap_or_default().to_owned();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, order) = api.get(&format!("/v1/pki/acme/orders/{id}")).await;
        match order["status"].as_str() {
            Some("valid") => return Ok(id),
            Some("invalid") => return Err(format!("template order invalid: {order}")),
            _ if Instant::now() > deadline => return Err(format!("template order: {order}")),
            _ => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

fn sqlite(file: &Path, sql: &str) -> Result<String, String> {
    let out = std::process::Command::new("sqlite3")
        .args(["-batch", "-bail"])
        .arg(file)
        .arg(sql)
        .output()
        .map_err(|e| format!("cannot run sqlite3: {e}"))?;
    if !out.status.success() {
        return Err(format!("sqlite3: {}", String::from_utf8_lossy(&out.stderr)));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// Starts the service on `service`'s configuration and data; the time from spawn to the first
/// `GET /readyz` 200.
async fn start(
    binary: &Path,
    service: &Service,
    log: &Path,
) -> Result<(tokio::process::Child, Duration), String> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(|e| e.to_string())?;
    let mut cmd = tokio::process::Command::new(binary);
    cmd.arg("serve")
        .arg("--config")
        .arg(service.config_path())
        .current_dir(service.data_dir())
        .env("RUST_LOG", "info")
        .stdin(std::process::Stdio::null())
        .stdout(file.try_clone().map_err(|e| e.to_string())?)
        .stderr(file)
        .kill_on_drop(true);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("SCAIVAULT_") {
            cmd.env_remove(&key);
        }
    }
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(5))
        .build()
        .map_err(|e| e.to_string())?;
    let url = format!("{}/readyz", service.base_url());
    let t0 = Instant::now();
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start the service: {e}"))?;
    loop {
        if let Ok(resp) = http.get(&url).send().await
            && resp.status() == 200
        {
            return Ok((child, t0.elapsed()));
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!(
                "service exited ({status}) before /readyz; see {}",
                log.display()
            ));
        }
        if t0.elapsed() > START_TIMEOUT {
            return Err(format!(
                "not ready after {START_TIMEOUT:?}; see {}",
                log.display()
            ));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// SIGTERM, then wait (SIGKILL after 30 s).
async fn stop(child: &mut tokio::process::Child) {
    if let Some(pid) = child.id() {
        let _ = std::process::Command::new("kill")
            .arg(pid.to_string())
            .status();
    }
    if tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .is_err()
    {
        let _ = child.kill().await;
    }
}

/// `scheduled = N` of the last "renewal and scan workers running" line of the log.
fn scheduled_count(log: &Path) -> String {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .rev()
        .find(|l| l.contains("renewal and scan workers running"))
        .and_then(|l| l.split("scheduled=").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .map(|n| format!("{n} scheduled"))
        .unwrap_or_else(|| "scheduled: ?".into())
}

/// Times `pages` requests of `GET /v1/pki/certificates?limit=100`, following `next_cursor`
/// (from the first page again after the last).
async fn list_pages(api: &ApiClient, pages: usize) -> Result<Vec<Duration>, String> {
    let mut times = Vec::with_capacity(pages);
    let mut cursor: Option<String> = None;
    for _ in 0..pages {
        let path = match &cursor {
            Some(c) => format!("/v1/pki/certificates?limit=100&cursor={c}"),
            None => "/v1/pki/certificates?limit=100".to_owned(),
        };
        let t0 = Instant::now();
        let (status, page) = api.get(&path).await;
        times.push(t0.elapsed());
        if status != 200 || page["certificates"].as_array().is_none_or(Vec::is_empty) {
            return Err(format!(
                "GET {path}: {status} {}",
                page.to_string().chars().take(300).collect::<String>()
            ));
        }
        cursor = page["next_cursor"].as_str().map(String::from);
    }
    Ok(times)
}
