//! Reading and arranging the calling thread's capability state in tests, and what a program
//! run now (`execve`) gets; oracles that do not go through capscope (the raw `capget` system
//! call, `/proc/self/task/<tid>/status`).

use capscope::{Cap, CapSet, CapState, FullCapState};

use crate::{check, ensure, Verdict};

/// The calling thread's effective set.
///
/// # Panics
///
/// If `capget` fails.
#[must_use]
pub fn effective() -> CapSet {
    CapState::get_current().expect("capget").effective
}

/// The calling thread's effective set, by the raw `capget` system call (not through capscope;
/// async-signal-safe, no allocation).
///
/// # Panics
///
/// If `capget` fails.
#[must_use]
pub fn raw_effective() -> u64 {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Default, Clone, Copy)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    let mut h = Header {
        version: 0x2008_0522,
        pid: 0,
    };
    let mut d = [Data::default(); 2];
    // SAFETY: capget writes two Data structs for version 3.
    let r = unsafe { libc::syscall(libc::SYS_capget, &mut h, d.as_mut_ptr()) };
    assert_eq!(r, 0, "capget");
    u64::from(d[0].effective) | u64::from(d[1].effective) << 32
}

/// Whether `cap` is in the calling thread's effective set, by the raw `capget` system call.
///
/// # Panics
///
/// If `capget` fails.
#[must_use]
pub fn raw_has(cap: Cap) -> bool {
    raw_effective() & (1 << cap.as_u8()) != 0
}

/// A capability field (`CapEff`, `CapPrm`, ...) of thread `tid` of this process, read from
/// `/proc/self/task/<tid>/status`.
///
/// # Errors
///
/// When the file cannot be read (the thread has exited, no `/proc`) or the field is missing.
pub fn task_caps(tid: u32, field: &str) -> Result<CapSet, String> {
    let path = format!("/proc/self/task/{tid}/status");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    status_caps(&text, field).map_err(|e| format!("{path}: {e}"))
}

/// The first CPU of the calling thread's affinity mask (the lowest-numbered CPU it may run on).
///
/// # Panics
///
/// If `sched_getaffinity` fails or the mask is empty.
#[must_use]
pub fn first_cpu() -> usize {
    // SAFETY: sched_getaffinity writes a cpu_set_t of the size given; CPU_ISSET reads it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        assert_eq!(
            libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set),
            0,
            "sched_getaffinity: {}",
            std::io::Error::last_os_error()
        );
        (0..libc::CPU_SETSIZE as usize)
            .find(|&c| libc::CPU_ISSET(c, &set))
            .expect("an empty affinity mask")
    }
}

/// Keeps `pool` in the permitted set but lowers it from the effective set (so a scope has
/// something to raise).
///
/// # Errors
///
/// When the permitted set lacks part of `pool`, or `capset` fails.
pub fn lower(pool: CapSet) -> Verdict {
    let s = check!(CapState::get_current());
    ensure!(
        s.permitted.is_superset(pool),
        "the child lacks {:?} in its permitted set",
        pool - s.permitted
    );
    check!(CapState {
        effective: s.effective - pool,
        ..s
    }
    .set_current());
    Ok(())
}

/// Removes `caps` from the effective, permitted and inheritable sets (so a scope misses them).
///
/// # Errors
///
/// When `capget` or `capset` fails.
pub fn unpermit(caps: CapSet) -> Verdict {
    let s = check!(CapState::get_current());
    check!(CapState {
        effective: s.effective - caps,
        permitted: s.permitted - caps,
        inheritable: s.inheritable - caps
    }
    .set_current());
    Ok(())
}

/// The calling thread's full state (ambient, bounding, securebits, no_new_privs...).
///
/// # Errors
///
/// When `/proc/self/task/<tid>/status` cannot be read.
pub fn full() -> Result<FullCapState, String> {
    FullCapState::get_for_thread(std::process::id(), capscope::current_tid())
        .map_err(|e| format!("FullCapState::get_for_thread: {e}"))
}

/// Checks that the effective, permitted, inheritable and ambient sets are all empty.
///
/// # Errors
///
/// When one is not, or cannot be read.
pub fn all_dropped() -> Verdict {
    let s = check!(CapState::get_current());
    ensure!(s == CapState::empty(), "capget after the drop: {s:?}");
    let full = full()?;
    ensure!(full.ambient.is_empty(), "ambient: {:?}", full.ambient);
    Ok(())
}

/// The `/proc/self/status` of a program run now: `/bin/cat /proc/self/status`, started with
/// `execve` from the calling thread. What it shows is what `execve` gives a program.
///
/// # Errors
///
/// When `/bin/cat` cannot run or fails.
pub fn exec_status() -> Result<String, String> {
    let out = std::process::Command::new("/bin/cat")
        .arg("/proc/self/status")
        .output()
        .map_err(|e| format!("exec /bin/cat: {e}"))?;
    ensure!(out.status.success(), "/bin/cat failed: {:?}", out);
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The value of field `name` of a `/proc/<pid>/status` text, words separated by one space
/// (`Uid` gives `"65534 65534 65534 65534"`); empty when the field is missing.
#[must_use]
pub fn status_field(status: &str, name: &str) -> String {
    status
        .lines()
        .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(':')))
        .map(|v| v.split_whitespace().collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// A capability field of a `/proc/<pid>/status` text (`CapPrm`, ...) as a set.
///
/// # Errors
///
/// When the field is missing or not hexadecimal.
pub fn status_caps(status: &str, name: &str) -> Result<CapSet, String> {
    let v = status_field(status, name);
    u64::from_str_radix(&v, 16)
        .map(CapSet::from_bits)
        .map_err(|e| format!("{name}: {v:?}: {e}"))
}
