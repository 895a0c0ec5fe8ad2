//! Launching programs with a declared privilege state: libcap's `cap_launch`, `setpriv` and
//! `capsh` as a typed, checked, one-call extension of [`std::process::Command`].
//!
//! ```no_run
//! use std::process::Command;
//! use capscope::launch::{CommandExt, Launch};
//! use capscope::Cap;
//!
//! // A root service starts a ping-like helper as uid/gid 1000 with exactly CAP_NET_RAW.
//! let state = Launch::new().uid(1000).gid(1000).clear_groups().ambient(Cap::NET_RAW);
//! let (mut child, seen) = Command::new("/usr/bin/ping")
//!     .args(["-c1", "127.0.0.1"])
//!     .launch_verified(&state)?;
//! assert_eq!(seen.caps.caps.effective, Cap::NET_RAW.into());
//! child.wait().map_err(capscope::launch::spawn_error)?;
//! # Ok::<(), capscope::Error>(())
//! ```
//!
//! # The declared state
//!
//! A [`Launch`] declares, with typed values, what the child holds when it runs the program:
//! ids ([`uid`](Launch::uid), [`gid`](Launch::gid)), supplementary groups
//! ([`groups`](Launch::groups), [`clear_groups`](Launch::clear_groups),
//! [`keep_groups`](Launch::keep_groups)), the capability sets ([`caps`](Launch::caps), or
//! [`effective`](Launch::effective), [`permitted`](Launch::permitted),
//! [`inheritable`](Launch::inheritable) one by one), the [`ambient`](Launch::ambient) set, a
//! limit of the bounding set ([`bounding_keep`](Launch::bounding_keep)), the
//! [`securebits`](Launch::securebits) with their locks, [`no_new_privs`](Launch::no_new_privs),
//! and [`keep_caps`](Launch::keep_caps). What is not declared is inherited from the thread
//! that spawns, as `fork` and the kernel's rules leave it:
//!
//! - A **uid change** acts as `setresuid(uid, uid, uid)` does (capabilities(7), "Effect of user
//!   ID changes on capabilities"): when the uids go from including 0 to all non-zero, the
//!   permitted and effective sets are emptied and the ambient set too, unless
//!   [`keep_caps`](Launch::keep_caps) (`PR_SET_KEEPCAPS`) keeps the permitted set; an effective
//!   uid leaving 0 empties the effective set; `SECBIT_NO_SETUID_FIXUP` (of the parent) turns
//!   all this off. Declared sets then replace what the change left.
//! - **Ambient capabilities** need to be in the permitted and inheritable sets: capscope adds
//!   them to both (to the declared sets as well). The parent thread must hold them in its
//!   permitted set, or the launch is refused before `fork`, naming them and how to grant
//!   them. A program that holds `CAP_NET_RAW` permitted (a normal user's, given it with
//!   `setcap cap_net_raw+p`) runs a helper with exactly `CAP_NET_RAW` with
//!   `Launch::new().ambient(Cap::NET_RAW)`; a parent that may change ids (root, or one holding
//!   `CAP_SETUID` and `CAP_SETGID` permitted) runs it as another user with
//!   `Launch::new().uid(1000).gid(1000).clear_groups().ambient(Cap::NET_RAW)`.
//! - An **id change** is refused before `fork` when the kernel would refuse it: a uid (gid)
//!   other than the parent's real, effective and saved ones needs `CAP_SETUID` (`CAP_SETGID`)
//!   in its permitted set, and setting supplementary groups always needs `CAP_SETGID`.
//! - A **gid** must come with a decision on the supplementary groups (as `setpriv` demands):
//!   the parent's are often root's.
//! - The declared **securebits** are the exact new value, locks included; a lock the parent
//!   holds cannot be cleared and its flag cannot change.
//!
//! [`Launch::plan`] checks the declaration against the calling thread and computes the exact
//! state the child holds right before `execve` ([`Plan::state`], [`Plan::ids`]): bad input
//! (uid `u32::MAX`, an unknown capability, ambient capabilities the parent cannot give, an
//! id change it may not make, more than the kernel's group limit, ...) is refused there,
//! before anything is started.
//!
//! # In the child
//!
//! Between `fork` and `execve`, the child makes the changes with the async-signal-safe
//! per-thread operations the library uses everywhere (no allocation, no lock, system calls
//! only), in the order the kernel needs:
//!
//! 1. `CAP_SETPCAP` raised into the effective set if a later step needs it and it is only
//!    permitted;
//! 2. the bounding set limited (needs `CAP_SETPCAP`, so before anything is narrowed);
//! 3. gid, supplementary groups, uid (`setresgid`, `setgroups`, `setresuid`, per thread),
//!    with keepcaps set around the uid change so that the permitted set survives it for the
//!    next steps, then the ids read back;
//! 4. the effective, permitted and inheritable sets (`capset`), still holding `CAP_SETPCAP`
//!    if step 6 needs it;
//! 5. the ambient set cleared and the declared capabilities raised (they are now permitted
//!    and inheritable);
//! 6. the securebits, read back (after the id change, so that `SECBIT_KEEP_CAPS_LOCKED`
//!    cannot get in its way; after step 5, so that `SECBIT_NO_CAP_AMBIENT_RAISE` cannot);
//! 7. the final `capset`, if step 4 kept `CAP_SETPCAP` for step 6;
//! 8. no_new_privs, read back;
//! 9. a read-back of the capability sets and the ambient set.
//!
//! A step that fails stops the child before `execve`: the program never runs, and `spawn`
//! returns the failure as an [`Error`] naming the step ([`Error::op`]) and its errno, the way
//! std reports a failed `exec` (see [`spawn_error`]). The parent's own credentials are never
//! touched: everything happens in the child.
//!
//! # Verified
//!
//! [`Plan::verify`] (or [`CommandExt::launch_verified`]) reads the running child's state from
//! `/proc/<pid>/status` once its `execve` has completed, through a pidfd so that it cannot
//! read another process, and compares the ids, groups, the five capability sets and
//! no_new_privs with what the kernel's `execve` rules make of the plan's state, given the
//! program file's set-ID bits and file capabilities: for a program without either and a
//! non-root uid, the permitted and effective sets become the ambient set; for uid 0 (without
//! `SECBIT_NOROOT`) they become the bounding set. Securebits are not visible in `/proc`: the
//! child itself reads them back before `execve`. A program that changes its own credentials
//! as soon as it starts may be seen after the change, and is then reported as a mismatch.
//!
//! # Cost
//!
//! Any `pre_exec` hook makes std `fork` the parent instead of using its `vfork`-style spawn:
//! an empty hook alone costs 1.18 to 1.22× a plain `Command` (spawn-to-exit of `/bin/true`).
//! That copy is kept on purpose. A child that lowers its credentials while it still shares
//! the parent's memory (a `vfork` or `CLONE_VM` child, or a helper thread of the parent)
//! becomes, until its `execve`, a process that a less privileged one may `ptrace` (the
//! kernel lets a tracer attach when the target's permitted set is a subset of its own, and
//! the child's now is): through it, the attacker would write the parent's memory. After an
//! id change the kernel also marks the shared memory non-dumpable, which changes the parent.
//! A forked child changes only its own copy.
//! The child's own steps are system calls only; for a normal user's helper made by root (uid
//! and gid 65534, groups cleared, `CAP_NET_RAW` ambient, the bounding set cut to
//! `CAP_NET_RAW`, no_new_privs) they are 108 calls, 80 of them the bounding cut (the kernel
//! drops one capability per `prctl`, each committing new credentials, and each drop is read
//! back), and the whole launch measures 1.29 to 1.31× a plain `Command` (1.09 to 1.11× the fork
//! alone), against 3.4× for `setpriv` and 2.2× for `capsh` doing the same (`cargo bench -p
//! capscope-tests --bench launch`; 2 vCPUs, Linux 6.18). The ambient read-back asks only about the capabilities both permitted
//! and inheritable (the kernel keeps the ambient set inside both).
//!
//! # Thread scope
//!
//! Nothing here changes the calling process. The child starts from the credentials of the
//! thread that calls `spawn` (Linux credentials are per thread). [`Launch::plan`] checks the
//! declaration against the calling thread, but the child applies every declared part
//! whatever that thread held: a spawn from a thread holding more (a wider bounding set, a
//! capability in its inheritable set, no no_new_privs) still gives the child exactly the
//! declared limits, and a spawn from a thread holding less fails in the child, with the step
//! named. What is not declared comes from the spawning thread, so declare and spawn on the
//! same thread, or on threads holding the same credentials, when [`Plan::verify`] is to
//! compare the undeclared parts too.
//!
//! # References
//!
//! capabilities(7), execve(2), setresuid(2), prctl(2) (`PR_SET_KEEPCAPS`,
//! `PR_SET_SECUREBITS`, `PR_CAP_AMBIENT`, `PR_CAPBSET_DROP`, `PR_SET_NO_NEW_PRIVS`),
//! pidfd_open(2), setpriv(1), capsh(1), libcap's cap_launch(3)

pub(crate) mod child;
pub(crate) mod exec;
mod plan;
#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub mod tokio;

use std::io;
use std::process::{Child, Command};

use crate::error::{Error, Op, Result};
use crate::model::full::status_numbers;
use crate::sys::launch::{exec_file, install, open_program, ChildProc};
use crate::thread::identity::fail_error;
use crate::thread::ops::Fail;
use crate::{CapSet, CapState, FullCapState, Secbits, ThreadIds};

pub use plan::Plan;

/// The supplementary groups a [`Launch`] gives the child.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
enum Groups {
    /// Not declared: the parent's.
    #[default]
    Unchanged,
    /// The parent's, said explicitly (needed with a gid).
    Keep,
    /// Exactly these.
    Set(Vec<u32>),
}

/// The declared privilege state of a child: see the [module docs](self) for what each part
/// means, in what order the child applies them, and what is refused.
///
/// # Examples
///
/// ```
/// use capscope::launch::Launch;
/// use capscope::{capset, Cap, Secbits};
///
/// // A sandboxed child: no bounding set, no way back through setuid binaries.
/// let sandbox = Launch::new()
///     .bounding_keep(capset![])
///     .securebits(Secbits::NOROOT | Secbits::NOROOT_LOCKED)
///     .no_new_privs();
/// // A network helper run as a normal user (by a root parent: the id change needs it).
/// let helper = Launch::new().uid(1000).gid(1000).clear_groups().ambient(Cap::NET_ADMIN);
/// # let _ = (sandbox, helper);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Default)]
#[must_use]
pub struct Launch {
    uid: Option<u32>,
    gid: Option<u32>,
    groups: Groups,
    effective: Option<CapSet>,
    permitted: Option<CapSet>,
    inheritable: Option<CapSet>,
    ambient: Option<CapSet>,
    bounding_keep: Option<CapSet>,
    securebits: Option<Secbits>,
    no_new_privs: bool,
    keep_caps: bool,
}

impl Launch {
    /// Nothing declared: the child inherits everything.
    pub fn new() -> Launch {
        Launch::default()
    }

    /// The real, effective, saved and filesystem uid (`setresuid(uid, uid, uid)`). Needs
    /// `CAP_SETUID` permitted, unless `uid` is one of the parent's real, effective and saved
    /// uids.
    pub fn uid(mut self, uid: u32) -> Launch {
        self.uid = Some(uid);
        self
    }

    /// The real, effective, saved and filesystem gid (`setresgid(gid, gid, gid)`); say which
    /// supplementary groups go with it ([`groups`](Self::groups),
    /// [`clear_groups`](Self::clear_groups), [`keep_groups`](Self::keep_groups)). Needs
    /// `CAP_SETGID` permitted, unless `gid` is one of the parent's real, effective and saved
    /// gids.
    pub fn gid(mut self, gid: u32) -> Launch {
        self.gid = Some(gid);
        self
    }

    /// Exactly these supplementary groups (`setgroups`, which needs `CAP_SETGID` permitted).
    pub fn groups(mut self, groups: impl IntoIterator<Item = u32>) -> Launch {
        self.groups = Groups::Set(groups.into_iter().collect());
        self
    }

    /// No supplementary groups (`setgroups`, which needs `CAP_SETGID` permitted, unless the
    /// parent has none).
    pub fn clear_groups(mut self) -> Launch {
        self.groups = Groups::Set(Vec::new());
        self
    }

    /// The parent's supplementary groups, on purpose (`setpriv --keep-groups`).
    pub fn keep_groups(mut self) -> Launch {
        self.groups = Groups::Keep;
        self
    }

    /// Exactly these effective, permitted and inheritable sets (libcap's `cap_set_proc`
    /// state; the ambient capabilities are added to the permitted and inheritable sets).
    pub fn caps(self, caps: CapState) -> Launch {
        self.effective(caps.effective)
            .permitted(caps.permitted)
            .inheritable(caps.inheritable)
    }

    /// Exactly this effective set (a subset of the permitted set).
    pub fn effective(mut self, caps: impl Into<CapSet>) -> Launch {
        self.effective = Some(caps.into());
        self
    }

    /// Exactly this permitted set (plus the ambient capabilities).
    pub fn permitted(mut self, caps: impl Into<CapSet>) -> Launch {
        self.permitted = Some(caps.into());
        self
    }

    /// Exactly this inheritable set (plus the ambient capabilities).
    pub fn inheritable(mut self, caps: impl Into<CapSet>) -> Launch {
        self.inheritable = Some(caps.into());
        self
    }

    /// Exactly this ambient set: the capabilities a program without file capabilities keeps,
    /// permitted and effective, across `execve` (also as a normal user). They are added to the
    /// permitted and inheritable sets; the parent must hold them in its permitted set.
    pub fn ambient(mut self, caps: impl Into<CapSet>) -> Launch {
        self.ambient = Some(caps.into());
        self
    }

    /// Limit the bounding set to these capabilities (drop every other one; needs
    /// `CAP_SETPCAP`): no `execve` of a set-user-ID-root or file-capability program can give
    /// the child more.
    pub fn bounding_keep(mut self, caps: impl Into<CapSet>) -> Launch {
        self.bounding_keep = Some(caps.into());
        self
    }

    /// Exactly these securebits, locks included (needs `CAP_SETPCAP` to change them).
    /// `SECBIT_KEEP_CAPS` is cleared by `execve` whatever is declared.
    pub fn securebits(mut self, bits: Secbits) -> Launch {
        self.securebits = Some(bits);
        self
    }

    /// Set no_new_privs: `execve` in the child and its descendants never grants privileges
    /// (set-ID bits and file capabilities give nothing).
    pub fn no_new_privs(mut self) -> Launch {
        self.no_new_privs = true;
        self
    }

    /// Keep the permitted set across the uid change (`PR_SET_KEEPCAPS`), where the kernel
    /// would empty it. The effective and ambient sets are still emptied as the kernel does,
    /// and `execve` gives a program without file capabilities only its ambient set: this
    /// matters for the permitted set the child holds before `execve` (a `pre_exec` hook added
    /// after this one sees it).
    pub fn keep_caps(mut self) -> Launch {
        self.keep_caps = true;
        self
    }
}

/// A launched program's state as `/proc/<pid>/status` shows it: what [`Plan::verify`] read.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChildState {
    /// The process id.
    pub pid: u32,
    /// Its ids and supplementary groups (the kernel lists the groups in ascending order).
    pub ids: ThreadIds,
    /// Its capability sets and no_new_privs (`securebits` and `keepcaps` are `None`: `/proc`
    /// does not show them).
    pub caps: FullCapState,
}

/// The [`Error`] for an error `spawn` (or `output`, `status`) returned from a command with a
/// declared state: a step that failed in the child comes back as [`Error::Os`] naming the step
/// (`Op::Setresuid`, `Op::Capset`, `Op::AmbientRaise`, ...) and its errno, with a hint that
/// says the program did not run; a read-back in the child that differed from the plan as
/// [`Error::Kernel`] naming the step; a second declared state on one command as
/// [`Error::Refused`]; any other error (the program not found, `fork` failing) as
/// [`Error::Os`] with [`Op::Spawn`].
///
/// # Examples
///
/// ```
/// use std::process::Command;
/// use capscope::launch::{spawn_error, CommandExt, Launch};
///
/// let plan = Launch::new().no_new_privs().plan()?;
/// let out = Command::new("/no/such/program")
///     .declare(&plan)
///     .output()
///     .map_err(spawn_error);
/// assert_eq!(out.unwrap_err().op(), Some(capscope::Op::Spawn));
/// # Ok::<(), capscope::Error>(())
/// ```
#[must_use]
pub fn spawn_error(e: io::Error) -> Error {
    let Some(code) = e.raw_os_error() else {
        return Error::from_io(Op::Spawn, &e);
    };
    match child::decode(code) {
        None => Error::from_io(Op::Spawn, &e),
        Some(r) if r.twice => Error::refused(
            Op::Launch,
            "the command declares two states (each `declare` or `launch` adds its own pre_exec \
             hook and std offers no way to remove one): declare once per command",
        ),
        Some(r) => match r.errno {
            None => Error::kernel(
                r.op,
                format!(
                    "in the child: {}; the program did not run",
                    r.op.unanswered()
                ),
            ),
            Some(errno) => {
                let base = fail_error(Op::Launch, Fail::os(r.op, errno), None);
                let hint = match base.hint() {
                    Some(h) => format!("in the child before execve; the program did not run: {h}"),
                    None => "in the child before execve; the program did not run".to_owned(),
                };
                base.with_hint(hint)
            }
        },
    }
}

/// A declared privilege state for the children of a [`std::process::Command`]: see the
/// [module docs](self).
///
/// # Examples
///
/// ```
/// use std::process::Command;
/// use capscope::launch::{CommandExt, Launch};
///
/// let status = Command::new("/bin/true").launch(&Launch::new().no_new_privs())?.wait();
/// assert!(status.unwrap().success());
/// # Ok::<(), capscope::Error>(())
/// ```
pub trait CommandExt {
    /// Has every child this command spawns apply `plan` between `fork` and `execve` (as a
    /// `pre_exec` hook). Spawn with [`spawn_declared`](Self::spawn_declared) for a typed error,
    /// or map std's with [`spawn_error`].
    ///
    /// Declare once per command: std offers no way to remove a hook, so a second declaration
    /// adds a second one, and the child refuses to run both (the spawn fails with
    /// [`Error::Refused`]).
    fn declare(&mut self, plan: &Plan) -> &mut Self;

    /// Spawns as `spawn` does, with a failed step of the declared state as an [`Error`] naming
    /// it (see [`spawn_error`]).
    ///
    /// # Errors
    ///
    /// As [`spawn_error`] describes.
    fn spawn_declared(&mut self) -> Result<Child>;

    /// Checks `state` against the calling thread ([`Launch::plan`]), declares it and spawns:
    /// the one call.
    ///
    /// # Errors
    ///
    /// As [`Launch::plan`] (nothing is started), then as [`spawn_error`] (the program did not
    /// run).
    fn launch(&mut self, state: &Launch) -> Result<Child> {
        let plan = state.plan()?;
        self.declare(&plan).spawn_declared()
    }

    /// [`launch`](Self::launch), then [`Plan::verify`]: the child and what it was seen to hold.
    /// A child that cannot be verified (its `/proc` entry cannot be read, or it is no longer an
    /// unreaped child of this process) or whose state differs from the plan is killed
    /// (`SIGKILL`) and reaped before the error returns: whenever the result is an error, no
    /// child is left running. The program's file is also looked up (in `PATH`, as `execvp` does)
    /// before the spawn, so that a program that exits at once, or one whose `/proc/<pid>/exe`
    /// this process may not read (it gained privileges at `execve`, which makes it
    /// non-dumpable), is still judged with its set-ID bits and file capabilities.
    ///
    /// # Errors
    ///
    /// As [`launch`](Self::launch) and [`Plan::verify`].
    fn launch_verified(&mut self, state: &Launch) -> Result<(Child, ChildState)>;
}

impl CommandExt for Command {
    fn declare(&mut self, plan: &Plan) -> &mut Command {
        install(self, child::Program::new(plan));
        self
    }

    fn spawn_declared(&mut self) -> Result<Child> {
        self.spawn().map_err(spawn_error)
    }

    fn launch_verified(&mut self, state: &Launch) -> Result<(Child, ChildState)> {
        let plan = state.plan()?;
        // The program's file, in case it has exited (and left /proc) before it is examined.
        let file = open_program(self).and_then(|fd| exec_file(&fd).ok());
        let mut child = self.declare(&plan).spawn_declared()?;
        match plan.verify_with(child.id(), file) {
            Ok(seen) => Ok((child, seen)),
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                Err(e)
            }
        }
    }
}

fn numbers(text: &str, name: &str) -> Result<Vec<u32>> {
    status_numbers(text, name).ok_or_else(|| {
        Error::kernel(
            Op::ReadProc,
            format!("no {name} line, or a value in it that is no id"),
        )
    })
}

fn four(text: &str, name: &str) -> Result<[u32; 4]> {
    numbers(text, name)?
        .try_into()
        .map_err(|_| Error::kernel(Op::ReadProc, format!("{name} has not four ids")))
}

/// Parses the ids and capability lines of a `status` text.
fn parse_status(pid: u32, text: &str) -> Result<ChildState> {
    let [uid, euid, suid, fsuid] = four(text, "Uid")?;
    let [gid, egid, sgid, fsgid] = four(text, "Gid")?;
    let mut groups = numbers(text, "Groups")?;
    groups.sort_unstable();
    Ok(ChildState {
        pid,
        ids: ThreadIds {
            uid,
            euid,
            suid,
            fsuid,
            gid,
            egid,
            sgid,
            fsgid,
            groups,
        },
        caps: FullCapState::from_status(text)?,
    })
}

/// The fields where `seen` differs from `want`, for the error message.
fn differences(want: &ChildState, seen: &ChildState) -> Vec<String> {
    let mut out = Vec::new();
    let (w, s) = (&want.ids, &seen.ids);
    let mut field = |name: &str, a: String, b: String| {
        if a != b {
            out.push(format!("{name}: expected {a}, found {b}"));
        }
    };
    field(
        "Uid",
        format!("{:?}", [w.uid, w.euid, w.suid, w.fsuid]),
        format!("{:?}", [s.uid, s.euid, s.suid, s.fsuid]),
    );
    field(
        "Gid",
        format!("{:?}", [w.gid, w.egid, w.sgid, w.fsgid]),
        format!("{:?}", [s.gid, s.egid, s.sgid, s.fsgid]),
    );
    field(
        "Groups",
        format!("{:?}", w.groups),
        format!("{:?}", s.groups),
    );
    let (w, s) = (&want.caps, &seen.caps);
    let set = |c: CapSet| format!("{:016x} ({c:?})", c.bits());
    field("CapInh", set(w.caps.inheritable), set(s.caps.inheritable));
    field("CapPrm", set(w.caps.permitted), set(s.caps.permitted));
    field("CapEff", set(w.caps.effective), set(s.caps.effective));
    field("CapBnd", set(w.bounding), set(s.bounding));
    field("CapAmb", set(w.ambient), set(s.ambient));
    field(
        "NoNewPrivs",
        u8::from(w.no_new_privs).to_string(),
        u8::from(s.no_new_privs).to_string(),
    );
    out
}

impl Plan {
    /// Checks that the running `child` holds the state this plan declared, as `execve`
    /// transforms it, and returns what it holds.
    ///
    /// Waits until the child's `execve` has installed its credentials (`spawn` returns
    /// slightly before), then reads `/proc/<pid>/status` through a pidfd and
    /// `/proc/<pid>/exe` for the program's set-ID bits and file capabilities, and compares
    /// `Uid`, `Gid`, `Groups`, `CapInh`, `CapPrm`, `CapEff`, `CapBnd`, `CapAmb` and
    /// `NoNewPrivs` with the plan's state after the kernel's `execve` rules (see the
    /// [module docs](self)). A child that has already exited is read as it was at its exit
    /// (as a zombie); `/proc` no longer names its program then, so it is judged as if the
    /// program granted nothing, and a difference is reported as such
    /// ([`CommandExt::launch_verified`] looks the program up before the spawn instead).
    ///
    /// The child must not have been waited for (its pid would be free for reuse): the check
    /// refuses when it no longer is an unreaped child of this process.
    ///
    /// # Errors
    ///
    /// - [`Error::Kernel`] (op [`Op::VerifyLaunch`]) listing each field that differs.
    /// - [`Error::Refused`] when the child has been reaped, or the `/proc` mounted here
    ///   belongs to another PID namespace; [`Error::Os`] when `/proc` cannot be read.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::process::Command;
    /// use capscope::launch::{CommandExt, Launch};
    ///
    /// let plan = Launch::new().no_new_privs().plan()?;
    /// let mut child = Command::new("/bin/sleep").arg("1").declare(&plan).spawn_declared()?;
    /// let seen = plan.verify(&child)?;
    /// assert!(seen.caps.no_new_privs);
    /// child.kill().ok();
    /// child.wait().ok();
    /// # Ok::<(), capscope::Error>(())
    /// ```
    pub fn verify(&self, child: &Child) -> Result<ChildState> {
        self.verify_pid(child.id())
    }

    /// [`verify`](Self::verify) for a child known by its pid (which must be an unreaped child
    /// of this process, not waited for).
    ///
    /// # Errors
    ///
    /// As [`verify`](Self::verify).
    pub fn verify_pid(&self, pid: u32) -> Result<ChildState> {
        self.verify_with(pid, None)
    }

    /// [`verify_pid`](Self::verify_pid), with what the program file brings when `/proc` no
    /// longer shows it.
    fn verify_with(&self, pid: u32, fallback: Option<exec::ExecFile>) -> Result<ChildState> {
        let proc = ChildProc::open(pid)?;
        proc.wait_exec();
        // `/proc/<pid>/exe` is refused (EACCES) when the program made the process non-dumpable
        // (it gained privileges at `execve`) and this process may not trace it; then the file
        // looked up before the spawn, when there is one, is what the program brings.
        let exe = match proc.exe() {
            Err(e) if fallback.is_some() && e.errno() == Some(crate::Errno::ACCES) => None,
            r => r?,
        };
        let exited = exe.is_none() && fallback.is_none();
        let file = exe.or(fallback).unwrap_or_default();
        let text = proc.status()?;
        proc.still_ours()?;
        let seen = parse_status(pid, &text)?;
        let (ids, caps) = exec::after_exec(&self.ids, &self.state, &file);
        let want = ChildState { pid, ids, caps };
        let diff = differences(&want, &seen);
        if diff.is_empty() {
            Ok(seen)
        } else {
            Err(Error::kernel(
                Op::VerifyLaunch,
                format!(
                    "process {pid} does not hold the declared state: {}{}",
                    diff.join("; "),
                    if exited {
                        " (it has exited, and its program could not be examined for set-ID \
                         bits and file capabilities: judged as granting nothing)"
                    } else {
                        ""
                    }
                ),
            ))
        }
    }
}
