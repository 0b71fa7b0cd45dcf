//! The console's glue (session and engine) served on a state directory and driven as the console
//! drives it: requests in, updates out, for tests of what the console asks and is told.

use std::path::Path;
use std::time::Duration;

use i2k::tui::{Request, Update, glue};
use tokio::sync::mpsc;

pub struct Console {
    requests: mpsc::Sender<Request>,
    updates: mpsc::Receiver<Update>,
    glue: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Console {
    pub fn open(sims: &super::Sims, dir: &Path) -> Console {
        let config = super::engine_config(sims, dir.to_path_buf());
        let (update_tx, updates) = mpsc::channel(1024);
        let (requests, request_rx) = mpsc::channel(64);
        let glue = tokio::spawn(glue::serve(config, request_rx, update_tx));
        Console {
            requests,
            updates,
            glue,
        }
    }

    pub async fn request(&self, request: Request) {
        self.requests.send(request).await.unwrap();
    }

    /// Receives updates until one satisfies `wanted`; after two minutes fails with the notices
    /// that came instead.
    pub async fn next<T>(&mut self, what: &str, wanted: impl FnMut(&Update) -> Option<T>) -> T {
        self.next_within(what, Duration::from_secs(120), wanted)
            .await
    }

    /// [`Console::next`], failing after `limit`.
    pub async fn next_within<T>(
        &mut self,
        what: &str,
        limit: Duration,
        mut wanted: impl FnMut(&Update) -> Option<T>,
    ) -> T {
        let deadline = tokio::time::Instant::now() + limit;
        let mut notices = Vec::new();
        loop {
            match tokio::time::timeout_at(deadline, self.updates.recv()).await {
                Ok(Some(update)) => {
                    if let Some(found) = wanted(&update) {
                        return found;
                    }
                    if let Update::Notice(n) = update {
                        notices.push(n);
                    }
                }
                Ok(None) => panic!("the glue stopped before {what}; notices: {notices:?}"),
                Err(_) => panic!("no {what}; notices: {notices:?}"),
            }
        }
    }

    /// The next notice containing `says`.
    pub async fn notice(&mut self, says: &str) -> String {
        let what = format!("a notice with {says:?}");
        self.next(&what, |u| match u {
            Update::Notice(n) if n.contains(says) => Some(n.clone()),
            _ => None,
        })
        .await
    }

    /// Quits the console and waits for the glue to release the state directory.
    pub async fn quit(self) {
        self.request(Request::Quit).await;
        drop(self.requests);
        tokio::time::timeout(Duration::from_secs(30), self.glue)
            .await
            .expect("the glue stops")
            .unwrap()
            .unwrap();
    }
}
