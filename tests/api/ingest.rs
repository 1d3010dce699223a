//! Ingestion, success paths: the original service's documented flow, the three ingest forms,
//! signatures on the way in, byte-for-byte payloads, fan-out filters and idempotency.

use std::time::Duration;

use awc::http::StatusCode;
use serde_json::{Value, json};

use crate::receiver::Receiver;
use crate::support::{TestApp, auth_header, hub_signature, id_of, task_of};

const WAIT: Duration = Duration::from_secs(10);

#[actix_web::test]
async fn the_original_services_curl_flow_delivers_and_reports_one_successful_attempt() {
    let app = TestApp::spawn().await;
    let rx = Receiver::start().await;
    let sub = app
        .create_subscription(
            json!({"target_url": rx.url("/webhook"), "secret_key": "Pass123",
            "event_types": ["order.created"]}),
        )
        .await;
    let id = id_of(&sub);

    // The README's body, whitespace and all; its clients sign the compact payload JSON.
    let payload = "{    \n          \"order_id\": \"123\",\n          \"amount\": 100\n      }";
    let body = format!(
        "{{\n      \n      \"payload\": {payload},\n      \"event_type\": \"order.created\"\n  }}"
    );
    let sig = hub_signature(b"Pass123", br#"{"order_id":"123","amount":100}"#);
    let a = app
        .call_with(
            "POST",
            &format!("/webhooks/ingest/{id}"),
            Some(body.as_bytes()),
            &[("X-Hub-Signature-256", &sig)],
        )
        .await;
    let task = task_of(&a);
    assert_eq!(a.body["status"], "accepted");
    assert_eq!(a.body["delivery_id"], a.body["task_id"]);
    assert!(a.body["message_id"].is_string());

    let got = rx.wait_for(1, WAIT).await;
    assert_eq!(got[0].path, "/webhook");
    assert_eq!(got[0].body, payload.as_bytes(), "the payload as sent");

    app.engine.flush().await;
    let status = app
        .call_with(
            "GET",
            &format!("/webhooks/status/{task}"),
            None,
            &[("Authorization", &auth_header())],
        )
        .await;
    assert_eq!(status.status, StatusCode::OK);
    let d = app.wait_for_status(&task, "succeeded", WAIT).await;
    assert_eq!(d["attempt_count"], 1);
    assert_eq!(d["event_type"], "order.created");
    assert_eq!(d["subscription_id"], id.as_str());
    assert_eq!(d["payload"], json!({"order_id": "123", "amount": 100}));
    let attempts = d["attempts"].as_array().expect("attempts");
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0]["attempt_number"], 1);
    assert_eq!(attempts[0]["status_code"], 200);
    assert_eq!(attempts[0]["succeeded"], true);
    assert_eq!(attempts[0]["response_body"], "ok");

    let recent = app
        .get(&format!("/subscriptions/{id}/recent-deliveries"))
        .await;
    assert_eq!(recent.status, StatusCode::OK);
    assert_eq!(recent.body[0]["task_id"], task.as_str());
    assert_eq!(recent.body[0]["status"], "succeeded");

    // The seed's other documented form: the raw body is the payload, signed as sent.
    let raw = br#"{"order_id":123, "amount":100}"#;
    let a = app
        .ingest_signed(&id, "order.created", "Pass123", raw)
        .await;
    let task = task_of(&a);
    let got = rx.wait_for(2, WAIT).await;
    assert_eq!(got[1].body, raw);
    let d = app.wait_for_status(&task, "succeeded", WAIT).await;
    assert_eq!(d["attempts"].as_array().map(Vec::len), Some(1));
}

#[actix_web::test]
async fn envelope_ingest_accepts_a_signature_over_the_raw_body_or_python_style_escaped_json() {
    let app = TestApp::spawn().await;
    let rx = Receiver::start().await;
    let id = id_of(
        &app.create_subscription(json!({"target_url": rx.url("/"), "secret": "s3cret-key"}))
            .await,
    );
    let body = "{\"payload\": {\"name\": \"café ☕\", \"n\": 1}, \"event_type\": \"menu.updated\"}";
    let path = format!("/webhooks/ingest/{id}");
    let over_raw = hub_signature(b"s3cret-key", body.as_bytes());
    let python = hub_signature(b"s3cret-key", br#"{"name":"caf\u00e9 \u2615","n":1}"#);
    let wrong = hub_signature(b"s3cret-key", br#"{"name":"cafe","n":1}"#);
    for (sig, expected) in [
        (&over_raw, StatusCode::ACCEPTED),
        (&python, StatusCode::ACCEPTED),
        (&wrong, StatusCode::UNAUTHORIZED),
    ] {
        let a = app
            .call_with(
                "POST",
                &path,
                Some(body.as_bytes()),
                &[("X-Hub-Signature-256", sig)],
            )
            .await;
        assert_eq!(a.status, expected, "{sig}: {:?}", a.body);
    }
    let got = rx.wait_for(2, WAIT).await;
    for r in &got {
        assert_eq!(r.body, "{\"name\": \"café ☕\", \"n\": 1}".as_bytes());
    }
}

#[actix_web::test]
async fn payloads_are_delivered_byte_for_byte_on_every_form_and_every_attempt() {
    let app = TestApp::spawn_with(&[("COURIER_RETRY_SCHEDULE", "150ms")]).await;
    let rx = Receiver::start().await;
    let id = id_of(
        &app.create_subscription(json!({"target_url": rx.url("/")}))
            .await,
    );
    let payload = "  { \"z\" : 1,\n\t\"a\":[ 1 , 2.50 ,1e3, -0 ],  \"u\": \"h\u{e9}llo \u{2713} \u{1F600} \\u00e9 \\\"q\\\"\",\"n\":null,\"big\": 123456789012345678901234567890 }\n";

    rx.set(crate::receiver::Behaviour::script(&[500], 200));
    let raw = task_of(&app.ingest(&id, "odd.bytes", payload.as_bytes()).await);
    let got = rx.wait_for(2, WAIT).await;
    assert_eq!(
        String::from_utf8_lossy(&got[0].body),
        payload,
        "first attempt"
    );
    assert_eq!(
        String::from_utf8_lossy(&got[1].body),
        payload,
        "a retry loaded from Postgres sends the same bytes"
    );
    app.wait_for_status(&raw, "succeeded", WAIT).await;

    let inner = "{ \"b\" :2,   \"a\" : { \"y\":[], \"x\" : {} } }";
    let envelope = format!("{{\"event_type\": \"odd.bytes\", \"payload\": {inner} }}");
    let a = app
        .call(
            "POST",
            &format!("/webhooks/ingest/{id}"),
            Some(envelope.as_bytes()),
        )
        .await;
    task_of(&a);
    let got = rx.wait_for(3, WAIT).await;
    assert_eq!(String::from_utf8_lossy(&got[2].body), inner);

    let fan = format!("{{\"payload\": {inner}, \"event_type\": \"odd.bytes\"}}");
    let a = app.call("POST", "/events", Some(fan.as_bytes())).await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{:?}", a.body);
    let got = rx.wait_for(4, WAIT).await;
    assert_eq!(String::from_utf8_lossy(&got[3].body), inner);

    let message = app
        .get(&format!(
            "/messages/{}",
            a.body["message_id"].as_str().expect("id")
        ))
        .await;
    assert_eq!(message.status, StatusCode::OK);
    assert_eq!(
        message.body["payload"],
        json!({"b": 2, "a": {"y": [], "x": {}}})
    );
    assert_eq!(message.body["event_type"], "odd.bytes");
    assert_eq!(message.body["subscription_id"], Value::Null);
    assert_eq!(message.body["deliveries"].as_array().map(Vec::len), Some(1));
}

#[actix_web::test]
async fn fan_out_reaches_exactly_the_subscriptions_whose_filter_matches() {
    let app = TestApp::spawn().await;
    let (exact, prefix, star, all, other) = (
        Receiver::start().await,
        Receiver::start().await,
        Receiver::start().await,
        Receiver::start().await,
        Receiver::start().await,
    );
    let sub_exact = id_of(
        &app.create_subscription(
            json!({"target_url": exact.url("/"), "event_types": ["order.created"]}),
        )
        .await,
    );
    let sub_other = id_of(
        &app.create_subscription(
            json!({"target_url": other.url("/"), "event_types": ["user.created", "order"]}),
        )
        .await,
    );
    // Nobody wants this one yet: answered, recorded, nothing sent.
    let none = app
        .post(
            "/events",
            &json!({"event_type": "invoice.paid", "payload": {"n": 0}}),
        )
        .await;
    assert_eq!(none.status, StatusCode::ACCEPTED, "{:?}", none.body);
    assert_eq!(none.body["status"], "filtered");
    assert_eq!(none.body["task_id"], json!([]));
    assert_eq!(none.body["deliveries"], json!([]));

    let sub_prefix = id_of(
        &app.create_subscription(
            json!({"target_url": prefix.url("/"), "event_types": ["order.*"]}),
        )
        .await,
    );
    let sub_star = id_of(
        &app.create_subscription(json!({"target_url": star.url("/"), "event_types": ["*"]}))
            .await,
    );
    let sub_all = id_of(
        &app.create_subscription(json!({"target_url": all.url("/"), "event_types": []}))
            .await,
    );

    let a = app
        .post(
            "/events",
            &json!({"event_type": "order.created", "payload": {"n": 1}}),
        )
        .await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{:?}", a.body);
    assert_eq!(a.body["status"], "accepted");
    let mut subs: Vec<String> = a.body["deliveries"]
        .as_array()
        .expect("deliveries")
        .iter()
        .map(|d| d["subscription_id"].as_str().expect("id").to_owned())
        .collect();
    subs.sort();
    let mut expected = vec![
        sub_exact.clone(),
        sub_prefix.clone(),
        sub_star.clone(),
        sub_all.clone(),
    ];
    expected.sort();
    assert_eq!(subs, expected);
    assert_eq!(a.body["task_id"].as_array().map(Vec::len), Some(4));

    // A deeper type matches the prefix, the wildcards, and not the exact filter.
    let b = app
        .post(
            "/events",
            &json!({"event_type": "order.created.eu", "payload": {"n": 2}}),
        )
        .await;
    assert_eq!(b.body["task_id"].as_array().map(Vec::len), Some(3));

    for r in [&prefix, &star, &all] {
        let got = r.wait_for(2, WAIT).await;
        assert_eq!(got.len(), 2);
        // Two separate events: no order between them is promised.
        let mut types: Vec<&str> = got
            .iter()
            .filter_map(|g| g.header("x-courier-event-type"))
            .collect();
        types.sort_unstable();
        assert_eq!(types, ["order.created", "order.created.eu"]);
    }
    let got = exact.wait_for(1, WAIT).await;
    assert_eq!(got[0].body, br#"{"n":1}"#);
    for t in a.body["task_id"].as_array().expect("ids") {
        app.wait_for_status(t.as_str().expect("id"), "succeeded", WAIT)
            .await;
    }
    app.engine.flush().await;
    assert_eq!(exact.count(), 1, "order.created.eu is not order.created");
    assert_eq!(other.count(), 0, "a non-matching subscription gets nothing");
    let log = app
        .get(&format!("/subscriptions/{sub_other}/deliveries"))
        .await;
    assert_eq!(log.body, json!([]));
    assert_eq!(
        app.count("SELECT count(*) FROM messages").await,
        3,
        "the filtered event is recorded too"
    );
}

#[actix_web::test]
async fn an_unwanted_event_type_is_recorded_as_filtered_never_sent_and_auth_comes_first() {
    let app = TestApp::spawn().await;
    let rx = Receiver::start().await;
    let id = id_of(
        &app.create_subscription(json!({"target_url": rx.url("/"), "secret": "filter-secret",
            "event_types": ["order.created"]}))
            .await,
    );
    let before = app.snapshot().await;
    for headers in [
        vec![],
        vec![("X-Hub-Signature-256", "sha256=00")],
        vec![("Authorization", "Bearer test-api-key-0123456789")],
    ] {
        let a = app
            .call_with(
                "POST",
                &format!("/ingest/{id}?event_type=user.deleted"),
                Some(b"{}"),
                &headers,
            )
            .await;
        assert_eq!(
            a.status,
            StatusCode::UNAUTHORIZED,
            "{headers:?}: {:?}",
            a.body
        );
        assert!(
            a.code() == "signature_required" || a.code() == "invalid_signature",
            "{:?}",
            a.body
        );
    }
    assert_eq!(
        app.snapshot().await,
        before,
        "refused requests store nothing"
    );

    let a = app
        .ingest_signed(&id, "user.deleted", "filter-secret", b"{\"u\":1}")
        .await;
    let task = task_of(&a);
    assert_eq!(a.body["status"], "filtered");
    let d = app.delivery(&task).await;
    assert_eq!(d["status"], "filtered");
    assert_eq!(d["attempts"], json!([]));
    assert_eq!(d["event_type"], "user.deleted");

    // A wanted one afterwards goes through, and only it reaches the receiver.
    let ok = task_of(
        &app.ingest_signed(&id, "order.created", "filter-secret", b"{\"o\":1}")
            .await,
    );
    app.wait_for_status(&ok, "succeeded", WAIT).await;
    let got = rx.requests();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].body, b"{\"o\":1}");
    let filtered = app
        .get(&format!("/subscriptions/{id}/deliveries?status=filtered"))
        .await;
    assert_eq!(filtered.body.as_array().map(Vec::len), Some(1));
    assert_eq!(filtered.body[0]["id"], task.as_str());
}

#[actix_web::test]
async fn a_repeated_idempotency_key_returns_the_first_answer_and_creates_nothing() {
    let app = TestApp::spawn().await;
    let rx = Receiver::start().await;
    let id = id_of(
        &app.create_subscription(json!({"target_url": rx.url("/")}))
            .await,
    );
    let path = format!("/ingest/{id}?event_type=order.created");
    let key = auth_header();
    let send = |idem: &'static str, body: &'static [u8]| {
        let (app, path, key) = (&app, path.clone(), key.clone());
        async move {
            app.call_with(
                "POST",
                &path,
                Some(body),
                &[("Authorization", &key), ("Idempotency-Key", idem)],
            )
            .await
        }
    };
    let first = send("order-123", b"{\"n\":1}").await;
    let task = task_of(&first);
    assert_eq!(first.header("idempotent-replayed"), None);
    let again = send("order-123", b"{\"n\":1}").await;
    assert_eq!(again.status, StatusCode::ACCEPTED);
    assert_eq!(again.header("idempotent-replayed").as_deref(), Some("true"));
    assert_eq!(again.body, first.body, "the first answer, unchanged");
    // Even a different body under the same key is the same request as far as we know.
    let third = send("order-123", b"{\"n\":2}").await;
    assert_eq!(third.body["message_id"], first.body["message_id"]);

    app.wait_for_status(&task, "succeeded", WAIT).await;
    assert_eq!(app.count("SELECT count(*) FROM messages").await, 1);
    assert_eq!(app.count("SELECT count(*) FROM deliveries").await, 1);
    assert_eq!(rx.count(), 1, "one delivery arrives");

    let other = send("order-124", b"{\"n\":1}").await;
    let other_task = task_of(&other);
    assert_ne!(other.body["message_id"], first.body["message_id"]);
    app.wait_for_status(&other_task, "succeeded", WAIT).await;
    assert_eq!(app.count("SELECT count(*) FROM messages").await, 2);
    assert_eq!(rx.count(), 2);

    // /events keeps its own keys.
    let fan = |body: Value| {
        let app = &app;
        async move {
            app.call_with(
                "POST",
                "/events",
                Some(body.to_string().as_bytes()),
                &[
                    ("Authorization", &auth_header()),
                    ("Idempotency-Key", "evt-1"),
                ],
            )
            .await
        }
    };
    let e1 = fan(json!({"event_type": "order.created", "payload": {}})).await;
    let e2 = fan(json!({"event_type": "order.created", "payload": {}})).await;
    assert_eq!(e1.status, StatusCode::ACCEPTED);
    assert_eq!(e2.header("idempotent-replayed").as_deref(), Some("true"));
    assert_eq!(e1.body, e2.body);
    assert_eq!(app.count("SELECT count(*) FROM messages").await, 3);
}

#[actix_web::test]
async fn a_test_event_is_delivered_whatever_the_filter() {
    let app = TestApp::spawn().await;
    let rx = Receiver::start().await;
    let id = id_of(
        &app.create_subscription(
            json!({"target_url": rx.url("/t"), "event_types": ["order.created"]}),
        )
        .await,
    );
    let a = app
        .call("POST", &format!("/subscriptions/{id}/test"), None)
        .await;
    let task = task_of(&a);
    let got = rx.wait_for(1, WAIT).await;
    assert_eq!(got[0].header("x-courier-event-type"), Some("courier.test"));
    let body: Value = serde_json::from_slice(&got[0].body).expect("json");
    assert_eq!(body["type"], "courier.test");
    assert_eq!(body["subscription_id"], id.as_str());
    app.wait_for_status(&task, "succeeded", WAIT).await;
}

#[actix_web::test]
async fn an_idempotency_key_is_forgotten_after_its_ttl() {
    let app = TestApp::spawn_with(&[("COURIER_IDEMPOTENCY_TTL", "300ms")]).await;
    let rx = Receiver::start().await;
    let id = id_of(
        &app.create_subscription(json!({"target_url": rx.url("/")}))
            .await,
    );
    let send = || {
        let app = &app;
        let path = format!("/ingest/{id}?event_type=a.b");
        async move {
            app.call_with(
                "POST",
                &path,
                Some(b"{}"),
                &[
                    ("Authorization", &auth_header()),
                    ("Idempotency-Key", "ttl-key"),
                ],
            )
            .await
        }
    };
    let first = send().await;
    task_of(&first);
    let replay = send().await;
    assert_eq!(replay.body["message_id"], first.body["message_id"]);
    actix_web::rt::time::sleep(Duration::from_millis(400)).await;
    let later = send().await;
    task_of(&later);
    assert_eq!(later.header("idempotent-replayed"), None);
    assert_ne!(later.body["message_id"], first.body["message_id"]);
    rx.wait_for(2, WAIT).await;
}
