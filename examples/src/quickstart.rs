//! What the `quickstart` example needs besides its two annotated functions (which are in the
//! example's own file, `examples/quickstart.rs`): entering namespaces for a normal user,
//! printing the capability state, serving one request.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};

use capscope::{CapSet, CapState};

/// Where the run happens: the caller's namespaces (root), or new user and network namespaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Run directly: the process holds `CAP_NET_BIND_SERVICE` in its permitted set.
    Direct,
    /// Run inside new user and network namespaces made for the demo.
    Namespaces,
}

/// Prints `step` and the calling thread's effective, permitted and inheritable sets, one per
/// line (`(none)` for an empty set).
///
/// # Errors
///
/// When `capget` or the write fails.
pub fn show(out: &mut dyn Write, step: &str) -> std::io::Result<()> {
    let s = CapState::get_current().map_err(std::io::Error::from)?;
    let list = |c: CapSet| crate::list(c, 4);
    writeln!(
        out,
        "{step}\n    effective:   {}\n    permitted:   {}\n    inheritable: {}",
        list(s.effective),
        list(s.permitted),
        list(s.inheritable)
    )
}

/// Makes the demo possible for anyone: as a normal user (without `CAP_NET_BIND_SERVICE` in the
/// permitted set), enters a new user namespace (mapping the caller's uid and gid to 0) and a new
/// network namespace, where the process holds every capability and port 80 is free.
///
/// # Errors
///
/// When the namespaces cannot be made (user namespaces disabled, or the process has threads).
pub fn prepare() -> std::io::Result<Mode> {
    let s = CapState::get_current().map_err(std::io::Error::from)?;
    if s.permitted.has(capscope::Cap::NET_BIND_SERVICE) {
        return Ok(Mode::Direct);
    }
    let (uid, gid) = (
        rustix::process::getuid().as_raw(),
        rustix::process::getgid().as_raw(),
    );
    let flags = rustix::thread::UnshareFlags::NEWUSER | rustix::thread::UnshareFlags::NEWNET;
    // SAFETY: no FILES flag, so no thread can lose its file descriptor table; the example
    // calls this first thing in main, while single-threaded, as CLONE_NEWUSER requires.
    unsafe { rustix::thread::unshare_unsafe(flags) }?;
    std::fs::write("/proc/self/setgroups", "deny")?;
    std::fs::write("/proc/self/uid_map", format!("0 {uid} 1"))?;
    std::fs::write("/proc/self/gid_map", format!("0 {gid} 1"))?;
    loopback_up()?;
    Ok(Mode::Namespaces)
}

/// Brings up `lo` (needed in a new network namespace): `SIOCSIFFLAGS`, through libc as
/// rustix has no call for it.
///
/// # Errors
///
/// When the ioctl fails (it needs `CAP_NET_ADMIN` over the network namespace).
pub fn loopback_up() -> std::io::Result<()> {
    // SAFETY: plain socket(2) call; the fd is owned below.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh descriptor we own.
    let fd = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    // SAFETY: ifreq is plain data; all-zero is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
        *dst = *src as libc::c_char;
    }
    let raw = std::os::fd::AsRawFd::as_raw_fd(&fd);
    // SAFETY: SIOCGIFFLAGS reads into the valid ifreq.
    if unsafe { libc::ioctl(raw, libc::SIOCGIFFLAGS, &mut req) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: ifru_flags is the union member SIOCGIFFLAGS filled.
    unsafe { req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short };
    // SAFETY: SIOCSIFFLAGS reads the valid ifreq.
    if unsafe { libc::ioctl(raw, libc::SIOCSIFFLAGS, &req) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Serves one request on `listener`: connects to it, sends `ping`, answers, and returns the
/// reply the client read.
///
/// # Errors
///
/// When a socket call fails.
pub fn serve_one(listener: &TcpListener) -> std::io::Result<String> {
    let mut client = TcpStream::connect(listener.local_addr()?)?;
    client.write_all(b"ping")?;
    let (mut conn, _) = listener.accept()?;
    let mut buf = [0u8; 4];
    conn.read_exact(&mut buf)?;
    conn.write_all(b"pong from an unprivileged service")?;
    drop(conn);
    let mut reply = String::new();
    client.read_to_string(&mut reply)?;
    Ok(reply)
}
