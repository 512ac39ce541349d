//! cloud-init's final stage of a first boot, in the background: the brick script runs while the
//! server is already up (ACTIVE, reachable over SSH), as on a real cloud, where it waits for a
//! volume the operator attaches after the server became ACTIVE. A watcher thread waits for the
//! script, then for glusterd to listen, and records the outcome ([`BootProgress`]); only a
//! finished boot marks the node's root disk as booted.

use std::fs;
use std::io::Read;
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::Child;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::command::tail;

/// How far a node's boot has got.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BootState {
    /// The brick script still runs (it may be waiting for its volume to be attached).
    Running,
    /// The brick is ready and, when the user-data starts it, glusterd listens.
    Finished,
    /// The boot failed; the reason, with the end of the boot log.
    Failed(String),
}

/// The shared state of a node's boot: cheap to clone, waitable.
#[derive(Clone, Debug)]
pub struct BootProgress {
    state: Arc<(Mutex<BootState>, Condvar)>,
    stopping: Arc<AtomicBool>,
}

impl BootProgress {
    /// A boot in progress.
    pub(crate) fn running() -> Self {
        Self {
            state: Arc::new((Mutex::new(BootState::Running), Condvar::new())),
            stopping: Arc::new(AtomicBool::new(false)),
        }
    }

    /// The state now.
    pub fn state(&self) -> BootState {
        self.lock().clone()
    }

    /// Waits up to `timeout` for the boot to finish or fail and returns the state then.
    pub fn wait(&self, timeout: Duration) -> BootState {
        let (_, changed) = &*self.state;
        let guard = self.lock();
        let (guard, _) = changed
            .wait_timeout_while(guard, timeout, |s| *s == BootState::Running)
            .unwrap_or_else(PoisonError::into_inner);
        guard.clone()
    }

    pub(crate) fn set(&self, state: BootState) {
        *self.lock() = state;
        self.state.1.notify_all();
    }

    /// Tells the watcher the node is stopping (it gives up waiting for glusterd).
    pub(crate) fn stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        if self.state() == BootState::Running {
            self.set(BootState::Failed(
                "the node was stopped during its boot".into(),
            ));
        }
    }

    fn stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BootState> {
        // Every update is one assignment: a poisoned lock still holds a whole state.
        self.state.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// What the watcher needs to know.
pub(crate) struct Watch {
    /// The running brick script (its `nsenter`).
    pub script: Child,
    /// glusterd's address, when the script starts it.
    pub glusterd: Option<SocketAddr>,
    /// How long glusterd may take to listen once the script ended.
    pub ready_timeout: Duration,
    /// The file that marks the first boot finished.
    pub marker: PathBuf,
    /// What the marker holds.
    pub marker_text: String,
    /// The boot log.
    pub log: PathBuf,
}

/// Starts the watcher of a first boot.
pub(crate) fn watch(mut w: Watch, progress: BootProgress) -> JoinHandle<()> {
    thread::spawn(move || {
        let outcome = match w.script.wait() {
            Err(e) => Err(format!("waiting for the brick script: {e}")),
            Ok(status) if !status.success() => Err(format!(
                "the brick script ended with {status}{}",
                tail(&fs::read_to_string(&w.log).unwrap_or_default())
            )),
            Ok(_) => match w.glusterd {
                Some(address) => wait_listening(address, false, w.ready_timeout, &progress),
                None => Ok(()),
            },
        };
        let state = match outcome.and_then(|()| {
            fs::write(&w.marker, &w.marker_text)
                .map_err(|e| format!("marking the first boot finished: {e}"))
        }) {
            Ok(()) => BootState::Finished,
            Err(reason) => BootState::Failed(reason),
        };
        if !progress.stopping() {
            progress.set(state);
        }
    })
}

/// Waits until `address` accepts connections (with `ssh`, until it greets as SSH), for up to
/// `timeout` or until the node stops.
pub(crate) fn wait_listening(
    address: SocketAddr,
    ssh: bool,
    timeout: Duration,
    progress: &BootProgress,
) -> Result<(), String> {
    let start = Instant::now();
    loop {
        let detail = match probe(address, ssh) {
            Ok(()) => return Ok(()),
            Err(e) => e,
        };
        if progress.stopping() {
            return Err("the node was stopped".into());
        }
        if start.elapsed() > timeout {
            return Err(format!(
                "{address} not listening after {:?}: {detail}",
                start.elapsed()
            ));
        }
        thread::sleep(Duration::from_millis(50));
    }
}

/// Connects to `address`; with `ssh`, also reads the SSH greeting.
pub(crate) fn probe(address: SocketAddr, ssh: bool) -> Result<(), String> {
    let mut stream =
        TcpStream::connect_timeout(&address, Duration::from_secs(1)).map_err(|e| e.to_string())?;
    if ssh {
        stream
            .set_read_timeout(Some(Duration::from_secs(2)))
            .map_err(|e| e.to_string())?;
        let mut greeting = [0u8; 8];
        stream
            .read_exact(&mut greeting)
            .map_err(|e| e.to_string())?;
        if &greeting != b"SSH-2.0-" {
            return Err(format!(
                "greeted with {:?} instead of SSH-2.0-",
                String::from_utf8_lossy(&greeting)
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_is_waited_for_and_a_stop_fails_a_running_boot() {
        let p = BootProgress::running();
        assert_eq!(p.wait(Duration::from_millis(10)), BootState::Running);
        let q = p.clone();
        let t = thread::spawn(move || q.wait(Duration::from_secs(30)));
        p.set(BootState::Finished);
        assert_eq!(t.join().unwrap(), BootState::Finished);

        let p = BootProgress::running();
        p.stop();
        assert!(matches!(p.state(), BootState::Failed(r) if r.contains("stopped")));
        let done = BootProgress::running();
        done.set(BootState::Finished);
        done.stop();
        assert_eq!(done.state(), BootState::Finished);
    }

    #[test]
    fn probes_say_why_nothing_answers() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        probe(address, false).unwrap();
        drop(listener);
        assert!(probe(address, false).is_err());
        let p = BootProgress::running();
        let err = wait_listening(address, false, Duration::from_millis(100), &p).unwrap_err();
        assert!(err.contains("not listening"), "{err}");
    }
}
