//! Ordering keys through `kill -9`: five keys, each ingested in sequence by its own client
//! while the server is killed and restarted; a receiver failing a share of first attempts and
//! answering slowly. Per key, what arrives must never go back in sequence (a repeat of the
//! same number is an at-least-once duplicate, allowed and counted).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde_json::{Value, json};

use crate::harness::{API_KEY, Courier, TestDb, create_subscription, report};

/// Arrivals as `(key, seq)`, in order.
#[derive(Clone, Default)]
struct OrderedReceiver {
    arrivals: Arc<Mutex<Vec<(String, u64)>>>,
}

async fn receive(
    req: HttpRequest,
    body: web::Bytes,
    rx: web::Data<OrderedReceiver>,
) -> HttpResponse {
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let key = v["key"].as_str().unwrap_or("").to_owned();
    let seq = v["seq"].as_u64().unwrap_or(u64::MAX);
    let first = req
        .headers()
        .get("x-courier-attempt")
        .is_some_and(|a| a.as_bytes() == b"1");
    if let Ok(mut a) = rx.arrivals.lock() {
        a.push((key, seq));
    }
    tokio::time::sleep(Duration::from_millis(seq % 7 * 3)).await;
    if first && seq % 5 == 2 {
        return HttpResponse::InternalServerError().body("first attempts of every fifth fail");
    }
    HttpResponse::Ok().body("ok")
}

impl OrderedReceiver {
    fn serve(&self) -> String {
        let data = web::Data::new(self.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .default_service(web::to(receive))
        })
        .workers(2)
        .disable_signals()
        .bind(("127.0.0.1", 0))
        .expect("receiver binds");
        let port = server.addrs()[0].port();
        actix_web::rt::spawn(server.run());
        format!("http://127.0.0.1:{port}/hook")
    }

    fn arrivals(&self) -> Vec<(String, u64)> {
        self.arrivals.lock().map(|a| a.clone()).unwrap_or_default()
    }
}

/// Ingests `seq` 0..count for `key`, one after another, each retried until answered 202.
async fn ingest_key(base: String, sub: String, key: String, count: u64) -> u64 {
    let client = awc::Client::builder()
        .timeout(Duration::from_secs(5))
        .finish();
    let mut accepted = 0;
    for seq in 0..count {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            let sent = client
                .post(format!(
                    "{base}/ingest/{sub}?event_type=order.step&ordering_key={key}"
                ))
                .insert_header(("Authorization", format!("Bearer {API_KEY}")))
                .send_json(&json!({"key": key, "seq": seq}))
                .await;
            if sent.is_ok_and(|r| r.status().as_u16() == 202) {
                accepted += 1;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    accepted
}

#[actix_web::test]
async fn ordering_keys_keep_their_order_through_kill_9() {
    let db = TestDb::new();
    let rx = OrderedReceiver::default();
    let target = rx.serve();
    let mut courier = Courier::new(&db.url(), "redis://127.0.0.1:6379", &[]);
    courier.start().await;
    let sub = create_subscription(&courier.base(), &target).await;
    let keys: Vec<String> = (0..5).map(|k| format!("acct-{k}")).collect();
    const PER_KEY: u64 = 60;
    let loaders: Vec<_> = keys
        .iter()
        .map(|k| actix_web::rt::spawn(ingest_key(courier.base(), sub.clone(), k.clone(), PER_KEY)))
        .collect();
    tokio::time::sleep(Duration::from_millis(700)).await;
    courier.kill9();
    tokio::time::sleep(Duration::from_millis(300)).await;
    courier.start().await;
    for l in loaders {
        assert_eq!(
            l.await.unwrap_or(0),
            PER_KEY,
            "every ingest was answered 202 in the end"
        );
    }
    let deadline = Instant::now() + Duration::from_secs(90);
    let complete = |a: &[(String, u64)]| {
        keys.iter()
            .all(|k| a.iter().any(|(ak, s)| ak == k && *s == PER_KEY - 1))
    };
    while !complete(&rx.arrivals()) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let arrivals = rx.arrivals();
    let mut last: HashMap<&str, u64> = HashMap::new();
    let mut repeats = 0;
    for (key, seq) in &arrivals {
        match last.insert(key.as_str(), *seq) {
            Some(prev) if *seq < prev => panic!("{key}: {seq} arrived after {prev}"),
            Some(prev) if *seq == prev => repeats += 1,
            _ => {}
        }
    }
    for k in &keys {
        let rows: Vec<(String, i32, i64)> = sqlx::query_as(
            "SELECT status, attempt_count, count(*) FROM deliveries WHERE ordering_key = $1 \
             GROUP BY 1, 2 ORDER BY 1, 2",
        )
        .bind(k)
        .fetch_all(&db.pool().await)
        .await
        .unwrap_or_default();
        let firsts: Vec<(
            uuid::Uuid,
            String,
            i32,
            Option<chrono::DateTime<chrono::Utc>>,
        )> = sqlx::query_as(
            "SELECT id, status, attempt_count, next_attempt_at FROM deliveries \
             WHERE ordering_key = $1 AND status <> 'succeeded' ORDER BY id LIMIT 3",
        )
        .bind(k)
        .fetch_all(&db.pool().await)
        .await
        .unwrap_or_default();
        report(&format!(
            "ordering keys through kill -9: {k}: {rows:?}; first unfinished {firsts:?}"
        ));
    }
    for k in &keys {
        let got: std::collections::BTreeSet<u64> = arrivals
            .iter()
            .filter(|(ak, _)| ak == k)
            .map(|(_, s)| *s)
            .collect();
        assert_eq!(
            got.len() as u64,
            PER_KEY,
            "{k}: every step arrived; log:\n{}",
            courier.log_text()
        );
    }
    report(&format!(
        "ordering keys through kill -9: 5 keys x {PER_KEY} in order | arrivals {} | repeats (retries of a failed first attempt, or resent after the crash) {repeats}",
        arrivals.len()
    ));
}
