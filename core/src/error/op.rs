//! [`Op`]: the operation an error is about, as a matchable enum.

use std::fmt;

macro_rules! ops {
    ($($(#[$doc:meta])* $name:ident => $text:literal,)*) => {
        /// The operation an [`Error`](crate::Error) is about: a system call (named as the kernel names it) or
        /// one of capscope's own operations.
        ///
        /// Its `Display` is the name a message uses (`capset`, `prctl(PR_CAPBSET_DROP)`,
        /// `process::drop_all`).
        ///
        /// # Examples
        ///
        /// ```
        /// use capscope::{bounding, Cap, Error, Op};
        ///
        /// match bounding::drop(Cap::SYS_MODULE) {
        ///     Ok(()) => {}
        ///     Err(Error::Os { op: Op::CapbsetDrop, .. }) => eprintln!("not allowed to drop"),
        ///     Err(e) => return Err(e),
        /// }
        /// assert_eq!(Op::CapbsetDrop.to_string(), "prctl(PR_CAPBSET_DROP)");
        /// # Ok::<(), capscope::Error>(())
        /// ```
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum Op {
            $($(#[$doc])* $name,)*
        }

        impl Op {
            /// The operation's name, as messages print it.
            #[must_use]
            pub const fn name(self) -> &'static str {
                match self {
                    $(Op::$name => $text,)*
                }
            }

            /// Every operation, in declaration order: an operation's number is its index.
            const ALL: &'static [Op] = &[$(Op::$name,)*];
        }
    };
}

impl Op {
    /// The operation as a small number (for the codes a forked child or a signal handler
    /// passes back without allocating); [`from_code`](Self::from_code) reads it back.
    #[allow(clippy::cast_possible_truncation)] // fewer than 256 operations (checked below)
    pub(crate) const fn code(self) -> u8 {
        self as u8
    }

    /// The operation numbered `code` by [`code`](Self::code).
    pub(crate) fn from_code(code: u32) -> Option<Op> {
        usize::try_from(code)
            .ok()
            .and_then(|i| Op::ALL.get(i).copied())
    }
}

const _: () = assert!(Op::ALL.len() < 256, "an operation's code is one byte");

ops! {
    /// `capget(2)`.
    Capget => "capget",
    /// `capset(2)`.
    Capset => "capset",
    /// `prctl(PR_CAPBSET_READ)`.
    CapbsetRead => "prctl(PR_CAPBSET_READ)",
    /// `prctl(PR_CAPBSET_DROP)`.
    CapbsetDrop => "prctl(PR_CAPBSET_DROP)",
    /// `prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET)`.
    AmbientIsSet => "prctl(PR_CAP_AMBIENT_IS_SET)",
    /// `prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE)`.
    AmbientRaise => "prctl(PR_CAP_AMBIENT_RAISE)",
    /// `prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_LOWER)`.
    AmbientLower => "prctl(PR_CAP_AMBIENT_LOWER)",
    /// `prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)`.
    AmbientClearAll => "prctl(PR_CAP_AMBIENT_CLEAR_ALL)",
    /// `prctl(PR_GET_SECUREBITS)`.
    GetSecurebits => "prctl(PR_GET_SECUREBITS)",
    /// `prctl(PR_SET_SECUREBITS)`.
    SetSecurebits => "prctl(PR_SET_SECUREBITS)",
    /// `prctl(PR_GET_KEEPCAPS)`.
    GetKeepcaps => "prctl(PR_GET_KEEPCAPS)",
    /// `prctl(PR_SET_KEEPCAPS)`.
    SetKeepcaps => "prctl(PR_SET_KEEPCAPS)",
    /// `prctl(PR_GET_NO_NEW_PRIVS)`.
    GetNoNewPrivs => "prctl(PR_GET_NO_NEW_PRIVS)",
    /// `prctl(PR_SET_NO_NEW_PRIVS)`.
    SetNoNewPrivs => "prctl(PR_SET_NO_NEW_PRIVS)",
    /// `setresuid(2)` (the per-thread system call).
    Setresuid => "setresuid",
    /// `setresgid(2)` (the per-thread system call).
    Setresgid => "setresgid",
    /// `setgroups(2)` (the per-thread system call).
    Setgroups => "setgroups",
    /// `getresuid(2)`.
    Getresuid => "getresuid",
    /// `getresgid(2)`.
    Getresgid => "getresgid",
    /// `getgroups(2)`.
    Getgroups => "getgroups",
    /// `setfsuid(2)`.
    Setfsuid => "setfsuid",
    /// `setfsgid(2)`.
    Setfsgid => "setfsgid",
    /// Reading the `security.capability` attribute (`lgetxattr`, `fgetxattr`).
    GetFileCaps => "getxattr(security.capability)",
    /// Writing the `security.capability` attribute (`fsetxattr`).
    SetFileCaps => "setxattr(security.capability)",
    /// Removing the `security.capability` attribute (`fremovexattr`).
    RemoveFileCaps => "removexattr(security.capability)",
    /// Opening a file to read or change its capabilities.
    OpenFile => "open",
    /// `prctl(PR_GET_NAME)`.
    GetName => "prctl(PR_GET_NAME)",
    /// `prctl(PR_SET_NAME)`.
    SetName => "prctl(PR_SET_NAME)",
    /// `prctl(PR_GET_PDEATHSIG)`.
    GetPdeathsig => "prctl(PR_GET_PDEATHSIG)",
    /// `prctl(PR_SET_PDEATHSIG)`.
    SetPdeathsig => "prctl(PR_SET_PDEATHSIG)",
    /// `prctl(PR_GET_DUMPABLE)`.
    GetDumpable => "prctl(PR_GET_DUMPABLE)",
    /// `prctl(PR_SET_DUMPABLE)`.
    SetDumpable => "prctl(PR_SET_DUMPABLE)",
    /// `prctl(PR_GET_CHILD_SUBREAPER)`.
    GetChildSubreaper => "prctl(PR_GET_CHILD_SUBREAPER)",
    /// `prctl(PR_SET_CHILD_SUBREAPER)`.
    SetChildSubreaper => "prctl(PR_SET_CHILD_SUBREAPER)",
    /// `prctl(PR_GET_TIMERSLACK)`.
    GetTimerslack => "prctl(PR_GET_TIMERSLACK)",
    /// `prctl(PR_SET_TIMERSLACK)`.
    SetTimerslack => "prctl(PR_SET_TIMERSLACK)",
    /// `prctl(PR_GET_TIMING)`.
    GetTiming => "prctl(PR_GET_TIMING)",
    /// `prctl(PR_SET_TIMING)`.
    SetTiming => "prctl(PR_SET_TIMING)",
    /// `prctl(PR_GET_THP_DISABLE)`.
    GetThpDisable => "prctl(PR_GET_THP_DISABLE)",
    /// `prctl(PR_SET_THP_DISABLE)`.
    SetThpDisable => "prctl(PR_SET_THP_DISABLE)",
    /// `prctl(PR_GET_IO_FLUSHER)`.
    GetIoFlusher => "prctl(PR_GET_IO_FLUSHER)",
    /// `prctl(PR_SET_IO_FLUSHER)`.
    SetIoFlusher => "prctl(PR_SET_IO_FLUSHER)",
    /// `prctl(PR_SET_PTRACER)`.
    SetPtracer => "prctl(PR_SET_PTRACER)",
    /// `prctl(PR_MCE_KILL_GET)`.
    GetMceKill => "prctl(PR_MCE_KILL_GET)",
    /// `prctl(PR_MCE_KILL)`.
    SetMceKill => "prctl(PR_MCE_KILL)",
    /// `prctl(PR_GET_SECCOMP)`.
    GetSeccomp => "prctl(PR_GET_SECCOMP)",
    /// `prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT)`.
    SetSeccompStrict => "prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT)",
    /// `prctl(PR_GET_SPECULATION_CTRL)`.
    GetSpeculationCtrl => "prctl(PR_GET_SPECULATION_CTRL)",
    /// `prctl(PR_SET_SPECULATION_CTRL)`.
    SetSpeculationCtrl => "prctl(PR_SET_SPECULATION_CTRL)",
    /// Making a [`Signal`](crate::Signal) from a number.
    Signal => "signal",
    /// Finding the kernel's last capability (`PR_CAPBSET_READ` probes and
    /// `/proc/sys/kernel/cap_last_cap`).
    CapLastCap => "cap_last_cap",
    /// Reading a file of `/proc`.
    ReadProc => "read /proc",
    /// `sigaction(2)`, installing the broadcast signal's handler.
    Sigaction => "sigaction",
    /// `tgkill(2)`, signalling a thread.
    Tgkill => "tgkill",
    /// [`cap_set_ids`](crate::cap_set_ids).
    CapSetIds => "cap_set_ids",
    /// Dropping capabilities for good: [`drop_after::drop_all`](crate::drop_after::drop_all),
    /// `#[drop_caps_after]`.
    DropAll => "drop_all",
    /// [`manifest::restrict`](crate::manifest::restrict).
    Restrict => "manifest::restrict",
    /// Raising capabilities for a scope: a guard, a future, `#[requires_caps]`.
    Raise => "raise",
    /// The end of a scope: restoring the effective set and lowering threads born in it.
    Restore => "restore",
    /// [`process::set_caps`](crate::process::set_caps).
    ProcessSetCaps => "process::set_caps",
    /// [`process::bounding_drop`](crate::process::bounding_drop).
    ProcessBoundingDrop => "process::bounding_drop",
    /// [`process::ambient_clear`](crate::process::ambient_clear).
    ProcessAmbientClear => "process::ambient_clear",
    /// [`process::ambient_raise`](crate::process::ambient_raise).
    ProcessAmbientRaise => "process::ambient_raise",
    /// [`process::set_no_new_privs`](crate::process::set_no_new_privs).
    ProcessSetNoNewPrivs => "process::set_no_new_privs",
    /// [`process::set_securebits`](crate::process::set_securebits).
    ProcessSetSecurebits => "process::set_securebits",
    /// [`process::drop_all`](crate::process::drop_all).
    ProcessDropAll => "process::drop_all",
    /// [`process::cap_set_ids`](crate::process::cap_set_ids).
    ProcessCapSetIds => "process::cap_set_ids",
    /// [`process::set_signal`](crate::process::set_signal).
    ProcessSetSignal => "process::set_signal",
    /// Lowering, on other threads, what a scope raised (threads born inside a scope).
    ProcessLower => "process::lower",
    /// Launching a program with a declared privilege state
    /// ([`launch`](crate::launch)): checking the state before `fork`.
    Launch => "launch",
    /// Starting the program itself (`fork`, `execve`), as `std::process::Command::spawn`
    /// reports it.
    Spawn => "spawn",
    /// Checking that a launched program holds its declared state
    /// ([`Plan::verify`](crate::launch::Plan::verify)).
    VerifyLaunch => "launch::verify",
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
