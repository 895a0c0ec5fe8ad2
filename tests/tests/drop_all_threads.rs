//! `#[drop_caps_after(all_threads)]`: the drop reaches every thread of the process, on return
//! and on unwinding, while the plain form still refuses multi-threaded processes.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;

use capscope::{drop_caps_after, Cap, CapSet, CapState, FullCapState};
use capscope_tests::{assert_pass, check, ensure, privileged, Verdict};

static BODY_RAN: AtomicBool = AtomicBool::new(false);

#[drop_caps_after(all_threads, keep(net_bind_service))]
fn init_keeping_bind() -> capscope::Result<CapSet> {
    BODY_RAN.store(true, Ordering::SeqCst);
    Ok(CapState::get_current()?.effective)
}

#[drop_caps_after(all_threads)]
fn init_that_panics() {
    BODY_RAN.store(true, Ordering::SeqCst);
    panic!("set-up failed");
}

/// Peer threads of three kinds (blocked on a channel, sleeping, spinning), each able to report
/// its own capget when asked.
struct Peers {
    ask: Vec<mpsc::Sender<mpsc::Sender<CapState>>>,
    stop: std::sync::Arc<AtomicBool>,
    handles: Vec<std::thread::JoinHandle<()>>,
}

impl Peers {
    fn start(n: usize) -> Peers {
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let mut ask = Vec::new();
        let mut handles = Vec::new();
        for i in 0..n {
            let (tx, rx) = mpsc::channel::<mpsc::Sender<CapState>>();
            let stop = stop.clone();
            handles.push(std::thread::spawn(move || loop {
                let req = match i % 3 {
                    0 => rx.recv().ok(),
                    1 => {
                        std::thread::sleep(std::time::Duration::from_millis(2));
                        rx.try_recv().ok()
                    }
                    _ => {
                        std::hint::spin_loop();
                        rx.try_recv().ok()
                    }
                };
                let nothing = req.is_none();
                if let Some(reply) = req {
                    let _ = reply.send(CapState::get_current().unwrap());
                }
                if stop.load(Ordering::Relaxed) || (i % 3 == 0 && nothing) {
                    return;
                }
            }));
            ask.push(tx);
        }
        Peers { ask, stop, handles }
    }

    /// Each peer's own view of its sets.
    fn states(&self) -> Result<Vec<CapState>, String> {
        self.ask
            .iter()
            .map(|tx| {
                let (rtx, rrx) = mpsc::channel();
                tx.send(rtx).map_err(|e| e.to_string())?;
                rrx.recv_timeout(std::time::Duration::from_secs(20))
                    .map_err(|e| e.to_string())
            })
            .collect()
    }

    fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        drop(self.ask);
        for h in self.handles {
            let _ = h.join();
        }
    }
}

/// Every thread listed in /proc/self/task, read from outside.
fn every_thread() -> Result<Vec<(u32, FullCapState)>, String> {
    let pid = std::process::id();
    let mut out = Vec::new();
    for entry in check!(std::fs::read_dir("/proc/self/task")) {
        let tid: u32 = check!(check!(entry).file_name().to_string_lossy().parse());
        out.push((tid, check!(FullCapState::get_for_thread(pid, tid))));
    }
    Ok(out)
}

fn all_dropped(keep: CapSet) -> Verdict {
    let threads = every_thread()?;
    ensure!(threads.len() > 1, "only {} thread(s) alive", threads.len());
    for (tid, s) in threads {
        ensure!(
            s.caps.effective.is_empty(),
            "thread {tid}: effective {:?}",
            s.caps.effective
        );
        ensure!(
            s.caps.inheritable.is_empty(),
            "thread {tid}: inheritable {:?}",
            s.caps.inheritable
        );
        ensure!(
            s.caps.permitted == keep,
            "thread {tid}: permitted {:?}, expected {keep:?}",
            s.caps.permitted
        );
        ensure!(
            s.ambient.is_empty(),
            "thread {tid}: ambient {:?}",
            s.ambient
        );
    }
    Ok(())
}

#[test]
fn all_threads_drops_every_thread_on_return() {
    assert_pass(privileged(|| {
        let peers = Peers::start(9);
        let before = check!(peers.states());
        ensure!(
            before.iter().all(|s| s.permitted.has(Cap::SYS_ADMIN)),
            "peers start privileged"
        );
        BODY_RAN.store(false, Ordering::SeqCst);
        let inside = check!(init_keeping_bind());
        ensure!(BODY_RAN.load(Ordering::SeqCst));
        ensure!(
            inside.has(Cap::SYS_ADMIN),
            "the body ran before the drop: {inside:?}"
        );
        let keep = CapSet::from(Cap::NET_BIND_SERVICE);
        all_dropped(keep)?;
        // Each peer sees it from the inside too.
        for s in check!(peers.states()) {
            ensure!(
                s == CapState {
                    permitted: keep,
                    ..CapState::empty()
                },
                "a peer reads {s:?}"
            );
        }
        ensure!(
            check!(CapState::get_current())
                == CapState {
                    permitted: keep,
                    ..CapState::empty()
                }
        );
        peers.stop();
        Ok(())
    }));
}

#[test]
fn all_threads_drops_every_thread_when_the_body_panics() {
    assert_pass(privileged(|| {
        let peers = Peers::start(6);
        BODY_RAN.store(false, Ordering::SeqCst);
        let r = catch_unwind(AssertUnwindSafe(init_that_panics));
        ensure!(r.is_err(), "the body's panic must propagate");
        ensure!(BODY_RAN.load(Ordering::SeqCst));
        all_dropped(CapSet::empty())?;
        for s in check!(peers.states()) {
            ensure!(s == CapState::empty(), "a peer reads {s:?}");
        }
        peers.stop();
        Ok(())
    }));
}
