//! Standard Webhooks signatures against the published test vectors.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use expect_test::expect;
use hookflow_delivery::signing::{self, SigningError, DEFAULT_TOLERANCE_SECS};

/// A published vector: (secret, msg_id, timestamp, payload, signature).
type Vector = (&'static str, &'static str, i64, &'static [u8], &'static str);

/// The Standard Webhooks test vectors, from the reference libraries in the
/// standard-webhooks/standard-webhooks repository:
/// - `libraries/python/tests/test_webhooks.py`, `test_sign_function`;
/// - `libraries/rust/src/lib.rs`, `tests::test_sign`.
const VECTORS: &[Vector] = &[
    (
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        1614265330,
        br#"{"test": 2432232314}"#,
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    ),
    (
        "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
        "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
        1649367553,
        br#"{"email":"test@example.com","username":"test_user"}"#,
        "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=",
    ),
];

#[test]
fn signatures_match_the_published_vectors() {
    for (secret, msg_id, timestamp, payload, expected) in VECTORS {
        assert_eq!(signing::sign(secret, msg_id, *timestamp, payload).unwrap(), *expected);
        // The reference libraries also take the secret without its prefix.
        let bare = secret.strip_prefix("whsec_").unwrap();
        assert_eq!(signing::sign(bare, msg_id, *timestamp, payload).unwrap(), *expected);
        signing::verify(
            secret,
            msg_id,
            *timestamp,
            payload,
            expected,
            *timestamp,
            DEFAULT_TOLERANCE_SECS,
        )
        .unwrap();
    }
}

#[test]
fn a_rotation_header_carries_one_signature_per_secret() {
    let (old, msg_id, timestamp, payload, old_signature) = VECTORS[0];
    let new = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
    let header = signing::signature_header(&[old, new], msg_id, timestamp, payload).unwrap();
    // The second signature was computed apart, with Python's hmac module.
    expect![[r#"v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE= v1,78nXHjpFP0tVJQW5D0SBwmVyyW87BV/rL6MgfM/Bw44="#]]
        .assert_eq(&header);
    assert!(header.starts_with(old_signature));
    // A receiver holding either secret accepts it.
    for secret in [old, new] {
        signing::verify(secret, msg_id, timestamp, payload, &header, timestamp, 300).unwrap();
    }
    let third = signing::new_secret();
    assert_eq!(
        signing::verify(&third, msg_id, timestamp, payload, &header, timestamp, 300),
        Err(SigningError::NoMatch)
    );
    assert_eq!(
        signing::signature_header(&[], msg_id, timestamp, payload),
        Err(SigningError::NoSecret)
    );
}

#[test]
fn verify_checks_the_timestamp_tolerance() {
    let (secret, msg_id, timestamp, payload, signature) = VECTORS[0];
    let verify = |now: i64| signing::verify(secret, msg_id, timestamp, payload, signature, now, 300);
    let mut out = String::new();
    for now in [
        timestamp,
        timestamp + 300,
        timestamp - 300,
        timestamp + 301,
        timestamp - 301,
    ] {
        out += &format!(
            "now {:+}: {:?}\n",
            now - timestamp,
            verify(now).map_err(|e| e.to_string())
        );
    }
    expect![[r#"
        now +0: Ok(())
        now +300: Ok(())
        now -300: Ok(())
        now +301: Err("the timestamp 1614265330 is 301s old, more than the 300s allowed")
        now -301: Err("the timestamp 1614265330 is 301s in the future, more than the 300s allowed")
    "#]]
    .assert_eq(&out);
}

#[test]
fn verify_refuses_anything_tampered_with() {
    let (secret, msg_id, timestamp, payload, signature) = VECTORS[0];
    let verify = |msg_id: &str, timestamp: i64, payload: &[u8], header: &str| {
        signing::verify(secret, msg_id, timestamp, payload, header, timestamp, 300).map_err(|e| e.to_string())
    };
    let mut out = String::new();
    out += &format!("untouched: {:?}\n", verify(msg_id, timestamp, payload, signature));
    out += &format!(
        "payload: {:?}\n",
        verify(msg_id, timestamp, br#"{"test": 2432232315}"#, signature)
    );
    out += &format!("msg_id: {:?}\n", verify("msg_other", timestamp, payload, signature));
    out += &format!("timestamp: {:?}\n", verify(msg_id, timestamp + 1, payload, signature));
    out += &format!(
        "one bit of the signature: {:?}\n",
        verify(
            msg_id,
            timestamp,
            payload,
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA="
        )
    );
    out += &format!(
        "another version: {:?}\n",
        verify(msg_id, timestamp, payload, &signature.replace("v1,", "v2,"))
    );
    out += &format!(
        "truncated: {:?}\n",
        verify(msg_id, timestamp, payload, &signature[..signature.len() - 4])
    );
    out += &format!("empty header: {:?}\n", verify(msg_id, timestamp, payload, ""));
    out += &format!(
        "among others: {:?}\n",
        verify(
            msg_id,
            timestamp,
            payload,
            &format!("v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= v2,abc garbage {signature} v1,!!")
        )
    );
    expect![[r#"
        untouched: Ok(())
        payload: Err("no v1 signature in the header matches")
        msg_id: Err("no v1 signature in the header matches")
        timestamp: Err("no v1 signature in the header matches")
        one bit of the signature: Err("no v1 signature in the header matches")
        another version: Err("no v1 signature in the header matches")
        truncated: Err("no v1 signature in the header matches")
        empty header: Err("no v1 signature in the header matches")
        among others: Ok(())
    "#]]
    .assert_eq(&out);
}

#[test]
fn new_secrets_are_whsec_and_32_random_bytes() {
    let a = signing::new_secret();
    let b = signing::new_secret();
    assert_ne!(a, b);
    let key = STANDARD.decode(a.strip_prefix("whsec_").unwrap()).unwrap();
    assert_eq!(key.len(), 32);
    let signature = signing::sign(&a, "msg_1", 1_700_000_000, b"{}").unwrap();
    signing::verify(&a, "msg_1", 1_700_000_000, b"{}", &signature, 1_700_000_010, 300).unwrap();
}

#[test]
fn a_bad_secret_is_an_error_that_does_not_show_it() {
    let mut out = String::new();
    for secret in ["whsec_not base64!", "whsec_", ""] {
        out += &format!(
            "{:?}\n",
            signing::sign(secret, "msg_1", 1, b"{}").map_err(|e| e.to_string())
        );
    }
    expect![[r#"
        Err("the secret is not `whsec_` followed by base64: Invalid symbol 32, offset 3.")
        Err("the secret is not `whsec_` followed by base64: it is empty")
        Err("the secret is not `whsec_` followed by base64: it is empty")
    "#]]
    .assert_eq(&out);
}
