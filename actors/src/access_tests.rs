use super::*;

#[test]
fn key_tokens_have_the_documented_shape_and_are_all_different() {
    let id = Uuid::now_v7();
    let a = new_key_token(id);
    let b = new_key_token(id);
    assert_ne!(a, b);
    assert!(a.starts_with(&key_prefix(id)));
    assert_eq!(a.len(), 3 + 12 + 1 + 43);
    assert!(looks_like_key(&a));
    for bad in [
        "",
        "ck_",
        "Bearer",
        &a[..a.len() - 1],
        &a.replace("ck_", "cs_"),
        "ck_zzzzzzzzzzzz_0123456789012345678901234567890123456789012",
    ] {
        assert!(!looks_like_key(bad), "{bad:?}");
    }
}

#[test]
fn the_prefix_is_the_random_end_of_the_id() {
    let id = Uuid::parse_str("01938a6e-7d1c-7b3e-9f00-a1b2c3d4e5f6").expect("uuid");
    assert_eq!(key_prefix(id), "ck_a1b2c3d4e5f6");
}

#[test]
fn keys_match_only_when_equal() {
    assert!(keys_match(b"abc", b"abc"));
    assert!(!keys_match(b"abc", b"abd"));
    assert!(!keys_match(b"abc", b"abcd"));
    assert!(!keys_match(b"", b"abc"));
}

#[test]
fn a_token_hash_is_sha256_of_the_token() {
    assert_eq!(
        hex::encode(hash_token("abc")),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}

#[test]
fn scopes_come_only_from_consistent_rows() {
    let app = Uuid::now_v7();
    assert_eq!(Scope::from_row("admin", None), Some(Scope::Admin));
    assert_eq!(
        Scope::from_row("application", Some(app)),
        Some(Scope::Application(app))
    );
    assert_eq!(Scope::from_row("admin", Some(app)), None);
    assert_eq!(Scope::from_row("application", None), None);
    assert_eq!(Scope::from_row("portal", None), None);
}
