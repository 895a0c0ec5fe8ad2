use capscope::{drop_caps_after, requires_caps};

#[requires_caps(net_raw, on_missing = ignore)]
fn a() {}

#[requires_caps(net_raw, exclusiv)]
fn b() {}

#[drop_caps_after(boundng)]
fn c() {}

#[drop_caps_after(all_threads, all_threads)]
fn d() {}

#[drop_caps_after(keep = net_raw)]
fn e() {}

fn main() {
    a();
    b();
    c();
    d();
    e();
    f();
    g();
}

#[drop_caps_after(bounding = true)]
fn f() {}

#[requires_caps(net_raw, exclusive = true)]
fn g() {}
