//! The admin job dashboard (apalis-board on `[server] admin_listen`) end to end: refused without
//! auth (401 for its API, a redirect to `/login` for pages, its PUT push route included), served
//! with the admin token as bearer or after logging in with the form (HttpOnly, SameSite=Strict
//! session cookie), and the login page rendered by a headless Chromium.

#[macro_use]
mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::time::Duration;

use common::Db;
use reqwest::redirect::Policy;
use scaivault_testkit::{Service, free_port};
use serde_json::{Value, json};

/// The service on `db` with the dashboard on a free port; returns it and the dashboard's URL.
async fn start(db: Db) -> (Service, Option<scaivault_testkit::PgDatabase>, String) {
    let port = free_port(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let admin = format!("127.0.0.1:{port}");
    let (opts, pg) = common::options(db);
    let service = Service::start(opts.set_str("server", "admin_listen", &admin)).await;
    (service, pg, format!("http://{admin}"))
}

/// A client that does not follow redirects (to see them).
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client")
}

/// A renewal task for a certificate that does not exist, due in a day (so no worker runs it).
fn far_task(certificate_id: &str) -> (Value, String) {
    let due = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
        + 86_400;
    (
        json!({"certificate_id": certificate_id, "attempt": 0, "not_before_ms": due * 1000}),
        due.to_string(),
    )
}

async fn tasks(http: &reqwest::Client, base: &str, token: &str) -> Vec<Value> {
    let resp = http
        .get(format!(
            "{base}/api/v1/queues/renewals/tasks?page=1&page_size=100"
        ))
        .bearer_auth(token)
        .send()
        .await
        .expect("list tasks");
    assert_eq!(resp.status(), 200);
    resp.json::<Vec<Value>>().await.expect("tasks JSON")
}

async fn refuses_without_auth_and_serves_with(db: Db) {
    let (service, _pg, base) = start(db).await;
    let http = client();
    let token = service.admin_token().to_owned();

    // Without auth: 401 for the API, a redirect to the login form for pages.
    for path in [
        "/api/v1/queues",
        "/api/v1/queues/renewals/tasks",
        "/api/v1/overview",
    ] {
        let resp = http.get(format!("{base}{path}")).send().await.expect(path);
        assert_eq!(resp.status(), 401, "{path}");
    }
    for path in ["/", "/queues/renewals", "/index.html"] {
        let resp = http.get(format!("{base}{path}")).send().await.expect(path);
        assert_eq!(resp.status(), 303, "{path}");
        assert_eq!(resp.headers()["location"], "/login", "{path}");
    }
    // A wrong token and a session cookie that was never issued are refused too.
    let resp = http
        .get(format!("{base}/api/v1/queues"))
        .bearer_auth("not-a-token")
        .send()
        .await
        .expect("bad bearer");
    assert_eq!(resp.status(), 401);
    let resp = http
        .get(format!("{base}/api/v1/queues"))
        .header("cookie", "sv_admin_session=0000")
        .send()
        .await
        .expect("bad cookie");
    assert_eq!(resp.status(), 401);

    // The push route: refused without auth (and nothing is stored), accepted with it.
    let (body, run_at) = far_task("crt_pushed_without_auth");
    let resp = http
        .put(format!("{base}/api/v1/queues/renewals/tasks"))
        .header("x-task-run-at", &run_at)
        .json(&body)
        .send()
        .await
        .expect("unauthenticated push");
    assert_eq!(resp.status(), 401);
    let resp = http
        .put(format!("{base}/api/v1/queues/renewals/tasks"))
        .header("cookie", "sv_admin_session=0000")
        .header("x-task-run-at", &run_at)
        .json(&body)
        .send()
        .await
        .expect("push with a forged cookie");
    assert_eq!(resp.status(), 401);
    assert!(
        !serde_json::to_string(&tasks(&http, &base, &token).await)
            .expect("json")
            .contains("crt_pushed_without_auth"),
        "a push without auth was stored"
    );

    // A token without the admin scope is refused (403), for the API and the push route.
    let (status, created) = service
        .client()
        .post(
            "/v1/auth/tokens",
            &json!({"name": "reader", "scopes": ["pki:read"]}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let reader = created["token"].as_str().expect("token").to_owned();
    let resp = http
        .get(format!("{base}/api/v1/queues"))
        .bearer_auth(&reader)
        .send()
        .await
        .expect("reader");
    assert_eq!(resp.status(), 403);
    let resp = http
        .put(format!("{base}/api/v1/queues/renewals/tasks"))
        .bearer_auth(&reader)
        .header("x-task-run-at", &run_at)
        .json(&body)
        .send()
        .await
        .expect("reader push");
    assert_eq!(resp.status(), 403);

    // With the admin token as bearer: push a (far-future) renewal task, then the board's API
    // lists the renewal queue and the task in it.
    let (body, run_at) = far_task("crt_dashboard_probe");
    let resp = http
        .put(format!("{base}/api/v1/queues/renewals/tasks"))
        .bearer_auth(&token)
        .header("x-task-run-at", &run_at)
        .json(&body)
        .send()
        .await
        .expect("push");
    assert_eq!(
        resp.status(),
        200,
        "{}",
        resp.text().await.unwrap_or_default()
    );
    let resp = http
        .get(format!("{base}/api/v1/queues"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("queues");
    assert_eq!(resp.status(), 200);
    let queues = resp.text().await.expect("queues body");
    assert!(queues.contains("renewals"), "{queues}");
    // The expiry scan is a queue too (one task per scan slot).
    assert!(queues.contains("scans"), "{queues}");
    // And webhook deliveries.
    assert!(queues.contains("webhooks"), "{queues}");
    let listed = serde_json::to_string(&tasks(&http, &base, &token).await).expect("json");
    assert!(listed.contains("crt_dashboard_probe"), "{listed}");
    assert!(
        !listed.contains("crt_pushed_without_auth"),
        "a push without auth was stored: {listed}"
    );

    // The UI with the bearer token: apalis-board's index page.
    let resp = http
        .get(format!("{base}/"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("ui");
    assert_eq!(resp.status(), 200);
    assert!(resp.text().await.expect("ui").contains("Apalis Board"));

    // The login form: a wrong token is refused and sets no cookie ...
    let resp = http
        .post(format!("{base}/login"))
        .form(&[("token", "wrong")])
        .send()
        .await
        .expect("bad login");
    assert_eq!(resp.status(), 401);
    assert!(resp.headers().get("set-cookie").is_none());
    // ... the admin token sets an HttpOnly, SameSite=Strict session cookie (not the token) and
    // redirects to the board.
    let resp = http
        .post(format!("{base}/login"))
        .form(&[("token", token.as_str())])
        .send()
        .await
        .expect("login");
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()["location"], "/");
    let cookie = resp.headers()["set-cookie"]
        .to_str()
        .expect("cookie")
        .to_owned();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    // Secure only under TLS (tests/listeners.rs): a browser would never send it back over HTTP.
    assert!(!cookie.contains("Secure"), "{cookie}");
    assert!(
        !cookie.contains(&token),
        "the cookie holds the token: {cookie}"
    );
    let pair = cookie.split(';').next().expect("pair").to_owned();
    assert!(pair.starts_with("sv_admin_session="), "{cookie}");

    // With the cookie the UI loads, and its API calls (same origin) are served.
    let resp = http
        .get(format!("{base}/"))
        .header("cookie", &pair)
        .send()
        .await
        .expect("ui with cookie");
    assert_eq!(resp.status(), 200);
    assert!(resp.text().await.expect("ui").contains("Apalis Board"));
    let resp = http
        .get(format!("{base}/api/v1/queues/renewals/tasks"))
        .header("cookie", &pair)
        .send()
        .await
        .expect("api with cookie");
    assert_eq!(resp.status(), 200);
    assert!(
        resp.text()
            .await
            .expect("tasks")
            .contains("crt_dashboard_probe")
    );

    // After logout the session is gone.
    let resp = http
        .post(format!("{base}/logout"))
        .header("cookie", &pair)
        .send()
        .await
        .expect("logout");
    assert_eq!(resp.status(), 303);
    let resp = http
        .get(format!("{base}/api/v1/queues"))
        .header("cookie", &pair)
        .send()
        .await
        .expect("after logout");
    assert_eq!(resp.status(), 401);
}
on_both_backends!(refuses_without_auth_and_serves_with);

/// Runs headless Chromium with `args` (after the common flags) and returns its stdout.
async fn chromium(profile: &Path, args: &[&str]) -> String {
    let out = tokio::time::timeout(
        Duration::from_secs(90),
        tokio::process::Command::new("chromium")
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--no-first-run",
                "--disable-dev-shm-usage",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .args(args)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("chromium timed out")
    .expect("chromium runs (apt-get install chromium)");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A headless Chromium renders the login form, and is sent to it from the board's pages.
#[tokio::test]
async fn chromium_renders_the_login_form() {
    let (_service, _pg, base) = start(Db::Sqlite).await;
    let profile = tempfile::tempdir().expect("profile dir");

    let dom = chromium(profile.path(), &["--dump-dom", &format!("{base}/login")]).await;
    assert!(dom.contains(r#"<form id="login""#), "{dom}");
    assert!(dom.contains(r#"name="token""#), "{dom}");

    // Without a session, the board's root redirects the browser to the login form.
    let dom = chromium(profile.path(), &["--dump-dom", &format!("{base}/")]).await;
    assert!(dom.contains(r#"<form id="login""#), "{dom}");
    assert!(!dom.contains("Apalis Board"), "{dom}");
}

/// A DevTools protocol session with one page of a headless Chromium.
struct DevTools {
    ws: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    next_id: u64,
}

impl DevTools {
    /// Sends `method` with `params` and returns its result (events in between are skipped).
    async fn call(&mut self, method: &str, params: Value) -> Value {
        use futures_util::{SinkExt, StreamExt};
        use tokio_tungstenite::tungstenite::Message;
        self.next_id += 1;
        let id = self.next_id;
        let request = json!({"id": id, "method": method, "params": params});
        self.ws
            .send(Message::Text(request.to_string().into()))
            .await
            .expect("devtools send");
        loop {
            let message = tokio::time::timeout(Duration::from_secs(30), self.ws.next())
                .await
                .unwrap_or_else(|_| panic!("devtools: no answer to {method}"))
                .expect("devtools closed")
                .expect("devtools read");
            let Message::Text(text) = message else {
                continue;
            };
            let value: Value = serde_json::from_str(&text).expect("devtools JSON");
            if value["id"] == id {
                assert!(value.get("error").is_none(), "{method}: {value}");
                return value["result"].clone();
            }
        }
    }

    /// Evaluates `expression` in the page and returns its value.
    async fn eval(&mut self, expression: &str) -> Value {
        let result = self
            .call(
                "Runtime.evaluate",
                json!({"expression": expression, "returnByValue": true}),
            )
            .await;
        result["result"]["value"].clone()
    }
}

/// A headless Chromium logs in with the form and shows the board with the renewal queue; its
/// page cannot read the session cookie (HttpOnly). A screenshot is taken of the result.
#[tokio::test]
async fn chromium_logs_in_and_shows_the_renewal_queue() {
    let (service, _pg, base) = start(Db::Sqlite).await;
    let token = service.admin_token().to_owned();
    let http = client();
    let (body, run_at) = far_task("crt_seen_by_chromium");
    let resp = http
        .put(format!("{base}/api/v1/queues/renewals/tasks"))
        .bearer_auth(&token)
        .header("x-task-run-at", &run_at)
        .json(&body)
        .send()
        .await
        .expect("push");
    assert_eq!(resp.status(), 200);
    // The task's id, which the board's queue page shows (shortened) in its "Pending" tab.
    let listed = tasks(&http, &base, &token).await;
    let task = listed
        .iter()
        .find(|t| t["args"]["certificate_id"] == "crt_seen_by_chromium")
        .unwrap_or_else(|| panic!("pushed task not listed: {listed:?}"));
    let task_id = task["ctx"]["task_id"]
        .as_str()
        .unwrap_or_else(|| panic!("no task id in {task}"))
        .to_owned();
    let shown_id = &task_id[..10];

    let profile = tempfile::tempdir().expect("profile dir");
    let port = free_port(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let _browser = tokio::process::Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--no-first-run",
            "--disable-dev-shm-usage",
            "--window-size=1280,900",
            "--remote-debugging-address=127.0.0.1",
        ])
        .arg(format!("--remote-debugging-port={port}"))
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("about:blank")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("chromium runs (apt-get install chromium)");

    // The page target's WebSocket, once the browser listens.
    let mut socket = None;
    for _ in 0..150 {
        if let Ok(resp) = http
            .get(format!("http://127.0.0.1:{port}/json/list"))
            .send()
            .await
            && let Ok(targets) = resp.json::<Vec<Value>>().await
            && let Some(url) = targets
                .iter()
                .find(|t| t["type"] == "page")
                .and_then(|t| t["webSocketDebuggerUrl"].as_str())
        {
            socket = Some(url.to_owned());
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let socket = socket.expect("chromium's DevTools endpoint");
    let (ws, _) = tokio_tungstenite::connect_async(socket.as_str())
        .await
        .expect("devtools connect");
    let mut page = DevTools { ws, next_id: 0 };

    // The board's root sends the browser to the login form.
    page.call("Page.navigate", json!({"url": format!("{base}/")}))
        .await;
    let mut at = Value::Null;
    for _ in 0..100 {
        at = page
            .eval("location.pathname + '|' + !!document.getElementById('login')")
            .await;
        if at == "/login|true" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(at, "/login|true");

    // Log in through the form.
    let fill = format!(
        "document.getElementById('token').value = {}; document.getElementById('login').submit(); true",
        serde_json::to_string(&token).expect("json")
    );
    page.eval(&fill).await;

    // The board loads (its wasm app renders) and shows the renewal queue.
    let mut text = String::new();
    for _ in 0..300 {
        let state = page
            .eval("location.pathname + '|' + (document.body ? document.body.innerText : '')")
            .await;
        text = state.as_str().unwrap_or_default().to_owned();
        if !text.starts_with("/login") && text.contains("renewals") && text.contains("scans") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        !text.starts_with("/login") && text.contains("renewals") && text.contains("scans"),
        "the board did not show the renewal and scan queues: {text}"
    );
    // The session cookie is HttpOnly: the page's script cannot read it.
    let cookies = page.eval("document.cookie").await;
    assert!(
        !cookies
            .as_str()
            .unwrap_or_default()
            .contains("sv_admin_session"),
        "{cookies}"
    );

    // The renewal queue's page lists the pushed task.
    page.call(
        "Page.navigate",
        json!({"url": format!("{base}/queues/renewals")}),
    )
    .await;
    // Its "Pending" tab lists the (far-future) task.
    let click_pending = "(() => { const tab = [...document.querySelectorAll('a, button, li, span')]\
        .find(e => e.textContent.trim() === 'Pending'); if (tab) { tab.click(); return true; } \
        return false; })()";
    let mut text = String::new();
    for _ in 0..300 {
        page.eval(click_pending).await;
        let state = page
            .eval("document.body ? document.body.innerText : ''")
            .await;
        text = state.as_str().unwrap_or_default().to_owned();
        if text.contains(shown_id) && text.contains("Pending") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let shot = page
        .call("Page.captureScreenshot", json!({"format": "png"}))
        .await;
    let png = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        shot["data"].as_str().expect("screenshot data"),
    )
    .expect("base64");
    assert!(png.starts_with(b"\x89PNG"), "not a PNG");
    let shot_path = std::env::temp_dir().join("scaivault-admin-dashboard.png");
    std::fs::write(&shot_path, &png).expect("write screenshot");
    assert!(
        text.contains(shown_id),
        "the renewal queue's page did not list task {task_id} (screenshot: {}): {text}",
        shot_path.display()
    );
}
