use capscope::{Cap, RaiseGuard};

fn needs_sync<T: Sync>(_: &T) {}

fn main() {
    let guard = RaiseGuard::raise(Cap::NET_RAW).unwrap();
    needs_sync(&guard);
}
