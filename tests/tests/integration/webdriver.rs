//! A small W3C WebDriver client over HTTP, enough to drive headless Chromium through
//! chromedriver like a person: open a page, find by CSS, click, type, read text, take a
//! screenshot. (The protocol is JSON over HTTP; a client crate would bring far more.)
//!
//! The browser is Debian's `chromium` with its `chromium-driver` (`make test` installs both);
//! when they are missing the test fails with a message saying so: it never skips.

use std::process::Stdio;
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};
use tokio::process::{Child, Command};

/// The W3C key of an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
/// How long a wait for an element or a text may take: long, since only a failure waits it out.
const WAIT: Duration = Duration::from_secs(20);

pub struct Browser {
    http: reqwest::Client,
    session: String,
    driver: Child,
}

pub struct Element<'a> {
    browser: &'a Browser,
    id: String,
}

fn find_binary(env: &str, candidates: &[&str]) -> String {
    if let Ok(path) = std::env::var(env) {
        return path;
    }
    candidates.iter().find(|p| std::path::Path::new(p).exists()).map(|p| p.to_string()).unwrap_or_else(|| {
        panic!(
            "headless Chromium is needed for the console tests and was not found ({}): \
             `make test` installs Debian's chromium and chromium-driver as root; or set {env}",
            candidates.join(", ")
        )
    })
}

impl Browser {
    /// Starts chromedriver and a headless Chromium session.
    pub async fn start() -> Self {
        let driver_bin = find_binary("HOOKLINE_CHROMEDRIVER", &["/usr/bin/chromedriver"]);
        let chromium = find_binary("HOOKLINE_CHROMIUM", &["/usr/bin/chromium", "/usr/bin/chromium-browser"]);
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("free port");
            l.local_addr().expect("addr").port()
        };
        let driver = Command::new(&driver_bin)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {driver_bin}: {e}"));
        let http = reqwest::Client::new();
        let base = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        while http.get(format!("{base}/status")).send().await.is_err() {
            assert!(started.elapsed() < WAIT, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--window-size=1280,900", "--force-device-scale-factor=1"]
            }
        }}});
        let reply: Value = http
            .post(format!("{base}/session"))
            .json(&capabilities)
            .send()
            .await
            .expect("new session")
            .json()
            .await
            .expect("session json");
        let session = reply["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("chromedriver refused a session: {reply}"))
            .to_string();
        Self { http, session: format!("{base}/session/{session}"), driver }
    }

    async fn command(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self.http.request(method, format!("{}{path}", self.session));
        if let Some(body) = body {
            req = req.json(&body);
        }
        let reply: Value = req.send().await.expect("webdriver call").json().await.expect("webdriver json");
        reply["value"].clone()
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        self.command(reqwest::Method::POST, path, Some(body)).await
    }

    pub async fn open(&self, url: &str) {
        self.post("/url", json!({"url": url})).await;
    }

    pub async fn url(&self) -> String {
        self.command(reqwest::Method::GET, "/url", None).await.as_str().unwrap_or_default().to_string()
    }

    /// The visible elements `css` matches now.
    pub async fn all(&self, css: &str) -> Vec<Element<'_>> {
        let found = self.post("/elements", json!({"using": "css selector", "value": css})).await;
        let mut visible = Vec::new();
        for id in found.as_array().into_iter().flatten().filter_map(|e| e[ELEMENT].as_str()) {
            let element = Element { browser: self, id: id.to_string() };
            if element.displayed().await {
                visible.push(element);
            }
        }
        visible
    }

    /// The first visible element `css` matches, waiting for it to appear.
    pub async fn find(&self, css: &str) -> Element<'_> {
        let started = Instant::now();
        loop {
            if let Some(e) = self.all(css).await.into_iter().next() {
                return e;
            }
            assert!(started.elapsed() < WAIT, "no visible element {css:?} on {}", self.url().await);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Clicks the first visible `css` element; found again if the page redrew it meanwhile.
    pub async fn click(&self, css: &str) {
        let started = Instant::now();
        loop {
            let reply = self.find(css).await.try_click().await;
            if reply.is_null() {
                return;
            }
            let stale = reply["error"] == "stale element reference";
            assert!(stale && started.elapsed() < WAIT, "click on {css:?} failed: {}", reply["message"]);
        }
    }

    /// Chooses `value` in the first visible `css` `<select>`, likewise.
    pub async fn select(&self, css: &str, value: &str) {
        let started = Instant::now();
        loop {
            let reply = self.find(css).await.try_select(value).await;
            if reply.is_null() {
                return;
            }
            let stale = reply["error"] == "stale element reference";
            assert!(stale && started.elapsed() < WAIT, "choosing {value:?} in {css:?} failed: {reply}");
        }
    }

    /// A DOM property of the first visible `css` element, likewise.
    pub async fn property(&self, css: &str, name: &str) -> Value {
        let started = Instant::now();
        loop {
            let e = self.find(css).await;
            let reply: Value =
                e.browser.command(reqwest::Method::GET, &e.path(&format!("/property/{name}")), None).await;
            let stale = reply.get("error").is_some_and(|e| e == "stale element reference");
            if !stale {
                return reply;
            }
            assert!(started.elapsed() < WAIT, "reading {name} of {css:?} failed: {reply}");
        }
    }

    /// Types `text` into the first visible `css` field (replacing its value), likewise.
    pub async fn fill(&self, css: &str, text: &str) {
        let started = Instant::now();
        loop {
            let field = self.find(css).await;
            let cleared = field.browser.post(&field.path("/clear"), json!({})).await;
            let typed = if cleared.is_null() {
                field.browser.post(&field.path("/value"), json!({"text": text})).await
            } else {
                cleared
            };
            if typed.is_null() {
                return;
            }
            let stale = typed["error"] == "stale element reference";
            assert!(stale && started.elapsed() < WAIT, "typing into {css:?} failed: {}", typed["message"]);
        }
    }

    /// Waits until the first visible `css` element's text contains `text`; returns the text.
    pub async fn wait_text(&self, css: &str, text: &str) -> String {
        let started = Instant::now();
        loop {
            for e in self.all(css).await {
                let got = e.text().await;
                if got.contains(text) {
                    return got;
                }
            }
            if started.elapsed() > WAIT {
                let seen: Vec<String> = futures::future::join_all(self.all(css).await.iter().map(Element::text)).await;
                panic!("no {css:?} with text {text:?}; saw {seen:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until no visible element matches `css`.
    pub async fn wait_gone(&self, css: &str) {
        let started = Instant::now();
        while !self.all(css).await.is_empty() {
            assert!(started.elapsed() < WAIT, "{css:?} is still shown");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A PNG of the window.
    pub async fn screenshot(&self, path: &std::path::Path) {
        let png = self.command(reqwest::Method::GET, "/screenshot", None).await;
        let bytes = base64::engine::general_purpose::STANDARD.decode(png.as_str().expect("png")).expect("base64");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("screenshot dir");
        }
        std::fs::write(path, bytes).expect("write screenshot");
    }

    pub async fn quit(mut self) {
        self.command(reqwest::Method::DELETE, "", None).await;
        let _ = self.driver.kill().await;
    }
}

impl Element<'_> {
    fn path(&self, rest: &str) -> String {
        format!("/element/{}{rest}", self.id)
    }

    /// Clicks; the driver's error (a stale element, say) when it could not.
    async fn try_click(&self) -> Value {
        self.browser.post(&self.path("/click"), json!({})).await
    }

    pub async fn text(&self) -> String {
        let v = self.browser.command(reqwest::Method::GET, &self.path("/text"), None).await;
        v.as_str().unwrap_or_default().to_string()
    }

    async fn displayed(&self) -> bool {
        self.browser.command(reqwest::Method::GET, &self.path("/displayed"), None).await == json!(true)
    }

    /// Chooses the `<option>` of this `<select>` whose value is `value`; the driver's error
    /// when it could not.
    async fn try_select(&self, value: &str) -> Value {
        let option = self
            .browser
            .post(&self.path("/element"), json!({"using": "css selector", "value": format!("option[value='{value}']")}))
            .await;
        match option[ELEMENT].as_str() {
            Some(id) => Element { browser: self.browser, id: id.to_string() }.try_click().await,
            None => option,
        }
    }
}
