use capscope::requires_caps;

#[requires_caps(net_bind_servce)]
fn bind() {}

#[requires_caps(CAP_SYS_ADMN, frobnicate_everything)]
fn admin() {}

fn main() {
    // The functions are still emitted: no "cannot find function" error below.
    bind();
    admin();
}
