//! The error type of every fallible call in capscope.
//!
//! A failing system call becomes an [`Error`] that keeps its errno ([`Error::errno`]), names the
//! operation that failed as a matchable [`Op`] ([`Error::op`]) and, for the classic traps of the
//! capability rules, says how to fix it ([`Error::hint`]). Input that capscope refuses before
//! any system call is [`Error::InvalidInput`]; a request it cannot carry out safely in the
//! situation at hand (a foreign `/proc`, other threads alive, a guard made inside a signal
//! handler that interrupted another) is [`Error::Refused`]; a capability the running kernel
//! lacks is [`Error::Unsupported`]; [`Error::Kernel`] is reserved for answers of the kernel that
//! make no sense (a malformed `/proc` file, a read-back that differs from what was just set).
//! Text that does not parse has its own types, with the byte position: see
//! [`ParseCapError`](crate::ParseCapError).
//!
//! # Display, `source` and `Debug`
//!
//! No error both prints its cause in its message and returns it from
//! [`source`](std::error::Error::source): the wrappers ([`Error::Indeterminate`],
//! [`Error::Path`]) print the inner message after their own and hand on the inner error's own
//! source. `Debug` prints the same message as `Display` (`{:#?}` prints the structure), so that
//! `fn main() -> Result<(), capscope::Error>` and `fn main() -> std::io::Result<()>` both show
//! the readable message, advice included, when they return an error.

use std::borrow::Cow;
use std::fmt;
use std::io;
use std::path::PathBuf;

use crate::{Cap, CapSet};

mod errno;
mod op;

pub use errno::Errno;
pub use op::Op;

/// The result type of capscope's fallible calls.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Every error a capscope call returns, apart from text parse errors.
///
/// # Examples
///
/// ```
/// use capscope::{Error, Op};
///
/// // Asking for a capability the running kernel does not have is refused before any
/// // system call, whoever runs it.
/// let cap = capscope::Cap::from_u8(63).unwrap();
/// let e = capscope::bounding::drop(cap).unwrap_err();
/// assert!(matches!(e, Error::Unsupported { op: Op::CapbsetDrop, .. }));
/// let io: std::io::Error = e.into();
/// assert_eq!(io.kind(), std::io::ErrorKind::Unsupported);
/// ```
#[non_exhaustive]
pub enum Error {
    /// A system call failed.
    Os {
        /// The operation.
        op: Op,
        /// The error number the kernel returned.
        errno: Errno,
        /// How to fix the classic mistakes, where capscope can tell.
        hint: Option<Cow<'static, str>>,
    },
    /// The running kernel does not know this capability.
    Unsupported {
        /// The operation that needed the capability.
        op: Op,
        /// The capability.
        cap: Cap,
        /// The kernel's last capability.
        last: Cap,
    },
    /// capscope refused the input before making any system call.
    InvalidInput {
        /// The operation.
        op: Op,
        /// What is wrong with the input.
        reason: Cow<'static, str>,
    },
    /// capscope refused to carry out the operation in the situation at hand, before changing
    /// anything: the reason says why and what to do (mount a `/proc` for the PID namespace,
    /// use the process-wide form, do not nest broadcasts, ...).
    Refused {
        /// The operation.
        op: Op,
        /// Why, and the fix.
        reason: Cow<'static, str>,
    },
    /// The kernel answered with something capscope cannot make sense of: a malformed `/proc`
    /// file, two sources that disagree, a state read back after a change that is not what was
    /// set.
    Kernel {
        /// The operation.
        op: Op,
        /// What was unexpected.
        detail: Cow<'static, str>,
    },
    /// Capabilities a scope needs are missing from the permitted set.
    MissingCaps {
        /// The function (or scope) that needs them.
        function: &'static str,
        /// Every capability missing from the permitted set.
        missing: CapSet,
    },
    /// An operation on a file failed; the path names the file.
    Path {
        /// The file.
        path: PathBuf,
        /// What failed.
        source: Box<Error>,
    },
    /// A change failed after an earlier part of it had already taken effect: the thread's
    /// credentials are now neither what they were nor what was asked.
    ///
    /// The caller must not go on: it should abort the process (or at least end the thread)
    /// rather than run with credentials nobody chose.
    Indeterminate {
        /// The operation.
        op: Op,
        /// The failure after the first change.
        source: Box<Error>,
    },
    /// A process-wide change (see [`process`](crate::process)) did not reach every thread: the
    /// calling thread and possibly others changed, the threads named did not (or not as
    /// asked). The process's threads now hold different credentials.
    ///
    /// Treat it like [`Error::Indeterminate`]: abort the process (or retry the same change once
    /// the named threads can answer) rather than go on.
    Threads(Box<ThreadFailures>),
}

/// The threads a process-wide change did not reach, by cause: see [`Error::Threads`].
#[derive(Clone, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ThreadFailures {
    /// The operation.
    pub op: Option<Op>,
    /// Threads that kept the broadcast signal blocked (their `SigBlk` mask has it).
    pub blocked: Vec<u32>,
    /// Threads that did not answer before the timeout although they did not block it.
    pub unanswered: Vec<u32>,
    /// Threads the kernel would not queue the signal for until the timeout (`tgkill` answered
    /// `EAGAIN`: the real-time signal queue is full, see `RLIMIT_SIGPENDING`).
    pub queue_full: Vec<u32>,
    /// Threads whose own system call failed: the call and its errno.
    pub failed: Vec<(u32, Op, Errno)>,
    /// Threads whose state, read back after the change, is not what was asked.
    pub unverified: Vec<u32>,
}

impl fmt::Display for ThreadFailures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(op) = self.op {
            write!(f, "{op}: ")?;
        }
        f.write_str("not applied to every thread, the process's threads now differ")?;
        if !self.blocked.is_empty() {
            write!(
                f,
                "; threads blocking the broadcast signal: {:?}",
                self.blocked
            )?;
        }
        if !self.unanswered.is_empty() {
            write!(
                f,
                "; threads that did not answer in time: {:?}",
                self.unanswered
            )?;
        }
        if !self.queue_full.is_empty() {
            write!(
                f,
                "; threads the signal could not be queued for (the real-time signal queue is \
                 full: raise RLIMIT_SIGPENDING): {:?}",
                self.queue_full
            )?;
        }
        for (tid, op, errno) in &self.failed {
            write!(f, "; thread {tid}: {op} failed: {errno}")?;
        }
        if !self.unverified.is_empty() {
            write!(
                f,
                "; threads whose state is not as asked: {:?}",
                self.unverified
            )?;
        }
        Ok(())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Os { op, errno, hint } => {
                write!(f, "{op} failed: {errno}")?;
                match hint {
                    Some(h) => write!(f, " ({h})"),
                    None => Ok(()),
                }
            }
            Error::Unsupported { op, cap, last } => write!(
                f,
                "{op}: the running kernel does not support capability {cap} (its last \
                 capability is {last})"
            ),
            Error::InvalidInput { op, reason } => write!(f, "{op}: invalid input: {reason}"),
            Error::Refused { op, reason } => write!(f, "{op}: refused: {reason}"),
            Error::Kernel { op, detail } => {
                write!(f, "{op}: unexpected answer from the kernel: {detail}")
            }
            Error::MissingCaps { function, missing } => {
                let them = if missing.len() == 1 { "it" } else { "them" };
                write!(
                    f,
                    "{function} needs {missing}, missing from the permitted set. Grant {them} to \
                     the program: as a file capability, `setcap {missing}+p /path/to/program`; \
                     or start it from root with {them} ambient, as the user it runs as: \
                     `capscope exec --uid USER --gid GROUP --clear-groups --ambient {missing} -- \
                     /path/to/program` (or `setpriv --reuid=USER --regid=GROUP --clear-groups \
                     --inh-caps={plus} --ambient-caps={plus} -- /path/to/program`), or in a \
                     systemd unit `AmbientCapabilities={kernel}`",
                    plus = fmt_plus(*missing),
                    kernel = fmt_kernel(*missing),
                )
            }
            Error::Path { path, source } => write!(f, "{}: {source}", path.display()),
            Error::Indeterminate { op, source } => write!(
                f,
                "{op}: failed part-way, the thread's credentials are indeterminate and the \
                 process must abort: {source}"
            ),
            Error::Threads(t) => fmt::Display::fmt(t, f),
        }
    }
}

/// The wrappers ([`Error::Path`], [`Error::Indeterminate`]) print the inner error in their
/// message, so their `source` is the inner error's own source, not the inner error.
impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Path { source, .. } | Error::Indeterminate { source, .. } => source.source(),
            _ => None,
        }
    }
}

/// `+cap_a,+cap_b` (setpriv's form).
fn fmt_plus(caps: CapSet) -> String {
    caps.iter()
        .map(|c| match c.name() {
            Some(n) => format!("+{}", &n["cap_".len()..]),
            None => format!("+cap_{}", c.as_u8()),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// `CAP_A CAP_B` (systemd's form).
fn fmt_kernel(caps: CapSet) -> String {
    caps.iter()
        .map(|c| match c.kernel_name() {
            Some(n) => format!("CAP_{n}"),
            None => c.as_u8().to_string(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

impl fmt::Debug for Error {
    /// The message, as `Display` prints it (what `main` shows when it returns the error);
    /// `{:#?}` prints the structure.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !f.alternate() {
            return fmt::Display::fmt(self, f);
        }
        match self {
            Error::Os { op, errno, hint } => f
                .debug_struct("Os")
                .field("op", op)
                .field("errno", errno)
                .field("hint", hint)
                .finish(),
            Error::Unsupported { op, cap, last } => f
                .debug_struct("Unsupported")
                .field("op", op)
                .field("cap", cap)
                .field("last", last)
                .finish(),
            Error::InvalidInput { op, reason } => f
                .debug_struct("InvalidInput")
                .field("op", op)
                .field("reason", reason)
                .finish(),
            Error::Refused { op, reason } => f
                .debug_struct("Refused")
                .field("op", op)
                .field("reason", reason)
                .finish(),
            Error::Kernel { op, detail } => f
                .debug_struct("Kernel")
                .field("op", op)
                .field("detail", detail)
                .finish(),
            Error::MissingCaps { function, missing } => f
                .debug_struct("MissingCaps")
                .field("function", function)
                .field("missing", missing)
                .finish(),
            Error::Path { path, source } => f
                .debug_struct("Path")
                .field("path", path)
                .field("source", source)
                .finish(),
            Error::Indeterminate { op, source } => f
                .debug_struct("Indeterminate")
                .field("op", op)
                .field("source", source)
                .finish(),
            Error::Threads(t) => f.debug_tuple("Threads").field(t).finish(),
        }
    }
}

impl Error {
    /// An [`Error::Os`] for `op` failing with `errno`, without a hint.
    pub(crate) fn os(op: Op, errno: impl Into<Errno>) -> Error {
        Error::Os {
            op,
            errno: errno.into(),
            hint: None,
        }
    }

    /// An [`Error::Os`] for `op` from a standard I/O error (`EIO` if it carries no errno).
    pub(crate) fn from_io(op: Op, e: &io::Error) -> Error {
        let raw = e
            .raw_os_error()
            .unwrap_or(rustix::io::Errno::IO.raw_os_error());
        Error::os(op, Errno::from_raw(raw))
    }

    /// An [`Error::InvalidInput`].
    pub(crate) fn invalid(op: Op, reason: impl Into<Cow<'static, str>>) -> Error {
        Error::InvalidInput {
            op,
            reason: reason.into(),
        }
    }

    /// An [`Error::Refused`].
    pub(crate) fn refused(op: Op, reason: impl Into<Cow<'static, str>>) -> Error {
        Error::Refused {
            op,
            reason: reason.into(),
        }
    }

    /// An [`Error::Kernel`].
    pub(crate) fn kernel(op: Op, detail: impl Into<Cow<'static, str>>) -> Error {
        Error::Kernel {
            op,
            detail: detail.into(),
        }
    }

    /// An [`Error::Indeterminate`] wrapping `source`.
    pub(crate) fn indeterminate(op: Op, source: Error) -> Error {
        Error::Indeterminate {
            op,
            source: Box::new(source),
        }
    }

    /// An [`Error::Path`] naming `path`.
    pub(crate) fn at_path(self, path: impl Into<PathBuf>) -> Error {
        Error::Path {
            path: path.into(),
            source: Box::new(self),
        }
    }

    /// Adds (or replaces) the hint of an [`Error::Os`]; other variants are returned unchanged.
    pub(crate) fn with_hint(self, new: impl Into<Cow<'static, str>>) -> Error {
        match self {
            Error::Os { op, errno, .. } => Error::Os {
                op,
                errno,
                hint: Some(new.into()),
            },
            other => other,
        }
    }

    /// The errno of a failed system call, looking through [`Error::Indeterminate`] and
    /// [`Error::Path`].
    ///
    /// # Examples
    ///
    /// ```
    /// let e = capscope::FileCaps::get_for_file("/no/such/file").unwrap_err();
    /// assert_eq!(e.errno(), Some(capscope::Errno::NOENT));
    /// ```
    #[must_use]
    pub fn errno(&self) -> Option<Errno> {
        match self {
            Error::Os { errno, .. } => Some(*errno),
            Error::Indeterminate { source, .. } | Error::Path { source, .. } => source.errno(),
            _ => None,
        }
    }

    /// The raw errno of a failed system call: [`errno`](Self::errno) as an `i32`.
    #[must_use]
    pub fn code(&self) -> Option<i32> {
        self.errno().map(Errno::raw)
    }

    /// The operation that failed; `None` for [`Error::MissingCaps`] (a function, see
    /// [`function`](Self::function)). [`Error::Path`] answers for the operation inside.
    #[must_use]
    pub fn op(&self) -> Option<Op> {
        match self {
            Error::Os { op, .. }
            | Error::Unsupported { op, .. }
            | Error::InvalidInput { op, .. }
            | Error::Refused { op, .. }
            | Error::Kernel { op, .. }
            | Error::Indeterminate { op, .. } => Some(*op),
            Error::Threads(t) => t.op,
            Error::Path { source, .. } => source.op(),
            Error::MissingCaps { .. } => None,
        }
    }

    /// The function of an [`Error::MissingCaps`].
    #[must_use]
    pub fn function(&self) -> Option<&'static str> {
        match self {
            Error::MissingCaps { function, .. } => Some(function),
            _ => None,
        }
    }

    /// The fix for a classic mistake, if capscope knows one for this error.
    #[must_use]
    pub fn hint(&self) -> Option<&str> {
        match self {
            Error::Os { hint, .. } => hint.as_deref(),
            Error::Indeterminate { source, .. } | Error::Path { source, .. } => source.hint(),
            _ => None,
        }
    }

    /// Whether the caller must not go on: [`Error::Indeterminate`] or [`Error::Threads`] (the
    /// threads now hold different credentials).
    #[must_use]
    pub fn is_indeterminate(&self) -> bool {
        match self {
            Error::Indeterminate { .. } | Error::Threads(_) => true,
            Error::Path { source, .. } => source.is_indeterminate(),
            _ => false,
        }
    }

    fn io_kind(&self) -> io::ErrorKind {
        match self {
            Error::Os { errno, .. } => errno.kind(),
            Error::Path { source, .. } => source.io_kind(),
            Error::Unsupported { .. } => io::ErrorKind::Unsupported,
            Error::InvalidInput { .. } => io::ErrorKind::InvalidInput,
            Error::MissingCaps { .. } => io::ErrorKind::PermissionDenied,
            Error::Refused { .. }
            | Error::Kernel { .. }
            | Error::Indeterminate { .. }
            | Error::Threads(_) => io::ErrorKind::Other,
        }
    }
}

/// Keeps the message (operation, hint, advice) and maps the errno to its [`io::ErrorKind`]; the
/// original [`Error`] stays reachable with `io_error.get_ref()` and `downcast_ref`.
impl From<Error> for io::Error {
    fn from(e: Error) -> io::Error {
        io::Error::new(e.io_kind(), e)
    }
}

/// Shorthand used across the crate: map a rustix result to an [`Error::Os`] naming `op`.
pub(crate) trait OsContext<T> {
    fn op(self, op: Op) -> Result<T>;
}

impl<T> OsContext<T> for rustix::io::Result<T> {
    #[inline]
    fn op(self, op: Op) -> Result<T> {
        self.map_err(|e| Error::os(op, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrappers_print_their_cause_once_and_do_not_return_it() {
        use std::error::Error as _;
        let inner = Error::os(Op::SetFileCaps, Errno::PERM);
        let e = inner.at_path("/x");
        assert_eq!(
            e.to_string(),
            "/x: setxattr(security.capability) failed: Operation not permitted (os error 1)"
        );
        assert!(e.source().is_none());
        let e = Error::indeterminate(Op::CapSetIds, Error::os(Op::Setresuid, Errno::PERM));
        assert!(e.to_string().contains("setresuid failed"));
        assert!(e.source().is_none());
        assert_eq!(format!("{e:?}"), e.to_string());
    }

    #[test]
    fn missing_caps_advice() {
        let caps = CapSet::from(Cap::NET_BIND_SERVICE) | Cap::NET_RAW;
        let e = Error::MissingCaps {
            function: "f",
            missing: caps,
        };
        let s = e.to_string();
        assert!(
            s.contains("setcap cap_net_bind_service,cap_net_raw+p"),
            "{s}"
        );
        assert!(
            s.contains("--ambient-caps=+net_bind_service,+net_raw"),
            "{s}"
        );
        assert!(
            s.contains("AmbientCapabilities=CAP_NET_BIND_SERVICE CAP_NET_RAW"),
            "{s}"
        );
        assert!(s.contains("capscope exec --uid USER --gid GROUP --clear-groups --ambient cap_net_bind_service,cap_net_raw --"));
        let io: io::Error = e.into();
        assert!(format!("{io:?}").contains("setcap"), "{io:?}");
    }

    #[test]
    fn the_error_stays_small() {
        assert!(
            std::mem::size_of::<Error>() <= 40,
            "{}",
            std::mem::size_of::<Error>()
        );
    }
}
