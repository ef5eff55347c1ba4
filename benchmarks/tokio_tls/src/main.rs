//! weft-bench-tokio-tls: the tokio-openssl peer of weft-bench's TLS figures
//! (docs/benchmarks.md).
//!
//!   weft-bench-tokio-tls serve-tls-echo CERT KEY   a TLS echo server, a task per connection
//!                                                  on a current_thread runtime: its port on
//!                                                  the first line, served until standard
//!                                                  input closes
//!   weft-bench-tokio-tls version                   the tokio, tokio-openssl and openssl
//!                                                  crate releases it was built with

use std::fmt::Display;
use std::io::Read;
use std::pin::Pin;

use openssl::ssl::{Ssl, SslContext, SslFiletype, SslMethod, SslVersion};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_openssl::SslStream;

fn fail(what: impl Display) -> ! {
    eprintln!("weft-bench-tokio-tls: {}", what);
    std::process::exit(1);
}

/// The same OpenSSL settings as weft's streams and the floor of the figure: TLS 1.2 at least,
/// and read-ahead (one read takes what the socket holds, not a record's header then its body).
fn context(cert: &str, key: &str) -> SslContext {
    let mut b = SslContext::builder(SslMethod::tls_server()).unwrap_or_else(|e| fail(e));
    b.set_min_proto_version(Some(SslVersion::TLS1_2))
        .unwrap_or_else(|e| fail(e));
    b.set_read_ahead(true);
    b.set_certificate_chain_file(cert)
        .unwrap_or_else(|e| fail(format!("{}: {}", cert, e)));
    b.set_private_key_file(key, SslFiletype::PEM)
        .unwrap_or_else(|e| fail(format!("{}: {}", key, e)));
    b.build()
}

/// Per connection: the handshake, records echoed until the client's close_notify (a read of
/// 0), then the server's own close_notify (shutdown) before the connection is dropped.
fn serve_tls_echo(cert: &str, key: &str) {
    let ctx = context(cert, key);
    let (port_tx, port_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .unwrap_or_else(|e| fail(e));
        rt.block_on(async move {
            let ln = TcpListener::bind("127.0.0.1:0")
                .await
                .unwrap_or_else(|e| fail(e));
            let port = ln.local_addr().unwrap_or_else(|e| fail(e)).port();
            let _ = port_tx.send(port);
            loop {
                let (c, _) = match ln.accept().await {
                    Ok(x) => x,
                    Err(_) => return,
                };
                let _ = c.set_nodelay(true);
                let ssl = match Ssl::new(&ctx) {
                    Ok(s) => s,
                    Err(_) => continue,
                };
                tokio::spawn(async move {
                    let mut s = match SslStream::new(ssl, c) {
                        Ok(s) => s,
                        Err(_) => return,
                    };
                    if Pin::new(&mut s).accept().await.is_err() {
                        return;
                    }
                    let mut buf = vec![0u8; 8192];
                    loop {
                        let k = match s.read(&mut buf).await {
                            Ok(0) => break,
                            Err(_) => return,
                            Ok(k) => k,
                        };
                        if s.write_all(&buf[..k]).await.is_err() {
                            return;
                        }
                    }
                    let _ = s.shutdown().await;
                });
            }
        });
    });
    let port = port_rx
        .recv()
        .unwrap_or_else(|_| fail("the server did not start"));
    println!("{}", port);
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("serve-tls-echo") if args.len() == 4 => serve_tls_echo(&args[2], &args[3]),
        Some("version") => println!(
            "tokio {}, tokio-openssl {}, openssl {}",
            env!("WEFT_TOKIO_VERSION"),
            env!("WEFT_TOKIO_OPENSSL_VERSION"),
            env!("WEFT_OPENSSL_CRATE_VERSION")
        ),
        _ => fail("usage: weft-bench-tokio-tls serve-tls-echo CERT KEY | version"),
    }
}
