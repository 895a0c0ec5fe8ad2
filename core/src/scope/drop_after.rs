//! Dropping every capability for good: what `#[drop_caps_after]` runs when its function ends.
//!
//! [`DropOptions`] is the one description of "drop everything but `keep`", whoever asks for it:
//! [`drop_all`] (this thread, or every thread), [`DropAfter`] (the guard `#[drop_caps_after]`
//! expands to), [`process::drop_all`](crate::process::drop_all) and
//! [`manifest::restrict`](crate::manifest::restrict). The drop itself is written once, in the
//! async-signal-safe per-thread layer, and always read back through system calls (no `/proc`).
//!
//! # What each option guarantees
//!
//! - Always: the ambient set is cleared; the effective and inheritable sets are emptied and
//!   the permitted set is cut down to the kept capabilities, over all 64 bits; every set is
//!   read back afterwards, and any failure aborts the process ([`DropAfter`]) or is returned
//!   ([`drop_all`]).
//! - [`keep`](DropOptions::keep): those capabilities stay in the permitted set (not in the
//!   effective set: raise them for a scope with `#[requires_caps]`).
//! - [`bounding`](DropOptions::bounding): every capability not kept leaves the bounding set, so
//!   no `execve` (of a setuid-root or file-capability binary) can give it back. Needs
//!   `CAP_SETPCAP` in the permitted set, checked before the function body runs.
//! - [`no_new_privs`](DropOptions::no_new_privs): `execve` can never grant privileges again
//!   (setuid bits and file capabilities are ignored).
//! - [`uid`](DropOptions::uid) / [`gid`](DropOptions::gid) (or [`user`](DropOptions::user)):
//!   the real, effective, saved and filesystem ids change and the supplementary groups are
//!   cleared, before the capabilities go: the daemon pattern "bind as root, then become
//!   nobody". Files owned by root are no longer the process's own.
//! - [`all_threads`](DropOptions::all_threads): every thread of the process, through
//!   [`process`](crate::process); without it, [`DropAfter`] refuses to start while other
//!   threads live, and if threads were started during the function, drops them too
//!   (process-wide, verified) or aborts.
//!
//! **A process that stays uid 0 gets every capability back on `execve`** (the kernel grants root
//! a full permitted set when it runs a program) unless the bounding set is dropped
//! (`bounding`), `no_new_privs` is set (`execve` then grants nothing the process does not
//! already have: with an empty permitted set, nothing), or the uid changes (`uid`).
//! Dropping capabilities alone does not turn a root daemon into an unprivileged one: root
//! still owns root's files. Use `uid`/`gid` (or `user`) for that.
//!
//! # References
//!
//! capabilities(7), capset(2), prctl(2), setresuid(2)

use crate::error::{Error, Op, Result};
use crate::sys::proc::TaskDir;
use crate::thread::ops::{self, DropSpec};
use crate::{kernel, Cap, CapSet};

/// What a drop keeps and what else it does: see the [module docs](self) for what each option
/// guarantees.
///
/// # Examples
///
/// ```
/// use capscope::{drop_after::DropOptions, Cap};
///
/// let opts = DropOptions::new().keep(Cap::NET_BIND_SERVICE).bounding().no_new_privs();
/// assert!(opts.keeps().has(Cap::NET_BIND_SERVICE));
/// assert!(opts.drops_bounding() && opts.sets_no_new_privs() && !opts.is_all_threads());
/// let daemon = DropOptions::new().uid(65534).gid(65534).all_threads();
/// assert_eq!(daemon.ids(), (Some(65534), Some(65534)));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[must_use]
pub struct DropOptions {
    keep: CapSet,
    bounding: bool,
    no_new_privs: bool,
    all_threads: bool,
    uid: Option<u32>,
    gid: Option<u32>,
    user: Option<&'static str>,
}

impl DropOptions {
    /// Drop everything; leave the bounding set, no_new_privs and the ids alone; the calling
    /// thread only.
    pub const fn new() -> DropOptions {
        DropOptions {
            keep: CapSet::empty(),
            bounding: false,
            no_new_privs: false,
            all_threads: false,
            uid: None,
            gid: None,
            user: None,
        }
    }

    /// Keep these capabilities in the permitted set (those of them that are there); they are
    /// still lowered from the effective set.
    pub fn keep(mut self, caps: impl Into<CapSet>) -> DropOptions {
        self.keep |= caps.into();
        self
    }

    /// [`keep`](Self::keep) for constant contexts (what the macro expansion uses).
    pub(crate) const fn keep_const(mut self, caps: CapSet) -> DropOptions {
        self.keep = self.keep.union(caps);
        self
    }

    /// Also drop from the bounding set every capability not kept (needs `CAP_SETPCAP` in the
    /// permitted set).
    pub const fn bounding(mut self) -> DropOptions {
        self.bounding = true;
        self
    }

    /// Also set no_new_privs (`PR_SET_NO_NEW_PRIVS`), which cannot be unset.
    pub const fn no_new_privs(mut self) -> DropOptions {
        self.no_new_privs = true;
        self
    }

    /// Apply the drop to every thread of the process ([`process::drop_all`]: each thread is
    /// signalled, makes the change itself and is verified) instead of to the calling thread
    /// alone.
    ///
    /// [`process::drop_all`]: crate::process::drop_all
    pub const fn all_threads(mut self) -> DropOptions {
        self.all_threads = true;
        self
    }

    /// First switch the real, effective, saved and filesystem uid to `uid` (and clear the
    /// supplementary groups). Needs `CAP_SETUID` in the permitted set.
    pub const fn uid(mut self, uid: u32) -> DropOptions {
        self.uid = Some(uid);
        self
    }

    /// First switch the real, effective, saved and filesystem gid to `gid` (and clear the
    /// supplementary groups). Needs `CAP_SETGID` in the permitted set.
    pub const fn gid(mut self, gid: u32) -> DropOptions {
        self.gid = Some(gid);
        self
    }

    /// First become the user `name` of `/etc/passwd`: its uid and its primary gid, as
    /// [`uid`](Self::uid) and [`gid`](Self::gid). The name is looked up when the drop is armed
    /// ([`DropAfter::new`], [`drop_all`]), before anything changes, in the files `/etc/passwd`
    /// (no NSS module is loaded into a privileged process); an unknown name is an error then.
    pub const fn user(mut self, name: &'static str) -> DropOptions {
        self.user = Some(name);
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

    /// The (uid, gid) the drop switches to first, as given (see also
    /// [`user_name`](Self::user_name)).
    #[must_use]
    pub const fn ids(&self) -> (Option<u32>, Option<u32>) {
        (self.uid, self.gid)
    }

    /// The user name the drop switches to first, if given.
    #[must_use]
    pub const fn user_name(&self) -> Option<&'static str> {
        self.user
    }

    /// Checks the options against the calling thread and the system before anything changes,
    /// and resolves them into the per-thread drop.
    pub(crate) fn resolve(&self, op: Op) -> Result<DropSpec> {
        let (mut uid, mut gid) = (self.uid, self.gid);
        if let Some(name) = self.user {
            let (u, g) = crate::sys::passwd::lookup_user(name)
                .map_err(|e| Error::from_io(Op::ReadProc, &e))?
                .ok_or_else(|| {
                    Error::invalid(op, format!("no user named {name:?} in /etc/passwd"))
                })?;
            if uid.is_some_and(|x| x != u) || gid.is_some_and(|x| x != g) {
                return Err(Error::invalid(
                    op,
                    format!("user {name:?} is {u}:{g}, which contradicts the uid or gid given"),
                ));
            }
            (uid, gid) = (Some(u), Some(g));
        }
        let mut needed = CapSet::empty();
        if self.bounding {
            needed.add(Cap::SETPCAP);
        }
        if uid.is_some() || gid.is_some() {
            // The ids' own checks (no `u32::MAX`), and the capabilities the change needs.
            needed |= crate::IdChange::drop_to(uid, gid)
                .validate(op)?
                .needed_caps();
            ids_reachable(op, uid, gid)?;
        }
        let now = crate::CapState::get_current()?;
        let missing = needed - now.permitted;
        if !missing.is_empty() {
            return Err(Error::refused(
                op,
                format!(
                    "the drop needs {missing} in the permitted set (bounding needs cap_setpcap, \
                     uid needs cap_setuid, uid and gid need cap_setgid to clear the groups), and \
                     the calling thread does not have it"
                ),
            ));
        }
        Ok(DropSpec {
            keep: self.keep,
            bounding: self.bounding,
            no_new_privs: self.no_new_privs,
            uid,
            gid,
            last: kernel::last_supported()?,
        })
    }
}

/// Refuses, before anything changes, an id change the kernel would refuse half-way: a uid or
/// gid not mapped in the thread's user namespace (`setresuid` fails with `EINVAL`), and
/// supplementary groups that cannot be cleared because the user namespace denies `setgroups`
/// (a new uid or gid never keeps the old groups). Read from the thread's own `/proc` files;
/// without a `/proc` of the process's own, nothing is checked here and such a drop fails when
/// it runs (a [`DropAfter`] then aborts).
fn ids_reachable(op: Op, uid: Option<u32>, gid: Option<u32>) -> Result<()> {
    let Ok(dir) = TaskDir::cached(op) else {
        return Ok(());
    };
    for (what, id, file) in [("uid", uid, "uid_map"), ("gid", gid, "gid_map")] {
        let (Some(id), Some(map)) = (id, dir.read_mine(file)) else {
            continue;
        };
        if !id_mapped(&map, id) {
            return Err(Error::refused(
                op,
                format!(
                    "{what} {id} is not mapped in this user namespace (its {file}: {:?}), so the \
                     kernel cannot switch to it: map it, or choose a mapped {what}",
                    map.trim()
                ),
            ));
        }
    }
    let groups = crate::sys::creds::group_count().unwrap_or(0);
    if groups > 0
        && dir
            .read_mine("setgroups")
            .is_some_and(|s| s.trim() == "deny")
    {
        return Err(Error::refused(
            op,
            format!(
                "the thread has {groups} supplementary group(s) and this user namespace denies \
                 setgroups, so they cannot be cleared, and a new uid or gid never keeps them: \
                 start the process without supplementary groups, or where setgroups is allowed"
            ),
        ));
    }
    Ok(())
}

/// Whether `id` is inside one of the ranges of a `uid_map`/`gid_map` text (lines of `inside
/// outside count`).
fn id_mapped(map: &str, id: u32) -> bool {
    map.lines().any(|line| {
        let n: Vec<u64> = line
            .split_ascii_whitespace()
            .filter_map(|w| w.parse().ok())
            .collect();
        matches!(n[..], [inside, _, count] if (inside..inside + count).contains(&u64::from(id)))
    })
}

/// Drops capabilities as `opts` says: on the calling thread, or with
/// [`DropOptions::all_threads`] on every thread through
/// [`process::drop_all`](crate::process::drop_all). Everything is checked before the first
/// change (see `# Errors`), then, in order: with `bounding`, `CAP_SETPCAP` raised where only
/// permitted and every capability not kept dropped from the bounding set; with `uid`/`gid`,
/// the groups cleared and the ids changed; the ambient set cleared; with `no_new_privs`, the
/// flag set; the effective and inheritable sets emptied and the permitted set cut down to the
/// kept capabilities (all 64 bits); then every set read back through system calls (no `/proc`
/// is needed for the calling thread, so this works in a chroot).
///
/// # Errors
///
/// Before any change: [`Error::InvalidInput`] for a bad uid, gid or unknown user;
/// [`Error::Refused`] when a needed capability is not permitted, a uid or gid is not mapped in
/// the user namespace, or supplementary groups cannot be cleared (`setgroups` denied). The first failing step's
/// error otherwise: then the thread may be half-way ([`Error::Indeterminate`]; [`DropAfter`]
/// aborts on any error). With `all_threads`, as
/// [`process::drop_all`](crate::process::drop_all).
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
/// drop_all(&DropOptions::new().no_new_privs())?;
/// assert!(capscope::CapState::get_current()?.permitted.is_empty());
/// # Ok::<(), capscope::Error>(())
/// ```
///
/// # References
///
/// capset(2), prctl(2) (`PR_CAPBSET_DROP`, `PR_CAP_AMBIENT_CLEAR_ALL`, `PR_SET_NO_NEW_PRIVS`),
/// setresuid(2)
pub fn drop_all(opts: &DropOptions) -> Result<()> {
    if opts.all_threads {
        return crate::process::drop_all(opts).map(|_| ());
    }
    let spec = opts.resolve(Op::DropAll)?;
    drop_thread(&spec)
}

/// The per-thread drop of a resolved spec, with its error.
pub(crate) fn drop_thread(spec: &DropSpec) -> Result<()> {
    crate::thread::rmw::run(Op::DropAll, || {
        crate::scope::guard::forget_restorable(CapSet::from_bits(u64::MAX));
        ops::drop_all(spec).map_err(|f| drop_error(Op::DropAll, f))
    })?;
    crate::scope::audit::drop(Op::DropAll, spec, 1);
    Ok(())
}

/// The public error of a failed drop step.
pub(crate) fn drop_error(op: Op, f: ops::Fail) -> Error {
    let hint = match f.op {
        Op::CapbsetDrop => Some(crate::bounding::DROP_HINT),
        _ => None,
    };
    crate::thread::identity::fail_error(op, f, hint)
}

/// How many live threads the calling process has (kernel io threads included, a zombie main
/// thread not): `unshare(CLONE_THREAD)` for the single-threaded case, otherwise the count of
/// `/proc/self/task`.
///
/// # Errors
///
/// [`Error::Refused`] when the process has other threads and no `/proc` of its own PID
/// namespace can count them.
///
/// # Examples
///
/// ```
/// assert!(capscope::drop_after::thread_count()? >= 1);
/// # Ok::<(), capscope::Error>(())
/// ```
pub fn thread_count() -> Result<usize> {
    if crate::sys::threads::alone() == Some(true) {
        return Ok(1);
    }
    TaskDir::cached(Op::DropAll)?.live_count()
}

/// Drops capabilities (as [`drop_all`]) when dropped: on return, on `Err` and on unwinding. Any
/// failure aborts the process with a message. What `#[drop_caps_after]` expands to.
///
/// Without [`DropOptions::all_threads`] it refuses to be armed while the process has other
/// threads (they would keep their capabilities); if threads appear while it is armed (a worker
/// pool started in the function), the drop at the end applies to them too, process-wide and
/// verified, through a `/proc/self/task` directory opened when it was armed (so a `chroot` in
/// between does not matter); if they cannot be reached, the process aborts.
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
    spec: DropSpec,
    all_threads: bool,
    /// The process's directory, opened (and kept for the process) when the drop was armed.
    tasks: Option<&'static TaskDir>,
    /// The fork generation when armed: a child forked by the body has another.
    forks: u64,
    function: &'static str,
    _not_send: std::marker::PhantomData<*const ()>,
}

impl DropAfter {
    /// Arms the drop: checks the options (needed capabilities, ids, user name) and, without
    /// [`DropOptions::all_threads`], that no other thread lives; keeps what a drop on every
    /// thread will need (a `/proc/self/task` directory), so that nothing later depends on the
    /// file system.
    ///
    /// # Errors
    ///
    /// As [`drop_all`]'s checks; [`Error::Refused`] when other threads live (without
    /// `all_threads`), or, with `all_threads`, when no `/proc` of the process's own PID
    /// namespace is mounted.
    ///
    /// # Thread scope
    ///
    /// The drop applies to the calling thread, or to every thread with
    /// [`DropOptions::all_threads`]; the guard is `!Send`.
    pub fn new(opts: DropOptions, function: &'static str) -> Result<DropAfter> {
        let spec = opts.resolve(Op::DropAll)?;
        let forks = crate::sys::spawn::fork_generation();
        let tasks = if opts.all_threads {
            Some(TaskDir::cached(Op::DropAll)?)
        } else {
            let (count, tasks) = match (crate::sys::threads::alone(), TaskDir::cached(Op::DropAll))
            {
                (Some(true), tasks) => (1, tasks.ok()),
                (_, Ok(t)) => (t.live_count()?, Some(t)),
                (_, Err(e)) => return Err(e),
            };
            if count > 1 {
                return Err(Error::refused(
                    Op::DropAll,
                    format!(
                        "{function}: #[drop_caps_after] drops the capabilities of the calling \
                         thread, and this process has {count} threads, which would keep theirs; \
                         drop them before other threads start, or use \
                         `#[drop_caps_after(all_threads)]` (process-wide, through \
                         `capscope::process`)"
                    ),
                ));
            }
            tasks
        };
        Ok(DropAfter {
            spec,
            all_threads: opts.all_threads,
            tasks,
            forks,
            function,
            _not_send: std::marker::PhantomData,
        })
    }

    fn run(&self) -> Result<()> {
        if !self.all_threads && crate::sys::threads::alone() == Some(true) {
            return drop_thread(&self.spec);
        }
        // The directory opened when the drop was armed, if this is the process that armed it:
        // the body may have forked (a daemon's double fork), and the child ends the function
        // too, with threads of its own (its pid number may even be its parent's, in a new PID
        // namespace: the fork generation tells them apart). A child opens its own (after a
        // chroot in the body, a child with threads and no /proc cannot: it aborts).
        let tasks = match self.tasks {
            Some(t) if self.forks == crate::sys::spawn::fork_generation() => t,
            _ => TaskDir::cached(Op::DropAll).map_err(|e| {
                Error::refused(
                    Op::DropAll,
                    format!(
                        "threads were started during the function, and this process's \
                         /proc/self/task cannot be opened to reach them: {e}"
                    ),
                )
            })?,
        };
        if !self.all_threads && tasks.live_count()? <= 1 {
            return drop_thread(&self.spec);
        }
        crate::process::drop_with(&self.spec, tasks).map(|_| ())
    }
}

impl Drop for DropAfter {
    fn drop(&mut self) {
        if let Err(e) = self.run() {
            eprintln!(
                "capscope: {}: dropping the capabilities failed ({e}); aborting rather than \
                 going on with them",
                self.function
            );
            std::process::abort();
        }
    }
}
