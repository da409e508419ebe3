//! The service manager's policy file (TOML): rules, quotas, and errors located in the text.

use afbus_servicemanager::{Op, Policy};

/// This target.
pub const TARGET: crate::Target = crate::Target {
    name: "policy",
    run: target,
    seeds,
    dictionary: DICTIONARY,
};

/// Tables, keys and values of a policy file.
pub const DICTIONARY: &[&[u8]] = &[
    b"[[allow]]\n",
    b"[[deny]]\n",
    b"[quota]\n",
    b"uid = ",
    b"gid = ",
    b"user = \"root\"\n",
    b"user = \"nobody\"\n",
    b"group = \"root\"\n",
    b"remote = \"host*\"\n",
    b"own = [\"a.*\"]\n",
    b"find = [\"*\"]\n",
    b"call = [",
    b"send = ",
    b"receive = ",
    b"connections_per_uid = ",
    b"services_per_uid = ",
    b"\"\\u00e9\"",
    b"4294967296",
    b"-1",
    b"\"*\"",
    b"'''",
    b"\"\"\"",
    b"\n",
    b"]",
];

/// Runs one input.
pub fn target(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    match Policy::parse(&text, "fuzz.toml", 1000) {
        Ok(policy) => {
            for op in [Op::Own, Op::Find, Op::Call, Op::Send, Op::Receive] {
                for name in ["a.b", "", "*", "org.example.Echo"] {
                    let _ = policy.allows(op, 1001, 1001, name);
                    let _ = policy.allows_remote(op, "hostb", name);
                }
            }
            let _ = policy.quota();
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
}

/// Policies of every shape the parser knows.
pub fn seeds() -> Vec<Vec<u8>> {
    [
        "[[allow]]\nuser = \"nobody\"\nown = [\"org.example.*\"]\nfind = [\"*\"]\n",
        "[[allow]]\nuid = 5\ngid = 7\ncall = [\"a.b\", \"c.*\"]\nsend = [\"*\"]\nreceive = [\"x\"]\n\n[[deny]]\nuid = 5\nown = [\"a.b\"]\n",
        "[quota]\nconnections_per_uid = 3\nservices_per_uid = 1\n",
        "[[allow]]\ngroup = \"root\"\nfind = [\"*\"]\n[[deny]]\nuser = \"root\"\nfind = [\"secret.*\"]\n",
        "[[allow]]\nuid = 5\nfnid = [\"x\"]\n",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect()
}
