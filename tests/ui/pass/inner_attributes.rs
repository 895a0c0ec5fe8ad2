//! Inner attributes of the annotated body stay first in the body and still apply to it.
#![deny(warnings)]

use capscope::{drop_caps_after, requires_caps};

#[requires_caps(net_raw)]
fn raises(x: u8) -> u8 {
    #![allow(unused_variables)]
    let unused = x;
    x
}

#[requires_caps(net_raw)]
async fn raises_later(x: u8) -> u8 {
    #![allow(unused_variables)]
    let unused = x;
    x
}

#[drop_caps_after]
fn drops() -> std::io::Result<()> {
    #![allow(unused_variables, clippy::all)]
    //! Documented from inside.
    let unused = 1;
    Ok(())
}

fn main() {
    let _ = (raises, raises_later, drops);
}
