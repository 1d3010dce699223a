use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use proptest::prelude::*;

use super::*;

fn b64(key: &[u8; KEY_LEN]) -> String {
    STANDARD.encode(key)
}

fn ring_of(keys: &[[u8; KEY_LEN]]) -> KeyRing {
    KeyRing::new(keys).expect("valid keys")
}

#[test]
fn a_sealed_value_opens_to_the_plaintext_and_does_not_contain_it() {
    let ring = ring_of(&[generate_key()]);
    let sealed = ring.seal("whsec_super-secret-value");
    assert!(sealed.starts_with(&format!("enc:v1:{}:", ring.primary_id())));
    assert!(!sealed.contains("super-secret"));
    assert_eq!(
        ring.open(&sealed).as_deref(),
        Ok("whsec_super-secret-value")
    );
}

#[test]
fn sealing_twice_gives_different_values_because_each_has_a_fresh_nonce() {
    let ring = ring_of(&[generate_key()]);
    let a = ring.seal("same");
    let b = ring.seal("same");
    assert_ne!(a, b);
    assert_eq!(ring.open(&a), ring.open(&b));
}

#[test]
fn the_empty_string_round_trips() {
    let ring = ring_of(&[generate_key()]);
    assert_eq!(ring.open(&ring.seal("")).as_deref(), Ok(""));
}

#[test]
fn a_value_without_the_prefix_is_legacy_plaintext_and_needs_reseal() {
    let ring = ring_of(&[generate_key()]);
    assert_eq!(ring.open("Pass123").as_deref(), Ok("Pass123"));
    assert!(ring.needs_reseal("Pass123"));
    assert!(!KeyRing::is_sealed("Pass123"));
    let resealed = ring.reseal("Pass123").expect("opens").expect("rewritten");
    assert!(KeyRing::is_sealed(&resealed));
    assert!(!ring.needs_reseal(&resealed));
    assert_eq!(ring.open(&resealed).as_deref(), Ok("Pass123"));
}

#[test]
fn after_rotation_the_old_key_still_opens_and_the_new_key_seals() {
    let old = generate_key();
    let new = generate_key();
    let before = ring_of(&[old]);
    let sealed_before = before.seal("s1");

    let after = KeyRing::parse(&format!("{},{}", b64(&new), b64(&old))).expect("parses");
    assert_eq!(after.primary_id(), key_id(&new));
    assert_eq!(after.open(&sealed_before).as_deref(), Ok("s1"));
    assert!(after.needs_reseal(&sealed_before));

    let resealed = after
        .reseal(&sealed_before)
        .expect("opens")
        .expect("rewritten with the new key");
    assert!(resealed.starts_with(&format!("enc:v1:{}:", key_id(&new))));
    assert_eq!(after.reseal(&resealed), Ok(None));

    // Once the old key is dropped, only resealed values open.
    let only_new = ring_of(&[new]);
    assert_eq!(only_new.open(&resealed).as_deref(), Ok("s1"));
    assert_eq!(
        only_new.open(&sealed_before),
        Err(OpenError::UnknownKey(key_id(&old)))
    );
}

#[test]
fn a_changed_byte_or_a_relabelled_key_id_does_not_open() {
    let k1 = generate_key();
    let k2 = generate_key();
    let ring = ring_of(&[k1, k2]);
    let sealed = ring.seal("secret");
    let (header, body) = sealed.rsplit_once(':').expect("format");
    let mut bytes = URL_SAFE_NO_PAD.decode(body).expect("base64");
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    let flipped = format!("{header}:{}", URL_SAFE_NO_PAD.encode(&bytes));
    assert_eq!(ring.open(&flipped), Err(OpenError::Tampered));

    let relabelled = sealed.replace(&key_id(&k1), &key_id(&k2));
    assert_eq!(ring.open(&relabelled), Err(OpenError::Tampered));
}

#[test]
fn a_value_bound_to_a_context_opens_only_in_that_context() {
    let ring = ring_of(&[generate_key()]);
    let sealed = ring.seal_in(b"subscriptions.secret:1", "s");
    assert_eq!(
        ring.open_in(b"subscriptions.secret:1", &sealed).as_deref(),
        Ok("s")
    );
    assert_eq!(
        ring.open_in(b"subscriptions.secret:2", &sealed),
        Err(OpenError::Tampered)
    );
    assert_eq!(ring.open(&sealed), Err(OpenError::Tampered));
}

#[test]
fn malformed_sealed_values_are_refused() {
    let ring = ring_of(&[generate_key()]);
    let id = ring.primary_id().to_owned();
    for bad in [
        "enc:v1:".to_owned(),
        "enc:v1:nokeyseparator".to_owned(),
        format!("enc:v1:{id}:***not-base64***"),
        format!("enc:v1:{id}:{}", URL_SAFE_NO_PAD.encode([0u8; 20])),
    ] {
        assert!(ring.open(&bad).is_err(), "{bad:?} should not open");
        assert!(ring.needs_reseal(&bad) || bad.contains(&id));
    }
}

#[test]
fn key_ids_do_not_depend_on_the_order_of_the_keys() {
    let a = generate_key();
    let b = generate_key();
    let ab = KeyRing::parse(&format!("{},{}", b64(&a), b64(&b))).expect("parses");
    let ba = KeyRing::parse(&format!("{} , {}", b64(&b), b64(&a))).expect("parses");
    let mut ids_ab = ab.key_ids();
    let mut ids_ba = ba.key_ids();
    assert_ne!(ids_ab[0], ids_ba[0]);
    ids_ab.sort();
    ids_ba.sort();
    assert_eq!(ids_ab, ids_ba);
}

#[test]
fn bad_configured_keys_are_refused_with_their_position() {
    let good = b64(&generate_key());
    let cases = [
        ("", "no key"),
        (" , ", "no key"),
        ("not base64!", "key 1"),
        (&STANDARD.encode([1u8; 16]) as &str, "16 bytes"),
        (
            &format!("{good},{}", STANDARD.encode([1u8; 31])) as &str,
            "key 2",
        ),
        (&format!("{good},{good}") as &str, "keys 1 and 2"),
    ];
    for (raw, expected) in cases {
        let e = KeyRing::parse(raw).expect_err(raw).to_string();
        assert!(e.contains(expected), "{raw:?}: {e}");
    }
}

#[test]
fn keys_may_be_url_safe_or_unpadded_base64() {
    let key = [0xfbu8; KEY_LEN];
    let id = key_id(&key);
    for raw in [
        STANDARD.encode(key),
        base64::engine::general_purpose::URL_SAFE.encode(key),
        URL_SAFE_NO_PAD.encode(key),
    ] {
        assert_eq!(KeyRing::parse(&raw).expect("parses").primary_id(), id);
    }
}

#[test]
fn debug_output_names_key_ids_only() {
    let key = [7u8; KEY_LEN];
    let ring = ring_of(&[key]);
    let shown = format!("{ring:?}");
    assert!(shown.contains(&key_id(&key)));
    assert!(!shown.contains(&b64(&key)));
    assert!(!shown.contains("7, 7"));
}

proptest! {
    #[test]
    fn any_text_round_trips(text in ".{0,300}", context in proptest::collection::vec(any::<u8>(), 0..40)) {
        let ring = ring_of(&[[3u8; KEY_LEN], [4u8; KEY_LEN]]);
        let sealed = ring.seal_in(&context, &text);
        prop_assert_eq!(ring.open_in(&context, &sealed), Ok(text));
    }
}
