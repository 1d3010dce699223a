//! The test harness: `TestApp::spawn` builds the real application on 127.0.0.1:0 against a
//! fresh database (`courier_test_<uuid>`) and Redis prefix (`courier_test:<uuid>:`).

use std::collections::HashMap;
use std::future::Future;
use std::time::{Duration, Instant};

use awc::http::StatusCode;
use courier::settings::Settings;
use courier::startup::Application;
use courier_actors::engine::Engine;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;
use sha2::Sha256;
use sqlx::PgPool;
use uuid::Uuid;

pub const API_KEY: &str = "test-api-key-0123456789";

/// The Postgres server tests create databases on (`TEST_DATABASE_SERVER`).
pub fn db_server() -> String {
    std::env::var("TEST_DATABASE_SERVER")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

pub fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

pub struct TestApp {
    pub base: String,
    pub db: PgPool,
    pub redis_prefix: String,
    pub client: awc::Client,
    /// The running engine, to step background work (flush, sweep, retention).
    pub engine: Engine,
    /// The settings it was built from, so `start_again` can build it again.
    vars: HashMap<String, String>,
    server: actix_web::dev::ServerHandle,
}

/// An answer: status, headers we look at, and the body parsed as JSON (`Null` when empty).
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: awc::http::header::HeaderMap,
    pub body: Value,
    pub raw: Vec<u8>,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    pub fn code(&self) -> &str {
        self.body.get("code").and_then(Value::as_str).unwrap_or("")
    }
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(&[]).await
    }

    /// Spawns with extra environment settings on top of the test defaults.
    pub async fn spawn_with(extra: &[(&str, &str)]) -> Self {
        let id = Uuid::new_v4().simple().to_string();
        let db_name = format!("courier_test_{id}");
        let redis_prefix = format!("courier_test:{id}:");
        let mut vars: HashMap<String, String> = [
            ("COURIER_BIND", "127.0.0.1:0".to_owned()),
            ("DATABASE_URL", format!("{}/{db_name}", db_server())),
            ("REDIS_URL", redis_url()),
            ("COURIER_REDIS_PREFIX", redis_prefix.clone()),
            ("COURIER_API_KEY", API_KEY.to_owned()),
            ("COURIER_ALLOW_PRIVATE_TARGETS", "true".to_owned()),
            ("COURIER_WORKERS", "1".to_owned()),
            ("COURIER_DB_POOL_SIZE", "8".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        for (k, v) in extra {
            vars.insert((*k).to_owned(), (*v).to_owned());
        }
        let (base, engine, server) = Self::start(&vars).await;
        let db = PgPool::connect(&format!("{}/{db_name}", db_server()))
            .await
            .expect("test db connects");
        let client = awc::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .finish();
        Self {
            base,
            db,
            redis_prefix,
            client,
            engine,
            vars,
            server,
        }
    }

    async fn start(
        vars: &HashMap<String, String>,
    ) -> (String, Engine, actix_web::dev::ServerHandle) {
        let settings = Settings::from_map(vars).expect("test settings are valid");
        let app = Application::build(settings)
            .await
            .expect("application builds");
        let base = format!("http://127.0.0.1:{}", app.port());
        let engine = app.engine();
        let server = app.handle();
        actix_web::rt::spawn(app.run_until_stopped());
        (base, engine, server)
    }

    /// Stops the server and its engine (gracefully: attempts in flight finish and are written).
    pub async fn stop(&mut self) {
        self.server.stop(true).await;
        self.engine.shutdown().await;
    }

    /// Starts a new server on the same database and Redis prefix, as a restarted process would.
    pub async fn start_again(&mut self) {
        let (base, engine, server) = Self::start(&self.vars).await;
        self.base = base;
        self.engine = engine;
        self.server = server;
    }

    /// A second node on the same database and Redis prefix, named `node_id`.
    pub async fn peer(&self, node_id: &str) -> TestApp {
        let mut vars = self.vars.clone();
        vars.insert("COURIER_NODE_ID".into(), node_id.into());
        let (base, engine, server) = Self::start(&vars).await;
        TestApp {
            base,
            db: self.db.clone(),
            redis_prefix: self.redis_prefix.clone(),
            client: awc::Client::builder()
                .timeout(std::time::Duration::from_secs(30))
                .finish(),
            engine,
            vars,
            server,
        }
    }

    pub fn engine(&self) -> Engine {
        self.engine.clone()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends a request with the API key; `body` is sent as raw bytes when given.
    pub async fn call(&self, method: &str, path: &str, body: Option<&[u8]>) -> Answer {
        self.call_with(
            method,
            path,
            body,
            &[("Authorization", &format!("Bearer {API_KEY}"))],
        )
        .await
    }

    pub async fn call_with(
        &self,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
        headers: &[(&str, &str)],
    ) -> Answer {
        let method = awc::http::Method::from_bytes(method.as_bytes()).expect("valid method");
        let mut req = self.client.request(method, self.url(path));
        for (k, v) in headers {
            req = req.insert_header((*k, *v));
        }
        let mut resp = match body {
            Some(b) => {
                req.content_type("application/json")
                    .send_body(b.to_vec())
                    .await
            }
            None => req.send().await,
        }
        .expect("request reaches the server");
        let raw = resp
            .body()
            .limit(16 << 20)
            .await
            .expect("body reads")
            .to_vec();
        let body = if raw.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&raw).unwrap_or(Value::Null)
        };
        Answer {
            status: resp.status(),
            headers: resp.headers().clone(),
            body,
            raw,
        }
    }

    pub async fn post(&self, path: &str, body: &Value) -> Answer {
        self.call("POST", path, Some(body.to_string().as_bytes()))
            .await
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.call("GET", path, None).await
    }

    /// Creates a subscription and returns its JSON (with the secret).
    pub async fn create_subscription(&self, body: Value) -> Value {
        let a = self.post("/subscriptions/", &body).await;
        assert_eq!(a.status, StatusCode::CREATED, "create failed: {:?}", a.body);
        a.body
    }

    /// A fingerprint of every table's contents, to prove a bad request changed nothing.
    pub async fn snapshot(&self) -> String {
        let mut out = String::new();
        for table in [
            "subscriptions",
            "messages",
            "deliveries",
            "attempts",
            "idempotency_keys",
        ] {
            let sql = format!(
                "SELECT coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') FROM {table} t"
            );
            let h: String = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .fetch_one(&self.db)
                .await
                .expect("snapshot");
            out.push_str(&format!("{table}={h};"));
        }
        out
    }
}

pub fn id_of(v: &Value) -> String {
    v["id"].as_str().expect("id is a string").to_owned()
}

/// Polls `check` every 20 ms until it yields `Some`, or panics after `within` naming `what`.
pub async fn eventually<T, F, Fut>(what: &str, within: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {within:?} waiting for {what}"
        );
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `sha256=<hex HMAC-SHA256(key, body)>`, as GitHub and the original service's clients sign.
pub fn hub_signature(key: &[u8], body: &[u8]) -> String {
    format!("sha256={}", hex::encode(hmac_sha256(key, body)))
}

pub fn hmac_sha256(key: &[u8], body: &[u8]) -> Vec<u8> {
    let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("any key length");
    m.update(body);
    m.finalize().into_bytes().to_vec()
}

pub fn auth_header() -> String {
    format!("Bearer {API_KEY}")
}

impl TestApp {
    /// Per-subscription raw ingest with the API key (for subscriptions without a client secret).
    /// Ingests `{"i": 0}` … `{"i": n-1}` as `a.b` events and returns their task ids.
    pub async fn ingest_numbered(&self, sub_id: &str, n: usize) -> Vec<String> {
        let mut tasks = Vec::with_capacity(n);
        for i in 0..n {
            tasks.push(task_of(
                &self
                    .ingest(sub_id, "a.b", format!("{{\"i\":{i}}}").as_bytes())
                    .await,
            ));
        }
        tasks
    }

    pub async fn ingest(&self, sub_id: &str, event_type: &str, body: &[u8]) -> Answer {
        self.call(
            "POST",
            &format!("/ingest/{sub_id}?event_type={event_type}"),
            Some(body),
        )
        .await
    }

    /// Per-subscription raw ingest signed with `secret` (a subscription created with one).
    pub async fn ingest_signed(
        &self,
        sub_id: &str,
        event_type: &str,
        secret: &str,
        body: &[u8],
    ) -> Answer {
        let sig = hub_signature(secret.as_bytes(), body);
        self.call_with(
            "POST",
            &format!("/ingest/{sub_id}?event_type={event_type}"),
            Some(body),
            &[("X-Hub-Signature-256", &sig)],
        )
        .await
    }

    /// `GET /deliveries/{id}`, asserting 200.
    pub async fn delivery(&self, task_id: &str) -> Value {
        let a = self.get(&format!("/deliveries/{task_id}")).await;
        assert_eq!(a.status, StatusCode::OK, "delivery {task_id}: {:?}", a.body);
        a.body
    }

    /// Waits until the delivery has `status` (and its outcome is written), and returns it.
    pub async fn wait_for_status(&self, task_id: &str, status: &str, within: Duration) -> Value {
        let what = format!("delivery {task_id} to be {status}");
        eventually(&what, within, || async {
            self.engine.flush().await;
            let d = self.delivery(task_id).await;
            (d["status"] == status).then_some(d)
        })
        .await
    }

    /// How many rows `sql` (a `SELECT count(*) ...`) counts.
    pub async fn count(&self, sql: &'static str) -> i64 {
        sqlx::query_scalar(sql)
            .fetch_one(&self.db)
            .await
            .expect("count query")
    }
}

/// The task id (delivery id) of a per-subscription ingest answer.
pub fn task_of(answer: &Answer) -> String {
    assert_eq!(
        answer.status,
        StatusCode::ACCEPTED,
        "ingest not accepted: {:?}",
        answer.body
    );
    answer.body["task_id"]
        .as_str()
        .expect("task_id is a string")
        .to_owned()
}

impl TestApp {
    /// Sends a request with `Authorization: Bearer <bearer>` and a JSON body when given.
    pub async fn call_as(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        bearer: &str,
    ) -> Answer {
        let auth = format!("Bearer {bearer}");
        let body = body.map(Value::to_string);
        self.call_with(
            method,
            path,
            body.as_deref().map(str::as_bytes),
            &[("Authorization", &auth)],
        )
        .await
    }

    /// Creates an application with the bootstrap key and returns its JSON.
    pub async fn create_application(&self, uid: &str) -> Value {
        let a = self
            .post(
                "/applications",
                &serde_json::json!({"uid": uid, "name": uid}),
            )
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "create app: {:?}", a.body);
        a.body
    }

    /// Creates a named API key with the bootstrap key; returns its JSON and its token.
    pub async fn create_key(&self, body: Value) -> (Value, String) {
        let a = self.post("/api-keys", &body).await;
        assert_eq!(a.status, StatusCode::CREATED, "create key: {:?}", a.body);
        let token = a.body["key"].as_str().expect("key is shown").to_owned();
        (a.body, token)
    }

    /// A second node on the same database and Redis prefix with some settings changed.
    pub async fn peer_with(&self, node_id: &str, extra: &[(&str, &str)]) -> TestApp {
        let mut vars = self.vars.clone();
        vars.insert("COURIER_NODE_ID".into(), node_id.into());
        for (k, v) in extra {
            vars.insert((*k).to_owned(), (*v).to_owned());
        }
        let (base, engine, server) = Self::start(&vars).await;
        TestApp {
            base,
            db: self.db.clone(),
            redis_prefix: self.redis_prefix.clone(),
            client: awc::Client::builder()
                .timeout(std::time::Duration::from_secs(30))
                .finish(),
            engine,
            vars,
            server,
        }
    }
}

/// The `name=value` part of an answer's session cookie.
pub fn session_cookie_of(answer: &Answer) -> String {
    let set = answer.header("set-cookie").expect("a Set-Cookie header");
    set.split(';').next().expect("name=value").trim().to_owned()
}
