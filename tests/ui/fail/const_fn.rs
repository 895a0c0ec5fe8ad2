use capscope::requires_caps;

#[requires_caps(net_raw)]
const fn at_compile_time() -> u32 {
    1
}

fn main() {
    let _ = at_compile_time();
}
