//! The job board (apalis-board, inside the admin console on `[server] admin_listen`) end to end:
//! refused without auth (401 for its API, a redirect to `/login` for pages, its PUT push route
//! included), served with the admin token as bearer or after logging in with the form (HttpOnly,
//! SameSite=Strict session cookie), and the login page rendered by a headless Chromium. The
//! console's own pages are tested in `tests/console.rs`.

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
        .get(format!("{base}/queues"))
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
        .get(format!("{base}/queues"))
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

    // After logout the session is gone. Logging out is a console form: it carries the
    // session's CSRF token, which every console page embeds.
    let resp = http
        .post(format!("{base}/logout"))
        .header("cookie", &pair)
        .send()
        .await
        .expect("logout without the CSRF token");
    assert_eq!(resp.status(), 403, "a form post without the CSRF token");
    let overview = http
        .get(format!("{base}/"))
        .header("cookie", &pair)
        .send()
        .await
        .expect("overview")
        .text()
        .await
        .expect("overview body");
    let csrf = common::csrf_token(&overview);
    let resp = http
        .post(format!("{base}/logout"))
        .header("cookie", &pair)
        .form(&[("csrf", csrf.as_str())])
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

    // Without a session, the console's root redirects the browser to the login form.
    let dom = chromium(profile.path(), &["--dump-dom", &format!("{base}/")]).await;
    assert!(dom.contains(r#"<form id="login""#), "{dom}");
    assert!(!dom.contains("Apalis Board"), "{dom}");
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

    let mut page = common::browser::Browser::start(1280, 900).await;

    // The console's root sends the browser to the login form.
    page.navigate(&format!("{base}/")).await;
    page.wait_for(
        "location.pathname === '/login' && !!document.getElementById('login')",
        Duration::from_secs(10),
        "the login form",
    )
    .await;

    // Log in through the form.
    page.fill("token", &token).await;
    page.submit("login").await;

    // The console's overview comes first; its "Jobs" entry leads to the board, which loads
    // (its wasm app renders) on the renewal queue's page.
    page.wait_for(
        "!!document.getElementById('counts')",
        Duration::from_secs(10),
        "the overview",
    )
    .await;
    page.navigate(&format!("{base}/jobs")).await;
    page.wait_for(
        "location.pathname === '/queues/renewals' && document.body.innerText.includes('Pending')",
        Duration::from_secs(30),
        "the board's renewal queue",
    )
    .await;
    // The session cookie is HttpOnly: the page's script cannot read it.
    let cookies = page.eval("document.cookie").await;
    assert!(
        !cookies
            .as_str()
            .unwrap_or_default()
            .contains("sv_admin_session"),
        "{cookies}"
    );

    // The renewal queue's "Pending" tab lists the (far-future) task.
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
    let shot_path = page
        .screenshot(&std::env::temp_dir(), "scaivault-admin-dashboard")
        .await;
    assert!(
        text.contains(shown_id),
        "the renewal queue's page did not list task {task_id} (screenshot: {}): {text}",
        shot_path.display()
    );
}
