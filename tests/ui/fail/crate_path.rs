// `crate = ...` is the path the expansion uses: a wrong one is an error naming it.
use capscope::{drop_caps_after, requires_caps};

#[requires_caps(net_raw, crate = no_such_crate)]
fn a() {}

#[drop_caps_after(crate = "not a path")]
fn b() {}

#[requires_caps(net_raw, crate = capscope, crate = capscope)]
fn c() {}

fn main() {
    a();
    b();
    c();
}
