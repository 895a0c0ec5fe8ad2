//! A tokio server that binds port 443 inside an annotated `async fn`, then drops every
//! capability on every thread of the runtime, checks that from `/proc`, and serves.
//!
//! ```text
//! cargo build -p capscope-examples --example async_server
//! sudo target/debug/examples/async_server --connections 1 &   # as root
//! printf 'hi\n' | nc 127.0.0.1 443
//! ```
//!
//! Options: `--port N` (default 443), `--connections N` (exit after serving N connections;
//! default: serve until killed).
//!
//! Steps, each printed:
//!
//! 1. `manifest::restrict_to`: on every thread (the runtime's workers already run), keep only
//!    what the program's `#[requires_caps]` functions need, `CAP_NET_BIND_SERVICE`, in the
//!    permitted set, and nothing effective. (`CAP_SETPCAP` is kept too when the process has
//!    it, as root does, for step 3's bounding-set drop, and only until then.)
//! 2. `bind`, an `async fn` annotated `#[requires_caps(net_bind_service)]`, binds the port: the
//!    capability is effective only while that future is polled, on the thread polling it.
//! 3. `process::drop_all`: every thread drops every capability (permitted, effective,
//!    inheritable, ambient; the bounding set too when the process may, as root may) and sets
//!    no_new_privs, each thread verified.
//! 4. Every thread's `CapEff`, `CapPrm` and `CapAmb` are read from `/proc/self/task/*/status`:
//!    all zero, or the program stops.
//! 5. It serves: each connection gets one line, `hello from <addr>: no capability on any of
//!    N threads`, echoing the first line it sent.
//!
//! Who can run it:
//!
//! - **root**: directly.
//! - **a normal user with the capability**, as a file capability (`sudo setcap
//!   cap_net_bind_service=p target/debug/examples/async_server`: permitted, not effective, as
//!   capscope raises it only where it is needed) or ambient (`sudo setpriv --reuid=$USER
//!   --regid=$USER --init-groups --inh-caps=+net_bind_service
//!   --ambient-caps=+net_bind_service -- target/debug/examples/async_server`).
//! - **a normal user without it**: `bind` refuses before touching the socket, and the program
//!   exits with capscope's message, which names the capability and the ways to grant it. (The
//!   `quickstart` example shows the other way out: running inside new user and network
//!   namespaces.)
//!
//! `examples/tests/async_server.rs` runs it in all four ways.

use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;

use capscope::drop_after::DropOptions;
use capscope::{manifest, process, Cap, CapSet, CapState};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// Binds `addr`; needs `CAP_NET_BIND_SERVICE` for a port below 1024. A missing capability is
/// an `io::Error` (`on_missing = error`, as the function returns a `Result`) whose message is
/// capscope's `MissingCaps`.
#[capscope::requires_caps(net_bind_service)]
async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let effective = CapState::get_current()?.effective;
    println!(
        "2. inside bind (thread {}): effective = {effective}",
        capscope::current_tid()
    );
    // A `SocketAddr`, not a host name: no DNS lookup on tokio's blocking pool, which would run
    // without the capability.
    TcpListener::bind(addr).await
}

struct Options {
    port: u16,
    /// Connections to serve before exiting; `None`: until killed.
    connections: Option<u64>,
}

fn options() -> Result<Options, String> {
    let mut o = Options {
        port: 443,
        connections: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match a.as_str() {
            "--port" => {
                let v = value("--port")?;
                o.port = v.parse().map_err(|e| format!("--port {v}: {e}"))?;
            }
            "--connections" => {
                let v = value("--connections")?;
                o.connections = Some(v.parse().map_err(|e| format!("--connections {v}: {e}"))?);
            }
            _ => {
                return Err(format!(
                    "unknown argument {a:?}; usage: async_server [--port N] [--connections N]"
                ))
            }
        }
    }
    Ok(o)
}

/// One thread as `/proc/self/task/TID/status` shows it.
struct Thread {
    tid: String,
    name: String,
    effective: CapSet,
    permitted: CapSet,
    ambient: CapSet,
}

/// Every thread of the process with its `CapEff`, `CapPrm` and `CapAmb`, from
/// `/proc/self/task/*/status`.
fn threads() -> std::io::Result<Vec<Thread>> {
    let mut out = Vec::new();
    for task in std::fs::read_dir("/proc/self/task")? {
        let task = task?;
        let status = match std::fs::read_to_string(task.path().join("status")) {
            Ok(s) => s,
            // A thread that ended since the listing.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        let field = |name: &str| -> std::io::Result<&str> {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
                .map(str::trim)
                .ok_or_else(|| std::io::Error::other(format!("no {name} in {:?}", task.path())))
        };
        let set = |name: &str| -> std::io::Result<CapSet> {
            let v = field(name)?;
            u64::from_str_radix(v, 16)
                .map(CapSet::from_bits)
                .map_err(|e| std::io::Error::other(format!("{name} {v:?}: {e}")))
        };
        out.push(Thread {
            tid: task.file_name().to_string_lossy().into_owned(),
            name: field("Name")?.to_owned(),
            effective: set("CapEff")?,
            permitted: set("CapPrm")?,
            ambient: set("CapAmb")?,
        });
    }
    out.sort_by_key(|t| t.tid.parse::<u32>().unwrap_or(u32::MAX));
    Ok(out)
}

async fn run(o: Options) -> std::io::Result<()> {
    let start = CapState::get_current()?;
    println!(
        "0. start: {} threads; permitted = {}, effective = {}",
        threads()?.len(),
        list(start.permitted),
        list(start.effective)
    );

    // 1. Only what annotated functions need stays permitted, on every thread; none effective.
    let setpcap = start.permitted & Cap::SETPCAP;
    manifest::restrict_to(manifest::required() | setpcap, &DropOptions::new())?;
    let now = CapState::get_current()?;
    println!(
        "1. after manifest::restrict_to (every thread): permitted = {}, effective = {}",
        list(now.permitted),
        list(now.effective)
    );

    // 2. Bind inside the annotated async fn.
    let listener = bind(SocketAddr::from((Ipv4Addr::LOCALHOST, o.port))).await?;
    println!(
        "   back in main: effective = {}",
        list(CapState::get_current()?.effective)
    );

    // 3. Drop everything, on every thread.
    let mut opts = DropOptions::new().no_new_privs();
    if !setpcap.is_empty() {
        opts = opts.bounding();
    }
    let report = process::drop_all(&opts)?;
    println!(
        "3. process::drop_all{}: {} threads verified",
        if setpcap.is_empty() {
            " (no_new_privs)"
        } else {
            " (bounding set too, no_new_privs)"
        },
        report.threads
    );

    // 4. Check every thread from /proc.
    let all = threads()?;
    for t in &all {
        println!(
            "4. thread {} ({}): CapEff {:016x} CapPrm {:016x} CapAmb {:016x}",
            t.tid,
            t.name,
            t.effective.bits(),
            t.permitted.bits(),
            t.ambient.bits()
        );
        if !(t.effective | t.permitted | t.ambient).is_empty() {
            return Err(std::io::Error::other(format!(
                "thread {} ({}) still holds capabilities",
                t.tid, t.name
            )));
        }
    }
    let n = all.len();
    println!("   no capability on any of the {n} threads");

    // 5. Serve.
    println!("5. listening on {}", listener.local_addr()?);
    let mut served = 0;
    let mut tasks = tokio::task::JoinSet::new();
    while o.connections.is_none_or(|max| served < max) {
        let (conn, peer) = listener.accept().await?;
        served += 1;
        tasks.spawn(async move {
            let (rd, mut wr) = conn.into_split();
            let mut line = String::new();
            BufReader::new(rd).read_line(&mut line).await?;
            let reply = format!(
                "hello from {peer}: no capability on any of {n} threads; you said {:?}\n",
                line.trim_end()
            );
            wr.write_all(reply.as_bytes()).await?;
            wr.shutdown().await?;
            println!("   served {peer}");
            Ok::<(), std::io::Error>(())
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.map_err(std::io::Error::other)??;
    }
    println!("done: served {served} connection(s)");
    Ok(())
}

fn list(s: CapSet) -> String {
    capscope_examples::list(s, 4)
}

#[tokio::main]
async fn main() -> ExitCode {
    let o = match options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("async_server: {e}");
            return ExitCode::from(2);
        }
    };
    match run(o).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("async_server: {e}");
            ExitCode::FAILURE
        }
    }
}
