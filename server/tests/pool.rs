//! The connection pool's promises that need no real host: parallel first calls to a
//! host that does not answer share one connection attempt, and all of them fail after
//! one `TIMEOUT`, not one after another.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use futures::future::join_all;
use testkit::{Mcp, is_error, structured};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_first_calls_to_a_silent_host_share_one_attempt() {
    // Accepts TCP and never says a word: an sshd that hangs before its banner.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            held.push(stream);
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let vars: Vec<(String, String)> = [
        ("I_ACCEPT_RISKS", "true".to_string()),
        ("HOST", "127.0.0.1".to_string()),
        ("SSH_PORT", port.to_string()),
        ("SSH_PASSWORD", "unused".to_string()),
        (
            "SSH_KNOWN_HOSTS",
            dir.path().join("known_hosts").display().to_string(),
        ),
        ("TIMEOUT", "2".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let mcp = Mcp::serve(&vars).await;
    let started = Instant::now();
    let results = join_all((0..8).map(|_| mcp.exec("true"))).await;
    println!(
        "8 parallel first calls failed after {:?}",
        started.elapsed()
    );
    for r in &results {
        assert!(is_error(r));
        let error = structured(r)["error"].as_str().unwrap().to_string();
        assert!(error.contains("timed out after 2 s"), "{error}");
    }
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        1,
        "the 8 calls shared one connection attempt"
    );
    silent.abort();
}
