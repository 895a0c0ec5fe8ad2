use capscope::requires_caps;

#[requires_caps(net_raw)]
fn numbers(n: u32) -> impl Iterator<Item = u32> {
    0..n
}

#[requires_caps(net_raw)]
fn arg_impl(it: impl IntoIterator<Item = u8>) -> usize {
    it.into_iter().count()
}

#[requires_caps(net_raw)]
async fn async_impl() -> impl std::fmt::Display {
    5
}

fn main() {
    let _ = (numbers, |v: Vec<u8>| arg_impl(v), async_impl);
}
