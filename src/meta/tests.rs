use super::*;

#[test]
fn label_values_are_kept_when_valid_and_hashed_otherwise() {
    assert_eq!(label_value("acme"), "acme");
    assert_eq!(label_value("acme.prod_1"), "acme.prod_1");
    let long = "a".repeat(64);
    let hashed = label_value(&long);
    assert!(hashed.starts_with("h-") && hashed.len() == 22, "{hashed}");
    assert_eq!(hashed, label_value(&long));
    assert_ne!(label_value("-x"), "-x");
}

#[test]
fn hex_round_trips_a_digest() {
    let digest = sha256(&["a", "b"]);
    let text = hex(&digest);
    assert_eq!(text.len(), 64);
    assert_eq!(text, text.to_lowercase());
    assert_eq!(parse_hex(&text), Some(digest));
    assert_eq!(hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
}
