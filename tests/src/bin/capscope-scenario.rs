//! Scenarios the container tests (`tests/tests/containers.rs`) run in set-ups a test process
//! cannot make for itself: a PID namespace with or without its own `/proc`, a chroot without
//! `/proc`, a process whose main thread has exited. Each scenario prints `PASS` or
//! `FAIL <why>` on its last line and exits 0 on a pass.
//!
//! Usage: `capscope-scenario <name>`.

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use capscope::drop_after::{DropAfter, DropOptions};
use capscope::{process, CapSet, CapState};

type Verdict = Result<(), String>;

macro_rules! ensure {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err(format!("line {}: {}", line!(), format!($($fmt)+)));
        }
    };
}

/// Peers that wait on a barrier and report their thread ids.
struct Peers {
    tids: Vec<u32>,
    gate: Arc<Barrier>,
    handles: Vec<std::thread::JoinHandle<()>>,
}

impl Peers {
    fn start(n: usize) -> Peers {
        let gate = Arc::new(Barrier::new(n + 1));
        let (tx, rx) = std::sync::mpsc::channel();
        let handles = (0..n)
            .map(|_| {
                let (g, tx) = (gate.clone(), tx.clone());
                std::thread::spawn(move || {
                    tx.send(capscope::current_tid()).unwrap();
                    g.wait();
                })
            })
            .collect();
        let tids = (0..n).map(|_| rx.recv().unwrap()).collect();
        Peers {
            tids,
            gate,
            handles,
        }
    }

    /// Each peer's capability sets, by `capget(tid)` (no `/proc` needed).
    fn states(&self) -> Result<Vec<CapState>, String> {
        self.tids
            .iter()
            .map(|&t| CapState::get_for_pid(t).map_err(|e| format!("capget({t}): {e}")))
            .collect()
    }

    fn finish(self) {
        self.gate.wait();
        for h in self.handles {
            h.join().unwrap();
        }
    }
}

/// The calling thread's sets read back by system calls only.
fn dropped_here() -> Verdict {
    let s = CapState::get_current().map_err(|e| e.to_string())?;
    ensure!(
        s.effective.is_empty() && s.permitted.is_empty() && s.inheritable.is_empty(),
        "still {s:?}"
    );
    let amb = capscope::ambient::probe().map_err(|e| e.to_string())?;
    ensure!(amb.is_empty(), "ambient {amb:?}");
    Ok(())
}

/// `/proc` belongs to the parent PID namespace: the process-wide path refuses before any change,
/// naming the cause; the per-thread path still works and verifies through system calls.
fn foreign_proc() -> Verdict {
    let peers = Peers::start(3);
    let before = peers.states()?;
    let e = match process::drop_all(&DropOptions::new()) {
        Err(e) => e,
        Ok(r) => return Err(format!("process::drop_all claimed success: {r:?}")),
    };
    let msg = e.to_string();
    ensure!(
        matches!(e, capscope::Error::Refused { .. }),
        "not a refusal: {e}"
    );
    ensure!(
        msg.contains("another PID namespace") && msg.contains("mount"),
        "the message names neither the cause nor the fix: {msg}"
    );
    ensure!(peers.states()? == before, "a peer changed");
    let e = DropAfter::new(DropOptions::new().all_threads(), "scenario")
        .map(|_| ())
        .err();
    ensure!(
        e.is_some(),
        "#[drop_caps_after(all_threads)] armed without a /proc of its own"
    );
    peers.finish();
    // Alone now: the per-thread drop needs no /proc.
    let start = Instant::now();
    while capscope::drop_after::thread_count().map_err(|e| e.to_string())? > 1 {
        ensure!(
            start.elapsed() < Duration::from_secs(5),
            "peers do not exit"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    drop(DropAfter::new(DropOptions::new(), "scenario").map_err(|e| e.to_string())?);
    dropped_here()
}

/// `/proc` of the PID namespace itself: every thread is changed and verified.
fn own_proc() -> Verdict {
    let peers = Peers::start(3);
    let r = process::drop_all(&DropOptions::new()).map_err(|e| e.to_string())?;
    ensure!(r.threads == 4, "{r:?}");
    for s in peers.states()? {
        ensure!(s == CapState::empty(), "a peer kept {s:?}");
    }
    dropped_here()?;
    peers.finish();
    Ok(())
}

fn chroot_empty() -> Verdict {
    let dir = std::env::temp_dir().join(format!("capscope-chroot-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    std::os::unix::fs::chroot(&dir).map_err(|e| format!("chroot: {e}"))?;
    std::env::set_current_dir("/").map_err(|e| e.to_string())?;
    ensure!(
        !std::path::Path::new("/proc/self").exists(),
        "the chroot has a /proc"
    );
    Ok(())
}

#[capscope::drop_caps_after(on_missing = panic)]
fn drop_in_chroot() -> Verdict {
    chroot_empty()
}

/// The textbook sandbox: chroot into an empty directory, then drop. Nothing needs /proc.
fn chroot_per_thread() -> Verdict {
    drop_in_chroot()?;
    dropped_here()
}

/// With peers, `all_threads`: armed before the chroot (the /proc/self/task directory is kept),
/// dropped after it; every peer verified.
fn chroot_all_threads() -> Verdict {
    let peers = Peers::start(3);
    {
        let _drop = DropAfter::new(DropOptions::new().all_threads(), "scenario")
            .map_err(|e| e.to_string())?;
        chroot_empty()?;
    }
    dropped_here()?;
    for s in peers.states()? {
        ensure!(s == CapState::empty(), "a peer kept {s:?}");
    }
    peers.finish();
    Ok(())
}

/// Per-thread `#[drop_caps_after]`, a worker started in the body after a chroot: the drop at the
/// end reaches it through the directory kept from before the body.
fn chroot_worker_in_body() -> Verdict {
    let peers = {
        let _drop = DropAfter::new(DropOptions::new(), "scenario").map_err(|e| e.to_string())?;
        chroot_empty()?;
        Peers::start(2)
    };
    dropped_here()?;
    for s in peers.states()? {
        ensure!(s == CapState::empty(), "the worker kept {s:?}");
    }
    peers.finish();
    Ok(())
}

/// No /proc and no directory kept from before (the peers start after the chroot, so capscope's
/// `pthread_create` could not open it either): the process-wide path refuses before any
/// change.
fn chroot_refuses() -> Verdict {
    chroot_empty()?;
    let peers = Peers::start(2);
    let before = peers.states()?;
    let e = process::drop_all(&DropOptions::new())
        .map(|r| format!("claimed success: {r:?}"))
        .err();
    let Some(e) = e else {
        return Err("process::drop_all worked without any /proc".into());
    };
    ensure!(
        matches!(e, capscope::Error::Refused { .. }) && e.to_string().contains("no /proc"),
        "{e}"
    );
    ensure!(peers.states()? == before, "a peer changed");
    ensure!(
        CapState::get_current()
            .map_err(|e| e.to_string())?
            .permitted
            != CapSet::empty(),
        "the calling thread changed"
    );
    // A scope that would raise: refused before it raises (its end could not check the peers).
    capscope::cap_effective()
        .drop(capscope::Cap::CHOWN)
        .map_err(|e| e.to_string())?;
    match capscope::RaiseGuard::raise(capscope::Cap::CHOWN) {
        Ok(_) => return Err("a scope raised with threads and no /proc to check them".into()),
        Err(e) => ensure!(
            matches!(e, capscope::Error::Refused { .. }) && e.to_string().contains("/proc"),
            "{e}"
        ),
    }
    ensure!(
        !CapState::get_current()
            .map_err(|e| e.to_string())?
            .effective
            .has(capscope::Cap::CHOWN),
        "the refused scope raised"
    );
    peers.finish();
    Ok(())
}

/// Threads started before a chroot (through capscope's `pthread_create`, which opened
/// `/proc/self/task` then): after it, with no /proc in sight, `process::drop_all` still reaches
/// and verifies every thread, and a scope that raises and ends is checked.
fn chroot_after_threads() -> Verdict {
    let peers = Peers::start(2);
    chroot_empty()?;
    capscope::cap_effective()
        .drop(capscope::Cap::CHOWN)
        .map_err(|e| e.to_string())?;
    {
        let _g = capscope::RaiseGuard::raise(capscope::Cap::CHOWN).map_err(|e| e.to_string())?;
    }
    let report = process::drop_all(&DropOptions::new()).map_err(|e| e.to_string())?;
    ensure!(report.threads == 3, "{report:?}");
    dropped_here()?;
    for s in peers.states()? {
        ensure!(s == CapState::empty(), "a peer kept {s:?}");
    }
    peers.finish();
    Ok(())
}

fn run(name: &str) -> Verdict {
    match name {
        "foreign-proc" => foreign_proc(),
        "own-proc" => own_proc(),
        "chroot-per-thread" => chroot_per_thread(),
        "chroot-all-threads" => chroot_all_threads(),
        "chroot-worker-in-body" => chroot_worker_in_body(),
        "chroot-refuses" => chroot_refuses(),
        "chroot-after-threads" => chroot_after_threads(),
        other => Err(format!("no scenario {other:?}")),
    }
}

fn main() {
    let name = std::env::args().nth(1).unwrap_or_default();
    match run(&name) {
        Ok(()) => println!("PASS"),
        Err(why) => {
            println!("FAIL {why}");
            std::process::exit(1);
        }
    }
}
