use capscope::drop_caps_after;

#[drop_caps_after(uid = 4294967295)]
fn a() {}

#[drop_caps_after(gid = 4294967296)]
fn b() {}

#[drop_caps_after(uid = -1)]
fn c() {}

#[drop_caps_after(uid = "65534")]
fn d() {}

#[drop_caps_after(gid = 1u8)]
fn e() {}

#[drop_caps_after(user = "")]
fn f() {}

#[drop_caps_after(user = "a:b")]
fn g() {}

#[drop_caps_after(user = nobody)]
fn h() {}

#[drop_caps_after(user = "nobody", uid = 65534)]
fn i() {}

#[drop_caps_after(uid = 1, uid = 2)]
fn j() {}

#[drop_caps_after(uid)]
fn k() {}

fn main() {
    a();
    b();
    c();
    d();
    e();
    f();
    g();
    h();
    i();
    j();
    k();
}
