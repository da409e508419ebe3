//! What a bridge reads from another machine (a bridged call's or reply's payload, a failure)
//! and from its configuration file.

use afbus_binder::TransactionCode;
use afbus_bridge::envelope::{Body, Failure, ObjectRef};
use afbus_bridge::{keys, Config};

/// This target.
pub const TARGET: crate::Target = crate::Target {
    name: "bridged",
    run: target,
    seeds,
    dictionary: DICTIONARY,
};

/// Kind bytes, counts at the bounds, and configuration keys.
pub const DICTIONARY: &[&[u8]] = &[
    b"\x01",
    b"\x00",
    b"\xff\xff",
    b"\x00\x04",
    b"\xfd\x00",
    b"\xff\xff\xff\xff",
    b"afbus/a/call/b/svc/x",
    b"name = \"a\"\n",
    b"[zenoh]\n",
    b"insecure = true\n",
    b"[zenoh.tls]\n",
    b"[[export]]\n",
    b"[[import]]\n",
    b"from = \"b\"\n",
];

/// Runs one input: as a call, a reply and a failure payload (an encodable result must read
/// back the same), as a key, and as a configuration file.
pub fn target(data: &[u8]) {
    if let Ok((code, body)) = Body::decode_call(data) {
        let again = body.encode_call(code).expect("a decoded call encodes");
        assert_eq!(
            Body::decode_call(&again).expect("and reads back"),
            (code, body)
        );
    }
    if let Ok(body) = Body::decode_reply(data) {
        let _ = body.payload_len();
    }
    if let Ok(failure) = Failure::decode(data) {
        let _ = Failure::decode(&failure.encode()).expect("a decoded failure reads back");
    }
    let text = String::from_utf8_lossy(data);
    let _ = keys::parse_call("a", &text);
    let _ = keys::parse_live(&text);
    let _ = keys::parse_holder("a", &text);
    match Config::parse(&text, "fuzz.toml") {
        Ok(config) => {
            let _ = config.zenoh_json().to_string();
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
}

/// A call with objects and blobs, a reply, failures, and configuration files.
pub fn seeds() -> Vec<Vec<u8>> {
    let body = Body {
        data: b"parcel".to_vec(),
        objects: vec![
            ObjectRef::Given {
                id: 1,
                descriptor: "org.example.ICallback".into(),
            },
            ObjectRef::Home { id: 2 },
        ],
        blobs: vec![vec![7; 16]],
    };
    vec![
        body.encode_call(TransactionCode::FIRST_CALL).unwrap(),
        Body::default().encode_reply().unwrap(),
        Failure::code(afbus_binder::StatusCode::DEAD_OBJECT, "gone").encode(),
        Failure(afbus_binder::Status::new_service_specific(3, "no")).encode(),
        b"name = \"a\"\npeers = [\"b\"]\n[zenoh]\nlisten = [\"quic/127.0.0.1:7447\"]\n\
          [zenoh.tls]\nca = \"ca\"\ncert = \"c\"\nkey = \"k\"\n[[export]]\nname = \"x\"\n\
          [[import]]\nfrom = \"b\"\nname = \"y\"\nas = \"z\"\n"
            .to_vec(),
        b"name = \"a\"\n[zenoh]\ninsecure = true\nconnect = [\"tcp/127.0.0.1:1\"]\n".to_vec(),
    ]
}
