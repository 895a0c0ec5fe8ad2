use capscope::{drop_caps_after, requires_caps};

#[requires_caps]
fn nothing() {}

#[requires_caps()]
fn nothing_either() {}

#[drop_caps_after(keep())]
fn keep_nothing() {}

fn main() {
    nothing();
    nothing_either();
    keep_nothing();
}
