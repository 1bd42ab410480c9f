//! Start-up refuses bad configuration, naming the key, before touching anything.

use std::process::Command;

/// Runs the binary with `env` (on a clean `SCAIVAULT_*` environment) and returns (exit code,
/// stderr).
fn run(args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut command = Command::new(env!("CARGO_BIN_EXE_scaivault"));
    command.args(args).current_dir(dir.path());
    for (name, _) in std::env::vars().filter(|(n, _)| n.starts_with("SCAIVAULT_")) {
        command.env_remove(name);
    }
    command.envs(env.iter().copied());
    let output = command.output().expect("run scaivault");
    assert!(
        !dir.path().join("data").exists(),
        "a refused configuration creates nothing"
    );
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn unknown_keys_and_bad_values_stop_start_up_naming_the_key() {
    let cases: [(&[(&str, &str)], &str); 5] = [
        (&[("SCAIVAULT_SERVER__LISTN", "127.0.0.1:1")], "listn"),
        (
            &[("SCAIVAULT_SERVER__LISTEN", "everywhere")],
            "server.listen",
        ),
        (
            &[("SCAIVAULT_DNS__PROPAGATION_TIMEOUT", "a while")],
            "dns.propagation_timeout",
        ),
        (&[("SCAIVAULT_DATABASE__URL", "mysql://db")], "database.url"),
        (&[("SCAIVAULT_BOGUS", "1")], "SCAIVAULT_BOGUS"),
    ];
    for (env, key) in cases {
        let (code, stderr) = run(&["serve"], env);
        assert_eq!(code, Some(2), "{env:?}: {stderr}");
        assert!(stderr.contains(key), "{env:?} must name {key}: {stderr}");
    }
}

#[test]
fn config_file_errors_name_the_file_or_key() {
    let (code, stderr) = run(&["serve", "--config", "/nonexistent/scaivault.toml"], &[]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("/nonexistent/scaivault.toml"), "{stderr}");

    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, "[renewal]\nbefore_expiry = \"soon\"\n").expect("write");
    let (code, stderr) = run(&["--config", file.to_str().expect("utf-8")], &[]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("renewal.before_expiry"), "{stderr}");
}
