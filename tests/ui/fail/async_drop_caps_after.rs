use capscope::drop_caps_after;

#[drop_caps_after]
async fn init() {}

fn main() {
    let _ = init();
}
