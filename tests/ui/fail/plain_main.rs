#[capscope::requires_caps(net_bind_service)]
fn main() {}
