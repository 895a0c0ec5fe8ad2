//! capscope's quickstart: bind a privileged port with `#[requires_caps(net_bind_service)]`,
//! drop every capability with `#[drop_caps_after]`, then serve, printing the capability state
//! at each step.
//!
//! ```text
//! cargo run -p capscope-examples --example quickstart
//! ```
//!
//! As root it runs directly (binding port 80 on 127.0.0.1 for a moment; if port 80 is
//! taken, set `QUICKSTART_PORT`). As a normal user it enters new user and network namespaces
//! first, where it holds every capability and port 80 is free. The code is in
//! `examples/src/quickstart.rs`.

use capscope_examples::quickstart::{prepare, run, Mode};

fn main() -> std::io::Result<()> {
    let mode = prepare()?;
    match mode {
        Mode::Direct => println!("running directly (this process may bind privileged ports)"),
        Mode::Namespaces => {
            println!(
                "running as a normal user: inside new user and network namespaces (uid 0 there)"
            );
        }
    }
    let port = std::env::var("QUICKSTART_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(80);
    let outcome = run(&mut std::io::stdout(), port)?;
    assert!(outcome.refused_without_caps && outcome.refused_after_drop);
    println!(
        "done: every capability dropped, the service still served on {}",
        outcome.addr
    );
    Ok(())
}
