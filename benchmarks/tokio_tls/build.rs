// Records the tokio, tokio-openssl and openssl crate releases cargo resolved (from Cargo.lock,
// beside Cargo.toml) for `weft-bench-tokio-tls version`.
use std::fs;
use std::path::Path;

fn resolved(lock: &str, name: &str) -> String {
    let key = format!("name = \"{}\"", name);
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line.trim() == key {
            if let Some(v) = lines.next() {
                if let Some(rest) = v.trim().strip_prefix("version = \"") {
                    return rest.trim_end_matches('"').to_string();
                }
            }
        }
    }
    "unknown".to_string()
}

fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
    let lock_path = Path::new(&dir).join("Cargo.lock");
    println!("cargo:rerun-if-changed={}", lock_path.display());
    let lock = fs::read_to_string(&lock_path).unwrap_or_default();
    for (name, var) in [
        ("tokio", "WEFT_TOKIO_VERSION"),
        ("tokio-openssl", "WEFT_TOKIO_OPENSSL_VERSION"),
        ("openssl", "WEFT_OPENSSL_CRATE_VERSION"),
    ] {
        println!("cargo:rustc-env={}={}", var, resolved(&lock, name));
    }
}
