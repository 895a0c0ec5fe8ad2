//! A service whose annotated functions declare everything it may do with privilege, and that
//! never reads its own manifest: `capscope manifest` reads it from the built file.
//!
//! ```text
//! cargo build -p capscope-examples --example service
//! cargo run -p capscope-examples --bin capscope -- manifest target/debug/examples/service
//! cargo run -p capscope-examples --bin capscope -- manifest --format systemd target/debug/examples/service
//! ```
//!
//! The functions are not run (they would need the capabilities): `main` only names them. One
//! is not even named: the manifest lists every annotated function linked into the program.

use std::net::{Ipv4Addr, TcpListener};

use capscope::{drop_caps_after, requires_caps, CapSet, CapState};

/// Binds the service's port.
#[requires_caps(net_bind_service)]
fn bind(port: u16) -> std::io::Result<TcpListener> {
    TcpListener::bind((Ipv4Addr::UNSPECIFIED, port))
}

/// Probes the network with raw sockets, nothing else effective.
#[requires_caps(net_raw, net_admin, exclusive)]
fn probe() -> capscope::Result<CapSet> {
    Ok(CapState::get_current()?.effective)
}

/// Sets the clock, from a task.
#[requires_caps(sys_time)]
async fn adjust_clock(delta_ms: i64) -> std::io::Result<i64> {
    Ok(delta_ms)
}

/// The set-up: when it ends, the service runs as `nobody`, with only `CAP_NET_RAW` left
/// permitted, and no `execve` can give anything back.
#[drop_caps_after(keep(net_raw), bounding, no_new_privs, user = "nobody")]
fn init(port: u16) -> std::io::Result<TcpListener> {
    bind(port)
}

/// Never called, never named: still in the manifest.
#[allow(dead_code)]
#[requires_caps(dac_read_search)]
fn read_any_file(path: &std::path::Path) -> std::io::Result<Vec<u8>> {
    std::fs::read(path)
}

fn main() {
    let _ = (init, probe, adjust_clock);
    println!(
        "This program declares its privileges in its file; see them with\n  \
         capscope manifest {}",
        std::env::args().next().unwrap_or_default()
    );
}
