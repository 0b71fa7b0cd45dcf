//! Simulators of both APIs, served by axum over loopback: the Intercom REST API (version 2.16)
//! with a generated workspace, and the Kustomer REST API as a fresh org. Written from the API
//! references (`assets/intercom-openapi/`, the README's API notes), sharing no types with the
//! clients in `intercom/` and `kustomer/`, so a misunderstanding in one cannot hide behind the
//! same misunderstanding in the other.

pub mod failing;
pub mod faults;
pub mod intercom;
pub mod kustomer;
pub mod options;

pub use options::SimOptions;

use std::net::SocketAddr;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Workspace sizes for the generator (`--size`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum SizePreset {
    /// ≈ 5 admins, 20 contacts, 10 companies, 30 conversations (one over 500 parts).
    Tiny,
    /// ≈ 15 admins, 500 contacts, 100 companies, 1,000 conversations, 10k parts.
    Small,
    /// ≈ 10k contacts, 2k companies, 20k conversations, 250k parts.
    Medium,
    /// ≈ 100k contacts, 20k companies, 250k conversations, 3M parts.
    Large,
}

impl std::fmt::Display for SizePreset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SizePreset::Tiny => "tiny",
            SizePreset::Small => "small",
            SizePreset::Medium => "medium",
            SizePreset::Large => "large",
        })
    }
}

/// A simulator serving on loopback. Dropping it (or calling [`SimHandle::shutdown`]) stops it.
pub struct SimHandle {
    /// Base URL, e.g. `http://127.0.0.1:40123`.
    pub url: String,
    /// The bearer token the simulator accepts.
    pub token: String,
    pub addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    join: Option<JoinHandle<()>>,
}

impl SimHandle {
    /// Serves `router` on `addr` (port 0 picks a free port) until shut down.
    pub async fn serve(
        router: axum::Router,
        addr: SocketAddr,
        token: String,
    ) -> std::io::Result<SimHandle> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let (tx, rx) = oneshot::channel::<()>();
        let join = tokio::spawn(async move {
            let served = axum::serve(
                listener,
                router.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await;
            if let Err(err) = served {
                tracing::warn!("simulator on {addr} stopped: {err}");
            }
        });
        Ok(SimHandle {
            url: format!("http://{addr}"),
            token,
            addr,
            shutdown: Some(tx),
            join: Some(join),
        })
    }

    /// Stops accepting connections and waits for the server task to end.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(join) = self.join.take() {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(5), join).await;
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(join) = self.join.take() {
            join.abort();
        }
    }
}
