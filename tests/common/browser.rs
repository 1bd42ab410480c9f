//! A headless Chromium (Debian's `chromium`) driven over the DevTools protocol: navigate,
//! evaluate script in the page, wait for a condition, take screenshots.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// One browser with one page; the process ends when this is dropped.
pub struct Browser {
    ws: Socket,
    next_id: u64,
    _process: tokio::process::Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts Chromium with a `width`×`height` window and connects to its page.
    pub async fn start(width: u32, height: u32) -> Browser {
        let profile = tempfile::tempdir().expect("profile dir");
        let port = scaivault_testkit::free_port(IpAddr::V4(Ipv4Addr::LOCALHOST));
        let process = tokio::process::Command::new("chromium")
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--no-first-run",
                "--disable-dev-shm-usage",
                "--remote-debugging-address=127.0.0.1",
            ])
            .arg(format!("--window-size={width},{height}"))
            .arg(format!("--remote-debugging-port={port}"))
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("chromium runs (apt-get install chromium)");
        let http = reqwest::Client::new();
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
        Browser {
            ws,
            next_id: 0,
            _process: process,
            _profile: profile,
        }
    }

    /// Sends `method` with `params` and returns its result (events in between are skipped).
    pub async fn call(&mut self, method: &str, params: Value) -> Value {
        match self.try_call(method, params).await {
            Ok(result) => result,
            Err(error) => panic!("{method}: {error}"),
        }
    }

    /// [`Self::call`], with the protocol's error as the `Err` (e.g. the page navigated while a
    /// script ran).
    pub async fn try_call(&mut self, method: &str, params: Value) -> Result<Value, Value> {
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
                return match value.get("error") {
                    Some(error) => Err(error.clone()),
                    None => Ok(value["result"].clone()),
                };
            }
        }
    }

    /// Evaluates `expression` in the page and returns its value.
    pub async fn eval(&mut self, expression: &str) -> Value {
        let result = self
            .call(
                "Runtime.evaluate",
                json!({"expression": expression, "returnByValue": true}),
            )
            .await;
        result["result"]["value"].clone()
    }

    /// Opens `url`.
    pub async fn navigate(&mut self, url: &str) {
        self.call("Page.navigate", json!({ "url": url })).await;
    }

    /// Polls `expression` until it is truthy (a page may be loading: errors count as false);
    /// returns its value, or panics with `what` and the page's text after `within`.
    pub async fn wait_for(&mut self, expression: &str, within: Duration, what: &str) -> Value {
        let deadline = tokio::time::Instant::now() + within;
        let guarded = format!(
            "(() => {{ try {{ return ({expression}); }} catch (e) {{ return null; }} }})()"
        );
        loop {
            // A page that navigates while the script runs answers with an error: not yet.
            let value = self
                .try_call(
                    "Runtime.evaluate",
                    json!({"expression": guarded, "returnByValue": true}),
                )
                .await
                .map(|result| result["result"]["value"].clone())
                .unwrap_or(Value::Null);
            let truthy = match &value {
                Value::Null => false,
                Value::Bool(b) => *b,
                Value::String(s) => !s.is_empty(),
                Value::Number(n) => n.as_f64() != Some(0.0),
                _ => true,
            };
            if truthy {
                return value;
            }
            if tokio::time::Instant::now() >= deadline {
                let text = self
                    .eval("location.href + '\\n' + (document.body ? document.body.innerText : '')")
                    .await;
                panic!("{what}: not seen within {within:?}; page: {text}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Sets the value of the form field `id` (an input, select or textarea).
    pub async fn fill(&mut self, id: &str, value: &str) {
        let script = format!(
            "(() => {{ const e = document.getElementById({}); e.value = {}; return e.value; }})()",
            json!(id),
            json!(value)
        );
        assert_eq!(self.eval(&script).await, json!(value), "field {id}");
    }

    /// Submits the form `id` as its submit button would (the browser's own submission).
    pub async fn submit(&mut self, id: &str) {
        self.navigate_by(&format!(
            "document.getElementById({}).requestSubmit()",
            json!(id)
        ))
        .await;
    }

    /// Clicks the element `id` (a link, a button).
    pub async fn click(&mut self, id: &str) {
        self.navigate_by(&format!("document.getElementById({}).click()", json!(id)))
            .await;
    }

    /// Runs `script`, which starts a navigation (a form submitted, a link followed): the page
    /// may be gone before it answers.
    pub async fn navigate_by(&mut self, script: &str) {
        let answer = self
            .try_call(
                "Runtime.evaluate",
                json!({"expression": format!("{script}; true"), "returnByValue": true}),
            )
            .await;
        if let Ok(result) = answer {
            assert!(
                result.get("exceptionDetails").is_none(),
                "{script}: {result}"
            );
        }
    }

    /// Saves a PNG of the page to `dir/name.png` and returns its path.
    pub async fn screenshot(&mut self, dir: &Path, name: &str) -> PathBuf {
        let shot = self
            .call("Page.captureScreenshot", json!({"format": "png"}))
            .await;
        let png = base64::Engine::decode(
            &base64::engine::general_purpose::STANDARD,
            shot["data"].as_str().expect("screenshot data"),
        )
        .expect("base64");
        assert!(png.starts_with(b"\x89PNG"), "not a PNG");
        std::fs::create_dir_all(dir).expect("screenshot dir");
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, &png).expect("write screenshot");
        path
    }
}
