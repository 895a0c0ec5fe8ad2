//! The logic of the `quickstart` example, in the library so that tests run it too.
//!
//! A small service: it binds a privileged port with `#[requires_caps(net_bind_service)]`, then
//! drops every capability with `#[drop_caps_after]`, and serves one request on the socket it
//! kept, printing the thread's capability state at each step.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};

use capscope::{drop_caps_after, requires_caps, CapSet, CapState};

/// What a run of the quickstart saw, for tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Where the service listened.
    pub addr: SocketAddr,
    /// Whether binding the port without raising the capability failed, as it must.
    pub refused_without_caps: bool,
    /// The effective set inside the `#[requires_caps]` function.
    pub effective_inside: CapSet,
    /// The state after `#[drop_caps_after]`.
    pub after_drop: CapState,
    /// Whether a second privileged bind was refused after the drop.
    pub refused_after_drop: bool,
    /// The reply the service gave to its one request.
    pub reply: String,
}

/// Where the run happens: the caller's namespaces (root), or new user and network namespaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Run directly: the process holds `CAP_NET_BIND_SERVICE` in its permitted set.
    Direct,
    /// Run inside new user and network namespaces made for the demo.
    Namespaces,
}

fn show(out: &mut dyn Write, step: &str) -> std::io::Result<()> {
    let s = CapState::get_current().map_err(std::io::Error::from)?;
    let list = |c: CapSet| match c.len() {
        0 => "(none)".to_owned(),
        1..=4 => c.to_string(),
        n => format!("{n} capabilities"),
    };
    writeln!(
        out,
        "{step}\n    effective:   {}\n    permitted:   {}",
        list(s.effective),
        list(s.permitted)
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

/// Binds `port` on the loopback address; needs `CAP_NET_BIND_SERVICE` for ports below 1024.
#[requires_caps(net_bind_service)]
fn bind_privileged(port: u16, inside: &mut CapSet) -> std::io::Result<TcpListener> {
    *inside = CapState::get_current()?.effective;
    TcpListener::bind((Ipv4Addr::LOCALHOST, port))
}

/// The privileged set-up; when it returns, every capability is gone.
#[drop_caps_after]
fn init(out: &mut dyn Write, port: u16, inside: &mut CapSet) -> std::io::Result<TcpListener> {
    let listener = bind_privileged(port, inside)?;
    show(
        out,
        &format!(
            "3. bound {} inside #[requires_caps(net_bind_service)]; after it:",
            listener.local_addr()?
        ),
    )?;
    Ok(listener)
}

/// Runs the demo on `port`, writing what happens to `out`. Call [`prepare`] first; the process
/// must be single-threaded (`#[drop_caps_after]` refuses otherwise).
///
/// # Errors
///
/// Any failing step.
pub fn run(out: &mut dyn Write, port: u16) -> std::io::Result<Outcome> {
    show(out, "0. start:")?;
    // Keep only what the program's #[requires_caps] functions need (the link-time manifest),
    // permitted but not effective: raised only where needed.
    capscope::manifest::restrict(&capscope::drop_after::DropOptions::new())?;
    show(out, "1. after manifest::restrict() (only what #[requires_caps] functions need, none effective):")?;

    let refused_without_caps = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_err();
    writeln!(
        out,
        "2. binding port {port} without raising the capability: {}",
        if refused_without_caps {
            "refused"
        } else {
            "allowed?!"
        }
    )?;

    let mut effective_inside = CapSet::empty();
    let listener = init(out, port, &mut effective_inside)?;
    writeln!(
        out,
        "   inside bind_privileged the effective set was {effective_inside}"
    )?;
    show(out, "4. after #[drop_caps_after] on init:")?;
    let after_drop = CapState::get_current()?;

    let refused_after_drop = match bind_privileged(port + 1, &mut CapSet::empty()) {
        Ok(_) => false,
        Err(e) => {
            writeln!(out, "5. binding again after the drop fails: {e}")?;
            true
        }
    };

    let addr = listener.local_addr()?;
    let mut client = TcpStream::connect(addr)?;
    client.write_all(b"ping")?;
    let (mut conn, _) = listener.accept()?;
    let mut buf = [0u8; 4];
    conn.read_exact(&mut buf)?;
    conn.write_all(b"pong from an unprivileged service")?;
    drop(conn);
    let mut reply = String::new();
    client.read_to_string(&mut reply)?;
    writeln!(
        out,
        "6. served one request on {addr} with no capability left: {reply:?}"
    )?;
    Ok(Outcome {
        addr,
        refused_without_caps,
        effective_inside,
        after_drop,
        refused_after_drop,
        reply,
    })
}
