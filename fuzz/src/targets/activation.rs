//! The service manager's activation declarations (one TOML file per service).

use std::path::PathBuf;

use afbus_servicemanager::activation::parse_declaration;

/// This target.
pub const TARGET: crate::Target = crate::Target {
    name: "activation",
    run: target,
    seeds,
    dictionary: DICTIONARY,
};

/// Keys and values of a declaration.
pub const DICTIONARY: &[&[u8]] = &[
    b"name = ",
    b"exec = ",
    b"user = ",
    b"lazy = true\n",
    b"[env]\n",
    b"\"root\"",
    b"\"nobody\"",
    b"[\"/bin/true\", \"-x\"]",
    b"[]",
    b"\"a.b/c-d\"",
    b"\"\"",
    b"\"\\u0000\"",
    b"\n",
];

/// Runs one input.
pub fn target(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    match parse_declaration(&text, "fuzz.toml", PathBuf::from("fuzz.toml")) {
        Ok((decl, name_at)) => {
            assert!(!decl.exec.is_empty(), "a declaration without a program");
            assert!(
                text.is_char_boundary(name_at),
                "name offset inside a character"
            );
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
}

/// Declarations of every shape the parser knows.
pub fn seeds() -> Vec<Vec<u8>> {
    [
        "name = \"org.example.Echo\"\nexec = [\"/usr/bin/echo-service\", \"--bus\"]\n",
        "name = \"a.b\"\nexec = [\"x\"]\nuser = \"nobody\"\nlazy = true\n\n[env]\nRUST_LOG = \"debug\"\nA = \"b\"\n",
        "name = \"bad name!\"\nexec = [\"x\"]\n",
        "name = \"a\"\nexec = []\n",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect()
}
