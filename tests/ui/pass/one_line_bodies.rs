//! One-line bodies compile without `unused_braces` (which `cargo fix` would "fix" by breaking
//! the code) under `deny(warnings)`.
#![deny(warnings)]

use capscope::{drop_caps_after, requires_caps};

#[requires_caps(net_raw)]
fn five() -> u8 { 5 }

#[requires_caps(net_raw, exclusive)]
fn unit() { let _ = 1; }

#[requires_caps(net_raw)]
fn result() -> capscope::Result<u8> { Ok(5) }

#[requires_caps(net_raw)]
async fn later() -> u8 { 5 }

#[drop_caps_after]
fn init() -> std::io::Result<u8> { Ok(5) }

#[drop_caps_after(keep(net_raw))]
fn init_unit() { let _ = 1; }

struct S;

impl S {
    #[requires_caps(net_raw)]
    fn method(&self) -> u8 { 5 }
}

fn main() {
    let _ = (five, unit, result, later, init, init_unit, S::method);
}
