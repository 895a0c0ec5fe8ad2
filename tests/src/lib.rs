//! Helpers shared by capscope's tests: run a closure in a forked child, in a new user
//! namespace, or on a thread that exits, and get the child's verdict back.
//!
//! Privileged behaviour is tested for real in one `cargo test` run whoever runs it:
//! [`privileged`] forks a child as root (so irreversible changes stay in the child), and as a
//! normal user forks a child that enters a new user namespace, where it holds every
//! capability, instead of skipping the test. A test that cannot run (no fork, no user
//! namespace) fails with the reason; nothing is skipped silently.
//!
//! A closure returns `Ok(())` for a pass or `Err(message)`; a panic inside it is caught and
//! reported with its message; a child that dies from a signal or hangs past
//! [`CHILD_TIMEOUT`] is reported as such.

pub mod state;

use std::io::Read;
use std::os::fd::{FromRawFd, OwnedFd};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Once;
use std::time::{Duration, Instant};

/// How long a child may run before it is killed and its test fails.
pub const CHILD_TIMEOUT: Duration = Duration::from_secs(120);

/// What a test closure returns: `Ok(())` for a pass, `Err(why)` for a failure.
pub type Verdict = Result<(), String>;

/// Fails the calling test with `why` unless `cond` holds; for use inside child closures.
#[macro_export]
macro_rules! ensure {
    ($cond:expr $(,)?) => {
        if !$cond {
            return Err(format!("{}:{}: failed: {}", file!(), line!(), stringify!($cond)));
        }
    };
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err(format!("{}:{}: {}", file!(), line!(), format!($($fmt)+)));
        }
    };
}

/// Converts any `Result` into a [`Verdict`] error carrying the expression and its error.
#[macro_export]
macro_rules! check {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(err) => {
                return Err(format!(
                    "{}:{}: {} failed: {:?}",
                    file!(),
                    line!(),
                    stringify!($e),
                    err
                ))
            }
        }
    };
}

/// The path of the system tool `name`, looked up in `/usr/sbin`, `/sbin`, `/usr/bin`, `/bin`,
/// then `PATH`: Debian puts libcap's tools (`setcap`, `getcap`, `getpcaps`, `capsh`) in
/// `/usr/sbin`, which a normal user's `PATH` lacks. Only an executable regular file counts.
///
/// # Panics
///
/// When the tool is in none of these folders, with the Debian package that provides it: the
/// test fails, it is not skipped.
#[must_use]
pub fn tool(name: &str) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let package = match name {
        "setcap" | "getcap" | "getpcaps" | "capsh" => "libcap2-bin",
        "setpriv" | "unshare" | "nsenter" => "util-linux",
        "sleep" | "chmod" => "coreutils",
        _ => "",
    };
    let fixed = ["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(std::path::PathBuf::from);
    let path = std::env::var_os("PATH").unwrap_or_default();
    fixed
        .into_iter()
        .chain(std::env::split_paths(&path))
        .map(|d| d.join(name))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
        .unwrap_or_else(|| {
            let install = if package.is_empty() {
                String::new()
            } else {
                format!(": install Debian's `{package}` package (apt-get install {package})")
            };
            panic!("`{name}` not found in /usr/sbin, /sbin, /usr/bin, /bin or PATH{install}")
        })
}

/// Whether the calling thread is root with the capabilities privileged tests need.
#[must_use]
pub fn is_privileged() -> bool {
    let needed = capscope::capset![
        capscope::Cap::SETPCAP,
        capscope::Cap::SETUID,
        capscope::Cap::SETGID,
        capscope::Cap::SYS_ADMIN,
        capscope::Cap::SETFCAP
    ];
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    euid == 0
        && capscope::CapState::get_current()
            .map(|s| s.permitted.is_superset(needed) && s.effective.is_superset(needed))
            .unwrap_or(false)
}

/// Runs `f` in a forked child process and returns its verdict.
///
/// Use it for changes that must not touch the test process (bounding set, no_new_privs,
/// securebit locks, uids). The child runs only `f` and then `_exit`s.
pub fn in_child<F: FnOnce() -> Verdict>(f: F) -> Verdict {
    fork_and_run(f)
}

/// Runs `f` in a forked child that first enters a new user namespace (uid and gid 0 inside,
/// mapped to the caller's), where it holds every capability of that namespace.
pub fn in_userns<F: FnOnce() -> Verdict>(f: F) -> Verdict {
    // SAFETY: getuid/getgid have no preconditions.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    fork_and_run(move || {
        enter_userns(uid, gid)?;
        f()
    })
}

/// Runs `f` with privilege: in a forked child as root ([`in_child`]), or in a new user
/// namespace as a normal user ([`in_userns`]). Either way the change stays in the child.
pub fn privileged<F: FnOnce() -> Verdict>(f: F) -> Verdict {
    if is_privileged() {
        in_child(f)
    } else {
        in_userns(f)
    }
}

/// Runs `f` on a new thread that then exits, and returns its verdict (panics are caught).
/// Per-thread irreversible changes made there (bounding set, no_new_privs) die with it.
pub fn in_thread<F: FnOnce() -> Verdict + Send + 'static>(f: F) -> Verdict {
    match std::thread::spawn(f).join() {
        Ok(v) => v,
        Err(p) => Err(format!("panicked: {}", panic_message(p.as_ref()))),
    }
}

/// Asserts that a [`Verdict`] is a pass, with the child's message otherwise.
#[track_caller]
pub fn assert_pass(v: Verdict) {
    if let Err(why) = v {
        panic!("{why}");
    }
}

/// Which mode [`privileged`] uses here, for test messages.
#[must_use]
pub fn mode() -> &'static str {
    if is_privileged() {
        "root: forked child"
    } else {
        "non-root: forked child in a new user namespace"
    }
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_owned()
    }
}

fn write_file(path: &str, data: &str) -> Verdict {
    std::fs::write(path, data).map_err(|e| format!("cannot write {path:?} = {data:?}: {e}"))
}

fn enter_userns(uid: u32, gid: u32) -> Verdict {
    // SAFETY: unshare takes flags only; the child is single-threaded after fork, as
    // CLONE_NEWUSER requires.
    if unsafe { libc::unshare(libc::CLONE_NEWUSER) } != 0 {
        return Err(format!(
            "cannot create a user namespace (needed to run privileged tests as a normal user): {}",
            std::io::Error::last_os_error()
        ));
    }
    write_file("/proc/self/setgroups", "deny")?;
    write_file("/proc/self/uid_map", &format!("0 {uid} 1"))?;
    write_file("/proc/self/gid_map", &format!("0 {gid} 1"))?;
    Ok(())
}

/// Set in a forked child only (its own copy of memory), so the panic hook knows where it runs.
static IN_FORKED_CHILD: AtomicBool = AtomicBool::new(false);

/// A panic hook that, in a forked child, takes none of std's locks: another thread of the
/// parent may have held the stderr or backtrace lock at the moment of `fork`, and the child's
/// copy of that lock would never be released. The child reports the panic message through its
/// verdict instead (with its location, written here with a raw `write`). In the parent, the
/// previous hook runs as before.
fn install_child_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if IN_FORKED_CHILD.load(Ordering::Relaxed) {
                let msg = format!("forked child panicked: {info}\n");
                // SAFETY: writes a valid buffer to fd 2; no lock is taken.
                unsafe { libc::write(2, msg.as_ptr().cast(), msg.len()) };
            } else {
                previous(info);
            }
        }));
    });
}

fn fork_and_run<F: FnOnce() -> Verdict>(f: F) -> Verdict {
    install_child_panic_hook();
    let mut fds = [0i32; 2];
    // SAFETY: fds is a valid array of two ints.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(format!("pipe2: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: pipe2 returned two fresh descriptors that we now own.
    let (rd, wr) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    // SAFETY: fork has no preconditions; the child only runs `f`, writes its verdict to the pipe
    // and leaves with _exit, never returning into the test harness.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(format!("fork: {}", std::io::Error::last_os_error()));
    }
    if pid == 0 {
        IN_FORKED_CHILD.store(true, Ordering::Relaxed);
        drop(rd);
        let verdict = match catch_unwind(AssertUnwindSafe(f)) {
            Ok(Ok(())) => "PASS".to_owned(),
            Ok(Err(why)) => format!("FAIL {why}"),
            Err(p) => format!("FAIL panicked: {}", panic_message(p.as_ref())),
        };
        let mut file = std::fs::File::from(wr);
        let _ = std::io::Write::write_all(&mut file, verdict.as_bytes());
        drop(file);
        // SAFETY: _exit ends the child without running the parent's atexit handlers.
        unsafe { libc::_exit(0) };
    }
    drop(wr);
    let (out, timed_out) = read_with_timeout(rd, pid);
    let mut status = 0;
    // SAFETY: pid is our child; status is a valid out-pointer.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    if timed_out {
        return Err(format!(
            "child {pid} did not finish within {CHILD_TIMEOUT:?} and was killed"
        ));
    }
    if libc::WIFSIGNALED(status) {
        return Err(format!(
            "child {pid} was killed by signal {} (output: {out:?})",
            libc::WTERMSIG(status)
        ));
    }
    match out.strip_prefix("FAIL ") {
        Some(why) => Err(why.to_owned()),
        None if out == "PASS" => Ok(()),
        None => Err(format!(
            "child {pid} exited with status {status} without a verdict (output: {out:?})"
        )),
    }
}

fn read_with_timeout(rd: OwnedFd, pid: i32) -> (String, bool) {
    let deadline = Instant::now() + CHILD_TIMEOUT;
    let mut file = std::fs::File::from(rd);
    let mut out = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            // SAFETY: pid is our child, not yet reaped.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            return (String::from_utf8_lossy(&out).into_owned(), true);
        }
        let mut pfd = libc::pollfd {
            fd: std::os::fd::AsRawFd::as_raw_fd(&file),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = i32::try_from(left.as_millis()).unwrap_or(i32::MAX);
        // SAFETY: pfd is one valid pollfd.
        let n = unsafe { libc::poll(&mut pfd, 1, ms) };
        if n < 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            break;
        }
        if n == 0 {
            continue;
        }
        let mut buf = [0u8; 4096];
        match file.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(k) => out.extend_from_slice(&buf[..k]),
        }
    }
    (String::from_utf8_lossy(&out).into_owned(), false)
}

/// Runs `f` in a forked child inside a new user namespace where uids and gids `0..count` are
/// mapped (identity mapping to the same ids of the initial namespace) and `setgroups` is
/// allowed, so tests can switch between several ids there.
///
/// Writing such maps needs `CAP_SETUID`/`CAP_SETGID` in the initial namespace, i.e. root: an
/// unprivileged user can map only its own id (that is what [`in_userns`] does). As a normal
/// user this returns an `Err` with that reason; callers decide what to run instead and say so.
pub fn in_userns_mapped<F: FnOnce() -> Verdict>(count: u32, f: F) -> Verdict {
    if !is_privileged() {
        return Err(
            "in_userns_mapped needs root: an unprivileged user can map only one id into a user namespace"
                .to_owned(),
        );
    }
    fork_and_run(move || {
        enter_userns_mapped(count)?;
        f()
    })
}

/// In a single-threaded child: unshare a user namespace and have a helper process, still in the
/// parent namespace (as the kernel requires for maps of more than the caller's own id), write
/// the uid and gid maps.
fn enter_userns_mapped(count: u32) -> Verdict {
    let mut fds = [0i32; 2];
    // SAFETY: fds is a valid array of two ints.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(format!("pipe2: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: getpid has no preconditions.
    let me = unsafe { libc::getpid() };
    // SAFETY: this process is single-threaded (a forked test child); the helper only waits on
    // the pipe, writes two files and leaves with _exit.
    let helper = unsafe { libc::fork() };
    if helper < 0 {
        return Err(format!("fork: {}", std::io::Error::last_os_error()));
    }
    if helper == 0 {
        let mut b = [0u8; 1];
        // SAFETY: reads one byte into a valid buffer.
        let n = unsafe { libc::read(fds[0], b.as_mut_ptr().cast(), 1) };
        let map = format!("0 0 {count}");
        let ok = n == 1
            && write_file(&format!("/proc/{me}/uid_map"), &map).is_ok()
            && write_file(&format!("/proc/{me}/gid_map"), &map).is_ok();
        // SAFETY: ends the helper without running the parent's atexit handlers.
        unsafe { libc::_exit(i32::from(!ok)) };
    }
    // SAFETY: unshare takes flags only; this process is single-threaded.
    let r = unsafe { libc::unshare(libc::CLONE_NEWUSER) };
    let err = std::io::Error::last_os_error();
    // SAFETY: writes one byte from a valid buffer; the helper waits for it either way.
    unsafe { libc::write(fds[1], b"g".as_ptr().cast(), 1) };
    let mut status = 0;
    // SAFETY: helper is our child; status is a valid out-pointer.
    unsafe { libc::waitpid(helper, &mut status, 0) };
    // SAFETY: closing the two descriptors we created.
    unsafe {
        libc::close(fds[0]);
        libc::close(fds[1]);
    }
    if r != 0 {
        return Err(format!("unshare(CLONE_NEWUSER): {err}"));
    }
    if !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
        return Err(format!(
            "the helper could not write the uid/gid maps (status {status})"
        ));
    }
    Ok(())
}

/// Installs, on the calling thread, a seccomp filter that makes every `capset` fail with
/// `EPERM` (and sets no_new_privs, which the filter needs): [`fail_syscall`] for `capset`,
/// after setting no_new_privs even with `CAP_SYS_ADMIN`. Irreversible: only in a forked
/// child or a thread that exits. Used to drive the fail-closed paths of guards.
///
/// # Errors
///
/// When `prctl` refuses the filter.
pub fn fail_every_capset() -> Verdict {
    // SAFETY: prctl with integer arguments.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        return Err(format!(
            "PR_SET_NO_NEW_PRIVS: {}",
            std::io::Error::last_os_error()
        ));
    }
    let eperm = u16::try_from(libc::EPERM).map_err(|e| e.to_string())?;
    fail_syscall(libc::SYS_capset, &[], eperm)
}

/// xorshift64*: a small, seeded, reproducible generator for the randomised tests (a failure
/// reproduces from the seed the test names).
#[derive(Clone, Debug)]
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number below `n` (which must not be 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }

    /// One element of `xs` (which must not be empty).
    pub fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len())]
    }
}

/// An [`IdChange`](capscope::IdChange) from the four values tests enumerate (uid, gid, groups,
/// whether to keep the effective set).
pub fn ids<'a>(
    uid: Option<u32>,
    gid: Option<u32>,
    groups: Option<&'a [u32]>,
    keep_effective: bool,
) -> capscope::IdChange<'a> {
    let mut c = capscope::IdChange::new();
    if let Some(u) = uid {
        c = c.uid(u);
    }
    if let Some(g) = gid {
        c = c.gid(g);
    }
    if let Some(gs) = groups {
        c = c.groups(gs);
    }
    if keep_effective {
        c = c.keep_effective();
    }
    c
}

/// Installs, on the calling thread, a seccomp filter that makes the system call `nr` fail with
/// `errno` when its arguments match `args` (pairs of argument index and value, compared on
/// their low 32 bits); every other call is allowed. Without `CAP_SYS_ADMIN` in the effective
/// set it sets no_new_privs first (the kernel requires one or the other). Irreversible, and
/// inherited by children: only in a forked child or a thread that exits. Used to make one
/// step of a change fail on purpose.
///
/// # Errors
///
/// When `prctl` refuses the filter.
pub fn fail_syscall(nr: i64, args: &[(u32, u32)], errno: u16) -> Verdict {
    const BPF_LD_W_ABS: u16 = 0x20;
    const BPF_JMP_JEQ_K: u16 = 0x15;
    const BPF_RET_K: u16 = 0x06;
    const SECCOMP_RET_ERRNO: u32 = 0x0005_0000;
    const SECCOMP_RET_ALLOW: u32 = 0x7fff_0000;
    let nr = u32::try_from(nr).map_err(|e| e.to_string())?;
    let stmt = |code, k| libc::sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    };
    // Each comparison jumps to the final "allow" on a mismatch.
    let tests = 1 + args.len();
    let mut filter = Vec::new();
    let compare = |filter: &mut Vec<libc::sock_filter>, offset: u32, value: u32, i: usize| {
        filter.push(stmt(BPF_LD_W_ABS, offset));
        let left = u8::try_from(2 * (tests - i - 1) + 1).expect("a short filter");
        filter.push(libc::sock_filter {
            code: BPF_JMP_JEQ_K,
            jt: 0,
            jf: left,
            k: value,
        });
    };
    compare(&mut filter, 0, nr, 0);
    for (i, &(index, value)) in args.iter().enumerate() {
        // struct seccomp_data: nr (4), arch (4), instruction_pointer (8), args[6] (8 each).
        compare(&mut filter, 16 + 8 * index, value, i + 1);
    }
    filter.push(stmt(BPF_RET_K, SECCOMP_RET_ERRNO | u32::from(errno)));
    filter.push(stmt(BPF_RET_K, SECCOMP_RET_ALLOW));
    let prog = libc::sock_fprog {
        len: u16::try_from(filter.len()).map_err(|e| e.to_string())?,
        filter: filter.as_mut_ptr(),
    };
    let admin = capscope::CapState::get_current()
        .map(|s| s.effective.has(capscope::Cap::SYS_ADMIN))
        .unwrap_or(false);
    // SAFETY: prctl with integer arguments.
    if !admin && unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        return Err(format!(
            "PR_SET_NO_NEW_PRIVS: {}",
            std::io::Error::last_os_error()
        ));
    }
    // SAFETY: prog points to a valid filter that outlives the call (the kernel copies it).
    if unsafe {
        libc::prctl(
            libc::PR_SET_SECCOMP,
            libc::SECCOMP_MODE_FILTER,
            &prog as *const libc::sock_fprog,
        )
    } != 0
    {
        return Err(format!(
            "PR_SET_SECCOMP: {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

/// What the `launch-probe` program printed (its `Name: value` lines), once it exited with
/// success; otherwise an error with its status and standard error.
///
/// # Errors
///
/// When the probe failed.
pub fn probe_fields(
    out: &std::process::Output,
) -> Result<std::collections::BTreeMap<String, String>, String> {
    ensure!(
        out.status.success(),
        "the probe failed: {:?}, stderr {:?}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            l.split_once(": ")
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
        })
        .collect())
}

/// Starts `/bin/sleep 5` with `plan` declared, checks it with [`Plan::verify`] from outside,
/// then kills and reaps it: what capscope sees of a running child of the plan.
///
/// [`Plan::verify`]: capscope::launch::Plan::verify
///
/// # Errors
///
/// When the spawn fails, or the verification's own error.
pub fn verify_a_sleeper(
    plan: &capscope::launch::Plan,
) -> capscope::Result<capscope::launch::ChildState> {
    use capscope::launch::CommandExt as _;
    let mut child = std::process::Command::new("/bin/sleep")
        .arg("5")
        .declare(plan)
        .spawn_declared()?;
    let seen = plan.verify(&child);
    let _ = child.kill();
    let _ = child.wait();
    seen
}
