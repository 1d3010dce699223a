//! The encryption key ring against a real database: the key generated at first start, one
//! key however many nodes start at once, and a configured key that still opens what the
//! generated one sealed.

use base64::Engine as _;
use courier_actors::crypto::{self, KeySource};

use crate::support::TestApp;

#[actix_web::test]
async fn the_first_start_generates_one_key_that_later_starts_reuse() {
    let app = TestApp::spawn().await;
    let stored: Vec<String> = sqlx::query_scalar("SELECT id FROM encryption_keys")
        .fetch_all(&app.db)
        .await
        .expect("rows");
    assert_eq!(stored.len(), 1, "the server generated a key at start");
    let (ring, source) = crypto::load(&app.db, None).await.expect("loads");
    assert_eq!(source, KeySource::Stored);
    assert_eq!(ring.primary_id(), stored[0]);

    sqlx::query("DELETE FROM encryption_keys")
        .execute(&app.db)
        .await
        .expect("empty it");
    let loads = futures_util::future::join_all((0..4).map(|_| crypto::load(&app.db, None))).await;
    let ids: Vec<String> = loads
        .into_iter()
        .map(|r| r.expect("loads").0.primary_id().to_owned())
        .collect();
    assert!(
        ids.iter().all(|id| *id == ids[0]),
        "nodes agree on one key: {ids:?}"
    );
    assert_eq!(app.count("SELECT count(*) FROM encryption_keys").await, 1);
}

#[actix_web::test]
async fn a_configured_key_seals_while_the_stored_one_still_opens_old_values() {
    let app = TestApp::spawn().await;
    let (generated, _) = crypto::load(&app.db, None).await.expect("loads");
    let old = generated.seal("whsec_old");
    let configured = base64::engine::general_purpose::STANDARD.encode(crypto::generate_key());

    let (ring, source) = crypto::load(&app.db, Some(&configured))
        .await
        .expect("loads");
    assert_eq!(source, KeySource::Configured);
    assert_ne!(ring.primary_id(), generated.primary_id());
    assert_eq!(ring.open(&old).as_deref(), Ok("whsec_old"));
    assert!(ring.needs_reseal(&old));
    let resealed = ring.reseal(&old).expect("opens").expect("rewritten");
    assert!(resealed.contains(ring.primary_id()));
    assert_eq!(
        app.count("SELECT count(*) FROM encryption_keys").await,
        1,
        "nothing new stored"
    );

    let peer = app
        .peer_with("node-b", &[("COURIER_ENCRYPTION_KEY", &configured)])
        .await;
    assert_eq!(peer.get("/health").await.status, awc::http::StatusCode::OK);
    let bad = crypto::load(&app.db, Some("not-base64!")).await;
    assert!(bad.is_err());
}
