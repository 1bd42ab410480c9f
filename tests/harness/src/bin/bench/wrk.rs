//! HTTP load with `wrk` (Debian package `wrk`): requests per second and the 99th percentile of
//! latency from its `--latency` output.

/// One wrk run's result and its unedited output.
pub struct WrkRun {
    pub command: String,
    pub rps: f64,
    pub p99: String,
    /// `Non-2xx or 3xx responses` (0 when wrk prints no such line).
    pub errors: u64,
    pub output: String,
}

/// `wrk -t<threads> -c<connections> -d<seconds>s --latency [-H <header>] <url>`.
pub async fn run(
    url: &str,
    header: Option<&str>,
    threads: u32,
    connections: u32,
    seconds: u32,
) -> Result<WrkRun, String> {
    let mut args = vec![
        format!("-t{threads}"),
        format!("-c{connections}"),
        format!("-d{seconds}s"),
        "--latency".to_owned(),
    ];
    if let Some(h) = header {
        args.push("-H".to_owned());
        args.push(h.to_owned());
    }
    args.push(url.to_owned());
    let shown: Vec<String> = args
        .iter()
        .map(|a| {
            if a.starts_with("Authorization:") {
                "'Authorization: Bearer <token>'".to_owned()
            } else {
                a.clone()
            }
        })
        .collect();
    let command = format!("wrk {}", shown.join(" "));
    let out = tokio::process::Command::new("wrk")
        .args(&args)
        .output()
        .await
        .map_err(|e| format!("cannot run wrk: {e}"))?;
    let output = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        return Err(format!(
            "{command}: {}\n{output}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let rps = output
        .lines()
        .find_map(|l| l.trim().strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(f64::NAN);
    let p99 = output
        .lines()
        .find_map(|l| l.trim().strip_prefix("99%"))
        .map(|v| v.trim().to_owned())
        .unwrap_or_else(|| "?".to_owned());
    let errors = output
        .lines()
        .find_map(|l| l.trim().strip_prefix("Non-2xx or 3xx responses:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    Ok(WrkRun {
        command,
        rps,
        p99,
        errors,
        output: output.replace(header.unwrap_or("\u{0}"), "Authorization: Bearer <token>"),
    })
}
