use capscope::{Cap, RaiseGuard};

fn main() {
    let guard = RaiseGuard::raise(Cap::NET_RAW).unwrap();
    std::thread::spawn(move || drop(guard));
}
