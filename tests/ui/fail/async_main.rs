use capscope::requires_caps;

#[requires_caps(net_bind_service)]
#[tokio::main]
async fn main() {}
