//! The listeners against hostile and plain clients, through the binary: slow or silent clients
//! are cut off on every listener (API, admin, http-01, tls-alpn-01) after the configured
//! timeouts, connections beyond `max_connections` wait for a free slot, and the API and admin
//! listeners serve TLS from certificate files that are reloaded when they change.

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use scaivault_testkit::{Service, ServiceOptions, free_port};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const HEADER_TIMEOUT: Duration = Duration::from_secs(1);
const IDLE_TIMEOUT: Duration = Duration::from_secs(2);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(3);
/// How much later than its timeout a close may come on a loaded machine.
const SLACK: Duration = Duration::from_secs(10);
/// How much earlier than its timeout a close may come (timer and clock granularity).
const EARLY: Duration = Duration::from_millis(200);

/// The service with every listener on a free port and short timeouts; returns it and the
/// listeners' addresses (API, admin, http-01, tls-alpn-01).
async fn start(opts: ServiceOptions) -> (Service, [String; 4]) {
    let addr = || format!("127.0.0.1:{}", free_port(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    let (admin, http01, tls_alpn01) = (addr(), addr(), addr());
    let service = Service::start(
        opts.set_str("server", "admin_listen", &admin)
            .set("challenges", "http01_listen", format!("[\"{http01}\"]"))
            .set(
                "challenges",
                "tls_alpn01_listen",
                format!("[\"{tls_alpn01}\"]"),
            ),
    )
    .await;
    let api = format!("127.0.0.1:{}", service.port());
    (service, [api, admin, http01, tls_alpn01])
}

fn options() -> ServiceOptions {
    let secs = |d: Duration| format!("{}ms", d.as_millis());
    ServiceOptions::new(env!("CARGO_BIN_EXE_scaivault"))
        .set_str("server", "header_timeout", &secs(HEADER_TIMEOUT))
        .set_str("server", "idle_timeout", &secs(IDLE_TIMEOUT))
        .set_str("server", "request_timeout", &secs(REQUEST_TIMEOUT))
}

/// Reads (and discards) until the peer closes the connection; how long that took from `since`,
/// or `None` if it is still open after `limit`.
async fn closed_after(
    tcp: &mut (impl AsyncReadExt + Unpin),
    since: Instant,
    limit: Duration,
) -> Option<Duration> {
    let mut buf = [0u8; 4096];
    let closed = tokio::time::timeout(limit, async {
        loop {
            match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    closed.ok().map(|()| since.elapsed())
}

/// Asserts `tcp` is closed by the server about `timeout` after `since`.
async fn assert_cut_off(
    what: &str,
    tcp: &mut (impl AsyncReadExt + Unpin),
    since: Instant,
    timeout: Duration,
) {
    let after = closed_after(tcp, since, timeout + SLACK).await;
    let after = after.unwrap_or_else(|| panic!("{what}: still open {:?} later", timeout + SLACK));
    assert!(
        after >= timeout - EARLY,
        "{what}: closed after {after:?}, before the timeout {timeout:?}"
    );
}

/// A client that connects and sends nothing.
async fn silent(what: String, addr: String) {
    let mut tcp = TcpStream::connect(&addr).await.expect("connect");
    let since = Instant::now();
    assert_cut_off(
        &format!("{what}: silent client"),
        &mut tcp,
        since,
        HEADER_TIMEOUT,
    )
    .await;
}

/// A client that sends `start`, then one byte of `drip` every 200 ms, never finishing.
async fn dripping(what: String, addr: String, start: Vec<u8>, drip: u8, timeout: Duration) {
    let tcp = TcpStream::connect(&addr).await.expect("connect");
    let (mut read, mut write) = tcp.into_split();
    let since = Instant::now();
    write.write_all(&start).await.expect("send");
    let writer = tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(200)).await;
            if write.write_all(&[drip]).await.is_err() {
                return;
            }
        }
    });
    assert_cut_off(&format!("{what}: slow client"), &mut read, since, timeout).await;
    writer.abort();
}

/// Sends one request and reads its whole answer (by `Content-Length`); returns the answer's
/// head.
async fn exchange(tcp: &mut TcpStream, request: &str) -> String {
    tcp.write_all(request.as_bytes()).await.expect("send");
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(SLACK, tcp.read(&mut buf))
            .await
            .expect("an answer")
            .expect("read");
        assert!(
            n > 0,
            "closed before answering: {}",
            String::from_utf8_lossy(&answer)
        );
        answer.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&answer).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length: usize = head
                .lines()
                .find_map(|line| {
                    let (name, value) = line.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse().expect("length"))
                })
                .expect("a content-length");
            if body.len() >= length {
                return head.to_owned();
            }
        }
    }
}

fn get(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
}

#[tokio::test]
async fn slow_or_silent_clients_are_cut_off_on_every_listener() {
    let (service, [api, admin, http01, tls_alpn01]) = start(options()).await;
    let head = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ".to_vec();
    // A TLS handshake record announcing 256 bytes, which never all come.
    let hello = vec![0x16, 0x03, 0x01, 0x01, 0x00, 0x01];
    let mut checks = Vec::new();
    for (name, addr) in [
        ("api", &api),
        ("admin", &admin),
        ("http-01", &http01),
        ("tls-alpn-01", &tls_alpn01),
    ] {
        checks.push(tokio::spawn(silent(name.into(), addr.clone())));
        let start = if name == "tls-alpn-01" {
            hello.clone()
        } else {
            head.clone()
        };
        checks.push(tokio::spawn(dripping(
            name.into(),
            addr.clone(),
            start,
            b'a',
            HEADER_TIMEOUT,
        )));
    }
    for check in join_all(checks).await {
        check.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
    }
    drop(service);
}

#[tokio::test]
async fn idle_connections_and_slow_requests_are_cut_off() {
    let (service, [api, admin, http01, _]) = start(options()).await;
    let idle = |name: &'static str, addr: String, path: &'static str| async move {
        let mut tcp = TcpStream::connect(&addr).await.expect("connect");
        let head = exchange(&mut tcp, &get(path)).await;
        assert!(head.starts_with("HTTP/1.1 "), "{name}: {head}");
        // Kept alive after the answer, until the idle timeout (longer than the header timeout).
        assert_cut_off(
            &format!("{name}: idle client"),
            &mut tcp,
            Instant::now(),
            IDLE_TIMEOUT,
        )
        .await;
    };
    // A body announced and sent one byte every 200 ms: the request never completes.
    let upload = format!(
        "POST /v1/auth/tokens HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{",
        service.admin_token()
    );
    let checks = vec![
        tokio::spawn(idle("api", api.clone(), "/healthz")),
        tokio::spawn(idle("admin", admin, "/login")),
        tokio::spawn(idle("http-01", http01, "/.well-known/acme-challenge/none")),
        tokio::spawn(dripping(
            "api upload".into(),
            api,
            upload.into_bytes(),
            b' ',
            REQUEST_TIMEOUT,
        )),
    ];
    for check in join_all(checks).await {
        check.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
    }
    drop(service);
}

#[tokio::test]
async fn connections_beyond_max_connections_wait_for_a_free_slot() {
    let service = Service::start(
        ServiceOptions::new(env!("CARGO_BIN_EXE_scaivault"))
            .set("server", "max_connections", "2")
            .set_str("server", "header_timeout", "60s")
            // The readiness probe's kept-alive connection goes away quickly.
            .set_str("server", "idle_timeout", "1s"),
    )
    .await;
    let addr = format!("127.0.0.1:{}", service.port());
    let first = TcpStream::connect(&addr).await.expect("connect");
    let _second = TcpStream::connect(&addr).await.expect("connect");
    // A third connection's request is not answered while two connections are open ...
    let mut third = TcpStream::connect(&addr).await.expect("connect");
    third
        .write_all(get("/healthz").as_bytes())
        .await
        .expect("send");
    let mut buf = [0u8; 64];
    let early = tokio::time::timeout(Duration::from_secs(1), third.read(&mut buf)).await;
    assert!(early.is_err(), "answered beyond max_connections: {early:?}");
    // ... and is once one of them closes.
    drop(first);
    let n = tokio::time::timeout(SLACK, third.read(&mut buf))
        .await
        .expect("answered once a slot is free")
        .expect("read");
    let answer = String::from_utf8_lossy(&buf[..n]);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

/// Writes a fresh self-signed certificate for 127.0.0.1 and its key to `dir` (replacing, by
/// rename, what is there); returns the certificate's PEM.
fn write_certificate(dir: &Path) -> String {
    let rcgen::CertifiedKey { cert, signing_key } =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).expect("certificate");
    for (name, pem) in [
        ("key.pem", signing_key.serialize_pem()),
        ("cert.pem", cert.pem()),
    ] {
        let fresh = dir.join(format!("{name}.new"));
        std::fs::write(&fresh, pem).expect("write");
        std::fs::rename(&fresh, dir.join(name)).expect("rename");
    }
    cert.pem()
}

/// A client trusting only `cert_pem`, on fresh connections every time.
fn trusting(cert_pem: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .tls_certs_only([reqwest::Certificate::from_pem(cert_pem.as_bytes()).expect("pem")])
        .pool_max_idle_per_host(0)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

#[tokio::test]
async fn tls_on_the_api_and_admin_listeners_with_reloaded_certificates() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let dir = tempfile::tempdir().expect("tempdir");
    let first = write_certificate(dir.path());
    let admin = format!("127.0.0.1:{}", free_port(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    let path = |name: &str| dir.path().join(name).display().to_string();
    let service = Service::start(
        ServiceOptions::new(env!("CARGO_BIN_EXE_scaivault"))
            .set_str("server", "tls_cert_file", &path("cert.pem"))
            .set_str("server", "tls_key_file", &path("key.pem"))
            .set_str("server", "admin_listen", &admin),
    )
    .await;
    let port = service.port();
    let healthz = format!("https://127.0.0.1:{port}/healthz");
    let resp = trusting(&first)
        .get(&healthz)
        .send()
        .await
        .expect("GET over TLS");
    assert_eq!(resp.status(), 200);

    // Plain HTTP to the TLS listener gets no HTTP answer.
    let plain = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    let refused = plain
        .get(format!("http://127.0.0.1:{port}/healthz"))
        .send()
        .await;
    assert!(refused.is_err(), "plain HTTP answered: {refused:?}");

    // The admin login's session cookie is Secure under TLS.
    let resp = trusting(&first)
        .post(format!("https://{admin}/login"))
        .form(&[("token", service.admin_token())])
        .send()
        .await
        .expect("login over TLS");
    assert_eq!(resp.status(), 303);
    let cookie = resp.headers()["set-cookie"]
        .to_str()
        .expect("cookie")
        .to_owned();
    assert!(cookie.contains("; Secure"), "{cookie}");

    // A renewed certificate replaces the files: new connections get it, without a restart.
    let second = write_certificate(dir.path());
    let deadline = Instant::now() + SLACK;
    for url in [healthz, format!("https://{admin}/login")] {
        loop {
            match trusting(&second).get(&url).send().await {
                Ok(resp) if resp.status() == 200 => break,
                other => assert!(
                    Instant::now() < deadline,
                    "{url} never served the new certificate: {other:?}\n{}",
                    service.log_tail()
                ),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let old = trusting(&first)
        .get(format!("https://127.0.0.1:{port}/healthz"))
        .send()
        .await;
    assert!(old.is_err(), "the old certificate is still served: {old:?}");
}

/// Runs the binary with `env` on a clean `SCAIVAULT_*` environment in an empty directory;
/// returns (exit code, stderr).
fn run(env: &[(&str, &str)]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_scaivault"));
    command.arg("serve").current_dir(dir.path());
    for (name, _) in std::env::vars().filter(|(n, _)| n.starts_with("SCAIVAULT_")) {
        command.env_remove(name);
    }
    let output = command
        .envs(env.iter().copied())
        .output()
        .expect("run scaivault");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn a_tls_key_without_its_certificate_or_unreadable_files_stop_start_up() {
    let (code, stderr) = run(&[("SCAIVAULT_SERVER__TLS_KEY_FILE", "/nonexistent/key.pem")]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("server.tls_cert_file"), "{stderr}");
    let (code, stderr) = run(&[
        ("SCAIVAULT_SERVER__TLS_CERT_FILE", "/nonexistent/cert.pem"),
        ("SCAIVAULT_SERVER__TLS_KEY_FILE", "/nonexistent/key.pem"),
        ("SCAIVAULT_SERVER__LISTEN", "127.0.0.1:0"),
        ("SCAIVAULT_SERVER__ADMIN_LISTEN", ""),
    ]);
    assert_ne!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("server.tls_cert_file /nonexistent/cert.pem"),
        "{stderr}"
    );
}
