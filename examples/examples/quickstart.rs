//! capscope's quickstart: a small service binds a privileged port inside a
//! `#[requires_caps(net_bind_service)]` function, drops every capability with
//! `#[drop_caps_after]`, then serves, printing the capability state at each step.
//!
//! ```text
//! cargo run -p capscope-examples --example quickstart
//! ```
//!
//! As root it runs directly (binding port 80 on 127.0.0.1 for a moment; if port 80 is
//! taken, set `QUICKSTART_PORT`). As a normal user it enters new user and network namespaces
//! first, where it holds every capability and port 80 is free. The helpers (namespaces,
//! printing, serving) are in `examples/src/quickstart.rs`.

use std::io::Write;
use std::net::{Ipv4Addr, TcpListener};

use capscope::{drop_caps_after, requires_caps};
use capscope_examples::quickstart::{prepare, serve_one, show, Mode};

/// Binds `port` on the loopback address: ports below 1024 need `CAP_NET_BIND_SERVICE`, which
/// is effective here and only here. A missing capability is an `Err`: the function returns an
/// `io::Result`.
#[requires_caps(net_bind_service)]
fn bind_privileged(out: &mut dyn Write, port: u16) -> std::io::Result<TcpListener> {
    show(
        out,
        "3. inside bind_privileged (#[requires_caps(net_bind_service)]):",
    )?;
    TcpListener::bind((Ipv4Addr::LOCALHOST, port))
}

/// The privileged set-up. When it returns (or fails, or panics), every capability is gone.
#[drop_caps_after]
fn init(out: &mut dyn Write, port: u16) -> std::io::Result<TcpListener> {
    bind_privileged(out, port)
}

fn main() -> std::io::Result<()> {
    let out = &mut std::io::stdout();
    match prepare()? {
        Mode::Direct => writeln!(
            out,
            "running directly (this process may bind privileged ports)"
        )?,
        Mode::Namespaces => writeln!(
            out,
            "running as a normal user: inside new user and network namespaces (uid 0 there)"
        )?,
    }
    let port: u16 = std::env::var("QUICKSTART_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(80);
    // Step 5 binds the next port (the first one is the listener's by then).
    let other = port.checked_add(1).ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("QUICKSTART_PORT={port}: the demo also binds the next port, and there is none"),
        )
    })?;

    show(out, "0. start:")?;
    // The start-up audit: what the program was given beyond what its annotated functions need.
    let extra = capscope::manifest::excess()?;
    if !extra.is_empty() {
        writeln!(
            out,
            "   warning: {} permitted capabilities no annotated function needs (dropped next)",
            extra.len()
        )?;
    }
    // Keep only what the program's #[requires_caps] functions need (the link-time manifest),
    // permitted but not effective: raised only where needed.
    capscope::manifest::restrict(&capscope::drop_after::DropOptions::new())?;
    show(
        out,
        "1. after manifest::restrict() (only what #[requires_caps] functions need):",
    )?;

    let refused = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_err();
    writeln!(
        out,
        "2. binding port {port} without raising the capability: {}",
        if refused { "refused" } else { "allowed?!" }
    )?;

    let listener = init(out, port)?;
    show(
        out,
        &format!(
            "4. after init (#[drop_caps_after]), listening on {}:",
            listener.local_addr()?
        ),
    )?;

    let refused_after = match bind_privileged(&mut std::io::sink(), other) {
        Ok(_) => {
            writeln!(out, "5. binding port {other} after the drop: allowed?!")?;
            false
        }
        Err(e) => {
            writeln!(out, "5. binding port {other} after the drop: refused ({e})")?;
            true
        }
    };

    let reply = serve_one(&listener)?;
    writeln!(
        out,
        "6. served one request with no capability left: {reply:?}"
    )?;
    if !(refused && refused_after) {
        return Err(std::io::Error::other(
            "a privileged bind was allowed where it must not be",
        ));
    }
    writeln!(
        out,
        "done: every capability dropped, the service still served"
    )?;
    Ok(())
}
