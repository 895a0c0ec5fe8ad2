// `#[tokio::main]` above: the attribute sees the `fn main` tokio made, a scope around the
// whole runtime.
use capscope::requires_caps;

#[tokio::main]
#[requires_caps(net_bind_service)]
async fn main() {}
