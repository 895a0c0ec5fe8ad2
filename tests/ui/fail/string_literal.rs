use capscope::requires_caps;

#[requires_caps("net_raw")]
fn quoted() {}

#[requires_caps("no_such_cap")]
fn quoted_unknown() {}

#[requires_caps(13)]
fn numbered() {}

fn main() {
    quoted();
    quoted_unknown();
    numbered();
}
