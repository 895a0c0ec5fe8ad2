//! Dropping every capability for good: what `#[drop_caps_after]` runs when its function ends.
//!
//! [`drop_all`] clears the ambient set, optionally limits the bounding set, empties the
//! effective, permitted and inheritable sets over all 64 bits (but for the capabilities asked
//! to be kept in the permitted set), optionally sets no_new_privs, then reads every set back and
//! verifies it. [`DropAfter`] does the same when dropped, aborting the process on any failure.
//! With [`DropOptions::all_threads`], both act on every thread of the process through
//! [`process::drop_all`](crate::process::drop_all) instead of on the calling thread alone.
//!
//! # References
//!
//! capabilities(7), capset(2), prctl(2)

use crate::error::{Error, OsContext, Result};
use crate::{ambient, bounding, Cap, CapSet, CapState};

/// What [`drop_all`] keeps and what else it does.
///
/// # Examples
///
/// ```
/// use capscope::{drop_after::DropOptions, Cap};
///
/// let opts = DropOptions::new().keep(Cap::NET_BIND_SERVICE).bounding(true);
/// assert!(opts.keeps().has(Cap::NET_BIND_SERVICE));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DropOptions {
    keep: CapSet,
    bounding: bool,
    no_new_privs: bool,
    all_threads: bool,
}

impl DropOptions {
    /// Drop everything; leave the bounding set and no_new_privs alone.
    #[must_use]
    pub const fn new() -> DropOptions {
        DropOptions {
            keep: CapSet::empty(),
            bounding: false,
            no_new_privs: false,
            all_threads: false,
        }
    }

    /// Keep these capabilities in the permitted set (those of them that are there); they are
    /// still lowered from the effective set.
    #[must_use]
    pub fn keep(mut self, caps: impl Into<CapSet>) -> DropOptions {
        self.keep |= caps.into();
        self
    }

    /// Also drop from the bounding set every capability not kept (needs `CAP_SETPCAP` in the
    /// permitted set).
    #[must_use]
    pub const fn bounding(mut self, yes: bool) -> DropOptions {
        self.bounding = yes;
        self
    }

    /// Also set no_new_privs (`PR_SET_NO_NEW_PRIVS`), which cannot be unset.
    #[must_use]
    pub const fn no_new_privs(mut self, yes: bool) -> DropOptions {
        self.no_new_privs = yes;
        self
    }

    /// Apply the drop to every thread of the process ([`process::drop_all`](crate::process::drop_all):
    /// each thread is signalled, makes the change itself and is verified) instead of to the
    /// calling thread alone; [`DropAfter`] then no longer refuses multi-threaded processes.
    #[must_use]
    pub const fn all_threads(mut self, yes: bool) -> DropOptions {
        self.all_threads = yes;
        self
    }

    /// The capabilities kept in the permitted set.
    #[must_use]
    pub const fn keeps(&self) -> CapSet {
        self.keep
    }

    /// Whether the bounding set is dropped too.
    #[must_use]
    pub const fn drops_bounding(&self) -> bool {
        self.bounding
    }

    /// Whether no_new_privs is set too.
    #[must_use]
    pub const fn sets_no_new_privs(&self) -> bool {
        self.no_new_privs
    }

    /// Whether the drop applies to every thread of the process.
    #[must_use]
    pub const fn is_all_threads(&self) -> bool {
        self.all_threads
    }

    /// Used by the macro expansion: options from constants.
    #[doc(hidden)]
    #[must_use]
    pub const fn __from_parts(
        keep: CapSet,
        bounding: bool,
        no_new_privs: bool,
        all_threads: bool,
    ) -> DropOptions {
        DropOptions {
            keep,
            bounding,
            no_new_privs,
            all_threads,
        }
    }
}

/// How many threads the calling process has: the kernel's count (`num_threads` in
/// `/proc/self/stat`), read in one piece. (A listing of `/proc/self/task` is not used here: the
/// kernel's walk of it stops early when a thread exits during the listing, so it can
/// under-count.)
///
/// # Errors
///
/// [`Error::Os`] if `/proc/self/stat` cannot be read, [`Error::Kernel`] if it is malformed.
///
/// # Examples
///
/// ```
/// assert!(capscope::drop_after::thread_count()? >= 1);
/// # Ok::<(), capscope::Error>(())
/// ```
pub fn thread_count() -> Result<usize> {
    crate::sys::proc::num_threads()
}

/// Refuses (with an error naming `function`) when the process has more than one thread: a
/// per-thread drop would leave the other threads with their capabilities.
///
/// # Errors
///
/// [`Error::InvalidInput`] when other threads are alive; [`Error::Os`] if `/proc/self/task`
/// cannot be read.
///
/// # Examples
///
/// ```
/// // The doctest harness runs tests on threads: this process is not single-threaded.
/// # if capscope::drop_after::thread_count()? > 1 {
/// assert!(capscope::drop_after::ensure_single_threaded("example").is_err());
/// # }
/// # Ok::<(), capscope::Error>(())
/// ```
pub fn ensure_single_threaded(function: &'static str) -> Result<()> {
    let n = thread_count()?;
    if n > 1 {
        return Err(Error::invalid(
            function,
            format!(
                "#[drop_caps_after] drops the capabilities of the calling thread only, and this \
                 process has {n} threads, which would keep theirs; drop them before other \
                 threads start, or use `#[drop_caps_after(all_threads)]` (process-wide, through \
                 `capscope::process`)"
            ),
        ));
    }
    Ok(())
}

/// Drops the calling thread's capabilities as `opts` says, then verifies every set; with
/// [`DropOptions::all_threads`], every thread's, through
/// [`process::drop_all`](crate::process::drop_all).
///
/// In order: if `opts` asks for the bounding set, raises `CAP_SETPCAP` (when permitted) and
/// drops from the bounding set everything not kept; clears the ambient set; sets the effective
/// and inheritable sets to empty and the permitted set to the kept capabilities it holds (all 64
/// bits); sets no_new_privs if asked; reads back and checks each set.
///
/// # Errors
///
/// The first failing step's error; [`Error::Kernel`] if a set read back is not what was set.
/// The thread may then be half-way: [`DropAfter`] aborts on any error.
///
/// # Thread scope
///
/// The calling thread only, unless `opts` asks for all threads.
///
/// # Examples
///
/// ```no_run
/// use capscope::drop_after::{drop_all, DropOptions};
///
/// drop_all(DropOptions::new().no_new_privs(true))?;
/// assert!(capscope::CapState::get_current()?.permitted.is_empty());
/// # Ok::<(), capscope::Error>(())
/// ```
///
/// # References
///
/// capset(2), prctl(2) (`PR_CAPBSET_DROP`, `PR_CAP_AMBIENT_CLEAR_ALL`, `PR_SET_NO_NEW_PRIVS`)
pub fn drop_all(opts: DropOptions) -> Result<()> {
    if opts.all_threads {
        return crate::process::drop_all(opts.keep, opts.bounding, opts.no_new_privs).map(|_| ());
    }
    let before = CapState::get_current()?;
    if opts.bounding {
        if before.permitted.has(Cap::SETPCAP) && !before.effective.has(Cap::SETPCAP) {
            CapState {
                effective: before.effective | Cap::SETPCAP,
                ..before
            }
            .set_current()?;
        }
        bounding::limit(opts.keep)?;
    }
    ambient::clear()?;
    let keep = before.permitted & opts.keep;
    CapState {
        effective: CapSet::empty(),
        permitted: keep,
        inheritable: CapSet::empty(),
    }
    .set_current()?;
    if opts.no_new_privs {
        rustix::thread::set_no_new_privs(true).op("prctl(PR_SET_NO_NEW_PRIVS)")?;
    }
    verify(opts, keep)
}

fn verify(opts: DropOptions, keep: CapSet) -> Result<()> {
    const OP: &str = "#[drop_caps_after] verification";
    let now = CapState::get_current()?;
    if now
        != (CapState {
            effective: CapSet::empty(),
            permitted: keep,
            inheritable: CapSet::empty(),
        })
    {
        return Err(Error::kernel(
            OP,
            format!("capget reads {now:?} after the drop"),
        ));
    }
    let status = crate::FullCapState::get_for_thread(std::process::id(), crate::current_tid())?;
    if !status.ambient.is_empty() {
        return Err(Error::kernel(
            OP,
            format!("the ambient set is {:?} after clearing it", status.ambient),
        ));
    }
    if opts.bounding && !status.bounding.is_subset(opts.keep) {
        return Err(Error::kernel(
            OP,
            format!(
                "the bounding set is {:?} after limiting it",
                status.bounding
            ),
        ));
    }
    if opts.no_new_privs && !rustix::thread::no_new_privs().op("prctl(PR_GET_NO_NEW_PRIVS)")? {
        return Err(Error::kernel(
            OP,
            "no_new_privs is not set after setting it",
        ));
    }
    Ok(())
}

/// Drops the calling thread's capabilities (as [`drop_all`]) when dropped: on return, on `Err`
/// and on unwinding. Any failure aborts the process with a message. What `#[drop_caps_after]`
/// expands to.
///
/// # Examples
///
/// ```no_run
/// use capscope::drop_after::{DropAfter, DropOptions};
///
/// fn init() -> capscope::Result<()> {
///     let _drop = DropAfter::new(DropOptions::new(), "init")?;
///     // ... privileged set-up ...
///     Ok(())
/// } // every capability is gone here
/// # init()?;
/// # Ok::<(), capscope::Error>(())
/// ```
#[derive(Debug)]
#[must_use = "the capabilities are dropped when this is dropped"]
pub struct DropAfter {
    opts: DropOptions,
    function: &'static str,
    _not_send: std::marker::PhantomData<*const ()>,
}

impl DropAfter {
    /// Arms the drop; without [`DropOptions::all_threads`], refuses when the process has other
    /// threads (see [`ensure_single_threaded`]).
    ///
    /// # Errors
    ///
    /// As [`ensure_single_threaded`].
    ///
    /// # Thread scope
    ///
    /// The drop applies to the calling thread, or to every thread with
    /// [`DropOptions::all_threads`]; the guard is `!Send`.
    pub fn new(opts: DropOptions, function: &'static str) -> Result<DropAfter> {
        if !opts.all_threads {
            ensure_single_threaded(function)?;
        }
        Ok(DropAfter {
            opts,
            function,
            _not_send: std::marker::PhantomData,
        })
    }
}

impl Drop for DropAfter {
    fn drop(&mut self) {
        if let Err(e) = drop_all(self.opts) {
            eprintln!(
                "capscope: {}: dropping the capabilities failed ({e}); aborting rather than \
                 going on with them",
                self.function
            );
            std::process::abort();
        }
    }
}
