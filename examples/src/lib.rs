//! Runnable examples of capscope: see the `examples/` folder of this package.
//!
//! - `quickstart`: a small service binds a privileged port with `#[requires_caps]`, drops
//!   every capability with `#[drop_caps_after]`, then serves; as a normal user it runs in new
//!   user and network namespaces. The two annotated functions are in the example's file; its
//!   helpers are [`quickstart`].
//! - `async_server`: a tokio server binds port 443 inside an annotated `async fn`, drops every
//!   capability on every thread, checks each thread in `/proc`, then serves; root, or a normal
//!   user with the file or ambient capability (without it, capscope's message says how to
//!   grant it).
//! - `inspect`: print the calling thread's full capability state, as `capsh --print` does.
//!
//! The package also builds the `capscope` command (`src/bin/capscope/`): libcap's `getcap`,
//! `setcap`, `getpcaps`, `capsh --decode` and `capsh --print`, byte for byte, plus `explain`.

pub mod quickstart;
