#![deny(unused_must_use)]
use capscope::{Cap, RaiseGuard};

fn main() -> capscope::Result<()> {
    RaiseGuard::raise(Cap::NET_RAW)?;
    Ok(())
}
