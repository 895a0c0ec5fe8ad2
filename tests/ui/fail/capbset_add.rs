// The bounding set only shrinks: its handle has no `add`.
fn main() {
    let _ = capscope::capbset().add(capscope::Cap::CHOWN);
}
