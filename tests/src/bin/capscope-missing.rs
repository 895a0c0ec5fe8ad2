//! A program whose `main` returns `capscope::Result` with the error of a capability missing
//! from the permitted set: what it prints must be the readable message with its advice.

#[capscope::requires_caps(net_raw)]
fn needs_net_raw() -> capscope::Result<()> {
    Ok(())
}

fn main() -> capscope::Result<()> {
    let s = capscope::CapState::get_current()?;
    capscope::CapState {
        effective: s.effective - capscope::Cap::NET_RAW,
        permitted: s.permitted - capscope::Cap::NET_RAW,
        inheritable: s.inheritable - capscope::Cap::NET_RAW,
    }
    .set_current()?;
    needs_net_raw()
}
