use capscope::requires_caps;

// Forced error mode needs a `Result` to return the error in.
#[requires_caps(net_raw, on_missing = error)]
fn count() -> u32 {
    1
}

fn main() {
    let _ = count();
}
