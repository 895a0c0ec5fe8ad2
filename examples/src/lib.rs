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
//! - `service`: a service whose annotated functions declare everything it may do with
//!   privilege; `capscope manifest` reads that from its built file.
//! - `getcap`: a small `getcap` (`getcap -n` for each path), and libcap's capability text
//!   parsed and printed back (`--text`).
//!
//! The package also builds the `capscope` command (`src/bin/capscope/`): libcap's `getcap`,
//! `setcap`, `getpcaps`, `capsh --decode` and `capsh --print`, byte for byte, plus `explain`
//! (what a capability is), `exec` (run a program with a declared privilege state, as
//! `setpriv` and `capsh` do, with `capscope::launch`) and `manifest` (a built program's
//! capability manifest, read from its file).

use capscope::CapSet;

pub mod quickstart;

/// A capability set as the examples print it: `(none)` when empty, libcap's list
/// (`cap_chown,cap_net_raw`) up to `max` capabilities, and beyond that only how many
/// (`40 capabilities`).
///
/// # Examples
///
/// ```
/// use capscope::{capset, Cap, CapSet};
/// use capscope_examples::list;
///
/// assert_eq!(list(CapSet::empty(), 4), "(none)");
/// assert_eq!(list(capset![Cap::CHOWN, Cap::NET_RAW], 4), "cap_chown,cap_net_raw");
/// assert_eq!(list(CapSet::up_to(Cap::SYS_ADMIN), 4), "22 capabilities");
/// ```
#[must_use]
pub fn list(set: CapSet, max: usize) -> String {
    match set.len() {
        0 => "(none)".to_owned(),
        n if n > max => format!("{n} capabilities"),
        _ => set.to_string(),
    }
}
