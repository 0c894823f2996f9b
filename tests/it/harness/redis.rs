//! A real `redis-server` for the state tests, on a free loopback port with a temp dir, so a
//! test can kill and restart it; killed on drop. `scripts/test.sh` installs it.

use std::process::Stdio;

use tokio::process::{Child, Command};

use super::{free_port, wait_for_port};

/// A `redis-server` on a free loopback port, killed on drop.
pub struct Redis {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
    /// AOF on (`appendfsync always`): a restart keeps every acknowledged write.
    persistent: bool,
}

impl Redis {
    pub async fn start() -> Self {
        Self::start_with(false).await
    }

    /// A server with AOF persistence: what it acknowledged survives its restart.
    pub async fn start_persistent() -> Self {
        Self::start_with(true).await
    }

    async fn start_with(persistent: bool) -> Self {
        let mut redis = Self {
            child: None,
            port: free_port(),
            dir: tempfile::tempdir().unwrap(),
            persistent,
        };
        redis.restart().await;
        redis
    }

    /// (Re)starts the server on the same port: empty, or (persistent) with its AOF.
    pub async fn restart(&mut self) {
        let (aof, fsync) = if self.persistent {
            ("yes", "always")
        } else {
            ("no", "everysec")
        };
        let child = Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                aof,
                "--appendfsync",
                fsync,
            ])
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("redis-server is installed (scripts/test.sh installs it)");
        self.child = Some(child);
        wait_for_port(self.port).await;
    }

    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().await.unwrap();
        }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// The keys under the gateway's prefix.
    pub async fn keys(&self) -> Vec<String> {
        let out = Command::new("redis-cli")
            .args(["-p", &self.port.to_string(), "--scan", "--pattern", "{portcullis}:*"])
            .output()
            .await
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect()
    }
}
