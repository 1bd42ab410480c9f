//! Small helpers shared by the benchmark programs: numbers, the machine, argument parsing.

#![allow(dead_code)] // shared by several benchmark programs, each using a part

use std::time::Duration;

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Nearest-rank percentile `p` (0–100) of `values` in milliseconds.
pub fn percentile(values: &[Duration], p: f64) -> f64 {
    let mut v: Vec<f64> = values.iter().map(|d| ms(*d)).collect();
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * v.len() as f64).ceil().max(1.0) as usize;
    v[rank.min(v.len()) - 1]
}

/// Output of a command, trimmed; "unknown" when it fails.
pub fn cmd(program: &str, args: &[&str]) -> String {
    std::process::Command::new(program)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// One line on the machine and the peers' versions.
pub fn machine_line() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned());
    let packages = cmd(
        "dpkg-query",
        &[
            "-W",
            "pebble",
            "lego",
            "bind9",
            "wrk",
            "postgresql",
            "sqlite3",
        ],
    )
    .lines()
    .map(|l| l.replace('\t', " "))
    .collect::<Vec<_>>()
    .join(", ");
    format!(
        "{} cores (nproc), CPU \"{cpu}\", {} MiB RAM; {packages}; {}",
        cmd("nproc", &[]),
        cmd("sh", &["-c", "free -m | awk '/Mem:/ {print $2}'"]),
        cmd("rustc", &["--version"]),
    )
}

/// `Measured <date> with `<argv>` (run by `<BENCH_COMMAND>`).`
pub fn measured_line() -> String {
    let argv: Vec<String> = std::env::args().collect();
    let mut out = format!(
        "Measured {} with `{}`",
        cmd("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
        argv.join(" ")
    );
    if let Ok(outer) = std::env::var("BENCH_COMMAND") {
        out.push_str(&format!(" (run by `{outer}`)"));
    }
    out.push_str(".\n\n");
    out
}

/// `--flag value` / `--flag=value` pairs and bare flags, in order.
pub fn args() -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    let mut it = std::env::args().skip(1).peekable();
    while let Some(arg) = it.next() {
        if let Some((f, v)) = arg.split_once('=') {
            out.push((f.to_owned(), Some(v.to_owned())));
        } else if it.peek().is_some_and(|n| !n.starts_with("--")) {
            out.push((arg, it.next()));
        } else {
            out.push((arg, None));
        }
    }
    out
}

/// `20,200,1000` as numbers.
pub fn list(text: &str) -> Result<Vec<usize>, String> {
    text.split(',')
        .filter(|s| !s.is_empty())
        .map(|s| s.trim().parse().map_err(|_| format!("not a number: {s}")))
        .collect()
}
