use capscope::requires_caps;

#[requires_caps(net_raw)]
fn returns_string_error() -> Result<(), String> {
    Ok(())
}

fn main() {
    let _ = returns_string_error();
}
