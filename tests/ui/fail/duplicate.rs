use capscope::{drop_caps_after, requires_caps};

#[requires_caps(net_raw, CAP_NET_RAW)]
fn twice() {}

#[requires_caps(chown, exclusive, exclusive)]
fn twice_exclusive() {}

#[drop_caps_after(keep(kill, Kill))]
fn keep_twice() {}

fn main() {
    twice();
    twice_exclusive();
    keep_twice();
}
