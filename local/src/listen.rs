//! Where the local runner may listen. It allows webhooks to loopback and private networks
//! (its receivers live there), which makes it an open proxy into the machine's networks if
//! anyone else can reach it: so while private targets are allowed it serves loopback only.

use std::net::SocketAddr;

use axum::Router;
use tokio::task::JoinHandle;

/// Refuses a non-loopback listen address while private targets are allowed.
pub fn check_exposure(listening: SocketAddr, allow_private_targets: bool) -> Result<(), String> {
    if allow_private_targets && !listening.ip().is_loopback() {
        return Err(format!(
            "listening on {listening} while HOOKLINE_ALLOW_PRIVATE_TARGETS is on would let anyone who reaches this \
             machine make it call its own private network: listen on 127.0.0.1 (HOOKLINE_LISTEN) or set \
             HOOKLINE_ALLOW_PRIVATE_TARGETS=false"
        ));
    }
    Ok(())
}

/// Serves `app` on a free loopback port, in the background: the address it listens on
/// (`127.0.0.1:port`) and the serving task. For the runs' own receivers and APIs.
pub async fn serve_on_loopback(app: Router) -> std::io::Result<(SocketAddr, JoinHandle<std::io::Result<()>>)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    Ok((addr, tokio::spawn(async move { axum::serve(listener, app).await })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(text: &str) -> SocketAddr {
        text.parse().expect("address")
    }

    #[test]
    fn only_loopback_while_private_targets_are_allowed() {
        // GIVEN private targets allowed: loopback (v4 and v6) is fine, anything else refused
        assert_eq!(check_exposure(addr("127.0.0.1:8080"), true), Ok(()));
        assert_eq!(check_exposure(addr("[::1]:8080"), true), Ok(()));
        for open in ["0.0.0.0:8080", "[::]:8080", "192.168.1.5:8080", "10.0.0.2:80"] {
            let err = check_exposure(addr(open), true).expect_err(open);
            assert!(err.contains("HOOKLINE_ALLOW_PRIVATE_TARGETS"), "{err}");
        }
        // WHEN private targets are off, any address may be served
        assert_eq!(check_exposure(addr("0.0.0.0:8080"), false), Ok(()));
    }
}
