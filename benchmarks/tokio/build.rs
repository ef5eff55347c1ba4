// Records the tokio and tokio-util releases cargo resolved (from Cargo.lock, beside
// Cargo.toml) for `weft-bench-tokio version`.
use std::fs;
use std::path::Path;

fn resolved(lock: &str, name: &str) -> String {
    let key = format!("name = \"{}\"", name);
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line.trim() == key {
            if let Some(v) = lines.next() {
                let v = v.trim();
                if let Some(rest) = v.strip_prefix("version = \"") {
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
    println!(
        "cargo:rustc-env=WEFT_TOKIO_VERSION={}",
        resolved(&lock, "tokio")
    );
    println!(
        "cargo:rustc-env=WEFT_TOKIO_UTIL_VERSION={}",
        resolved(&lock, "tokio-util")
    );
}
