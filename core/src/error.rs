//! The error type of every fallible call in capscope.
//!
//! A failing system call becomes an [`Error`] that keeps its errno ([`Error::code`]), names the
//! operation that failed ([`Error::op`]) and, for the classic traps of the capability rules,
//! says how to fix it ([`Error::hint`]). Input that capscope refuses before any system call is
//! [`Error::InvalidInput`]; a capability the running kernel lacks is [`Error::Unsupported`].
//! Text that does not parse has its own types, with the byte position: see
//! [`ParseCapError`](crate::ParseCapError).

use std::borrow::Cow;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use crate::{Cap, CapSet};

/// The result type of capscope's fallible calls.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An operating-system error number (`errno`), as a newtype.
///
/// # Examples
///
/// ```
/// let e = capscope::Errno::from_raw(1);
/// assert_eq!(e.raw(), 1);
/// assert_eq!(e.kind(), std::io::ErrorKind::PermissionDenied);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Errno(i32);

impl Errno {
    /// `EPERM`: operation not permitted.
    pub const PERM: Errno = Errno(1);
    /// `ESRCH`: no such process.
    pub const SRCH: Errno = Errno(3);
    /// `EINVAL`: invalid argument.
    pub const INVAL: Errno = Errno(22);
    /// `ENODATA`: no data available (no such extended attribute).
    pub const NODATA: Errno = Errno(61);

    /// Wraps a raw errno value.
    #[must_use]
    pub const fn from_raw(raw: i32) -> Errno {
        Errno(raw)
    }

    /// The calling thread's current `errno`, right after a libc call that failed.
    /// Async-signal-safe: it reads the thread's errno and allocates nothing.
    #[inline]
    pub(crate) fn last() -> Errno {
        Errno(io::Error::last_os_error().raw_os_error().unwrap_or(0))
    }

    /// The raw errno value.
    #[must_use]
    pub const fn raw(self) -> i32 {
        self.0
    }

    /// The [`io::ErrorKind`] the standard library gives this errno.
    #[must_use]
    pub fn kind(self) -> io::ErrorKind {
        io::Error::from_raw_os_error(self.0).kind()
    }
}

impl From<rustix::io::Errno> for Errno {
    fn from(e: rustix::io::Errno) -> Errno {
        Errno(e.raw_os_error())
    }
}

impl fmt::Debug for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Errno({}: {})",
            self.0,
            io::Error::from_raw_os_error(self.0)
        )
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // std's message is "Operation not permitted (os error 1)".
        fmt::Display::fmt(&io::Error::from_raw_os_error(self.0), f)
    }
}

/// Every error a capscope call returns, apart from text parse errors.
///
/// # Examples
///
/// ```
/// use capscope::{Cap, Error};
///
/// // Dropping from the bounding set without CAP_SETPCAP in the effective set is the classic trap;
/// // the error names the operation, keeps the errno and says how to fix it.
/// let e = Error::os("prctl(PR_CAPBSET_DROP)", capscope::Errno::PERM)
///     .with_hint("dropping from the bounding set needs CAP_SETPCAP in the effective set");
/// assert_eq!(e.code(), Some(1));
/// assert!(e.to_string().contains("PR_CAPBSET_DROP"));
/// let io: std::io::Error = e.into();
/// assert_eq!(io.kind(), std::io::ErrorKind::PermissionDenied);
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A system call failed.
    #[error("{op} failed: {errno}{}", fmt_hint(.hint))]
    Os {
        /// The operation, as the kernel names it (`capset`, `prctl(PR_CAP_AMBIENT_RAISE)`).
        op: &'static str,
        /// The error number the kernel returned.
        errno: Errno,
        /// How to fix the classic mistakes, where capscope can tell.
        hint: Option<Cow<'static, str>>,
    },
    /// The running kernel does not know this capability.
    #[error("{op}: the running kernel does not support capability {cap} (its last capability is {last})")]
    Unsupported {
        /// The operation that needed the capability.
        op: &'static str,
        /// The capability.
        cap: Cap,
        /// The kernel's last capability.
        last: Cap,
    },
    /// capscope refused the input before making any system call.
    #[error("{op}: invalid input: {reason}")]
    InvalidInput {
        /// The operation.
        op: &'static str,
        /// What is wrong with the input.
        reason: Cow<'static, str>,
    },
    /// The kernel answered with something capscope cannot make sense of (for example a
    /// malformed `/proc` file, or two sources that disagree).
    #[error("{op}: unexpected answer from the kernel: {detail}")]
    Kernel {
        /// The operation.
        op: &'static str,
        /// What was unexpected.
        detail: Cow<'static, str>,
    },
    /// Capabilities a scope needs are missing from the permitted set.
    #[error(
        "{function} needs {grant}, missing from the permitted set; grant them with \
             `setcap {grant}+p <binary>` (or as ambient capabilities from the parent: \
             `capsh --caps=\"{grant}+eip\" --addamb={grant} -- -c <binary>`)"
    )]
    MissingCaps {
        /// The function (or scope) that needs them.
        function: &'static str,
        /// Every capability missing from the permitted set.
        missing: CapSet,
        /// The missing set in libcap's list form, `cap_a,cap_b`.
        grant: String,
    },
    /// A change failed after an earlier part of it had already taken effect: the thread's
    /// credentials are now neither what they were nor what was asked.
    ///
    /// The caller must not go on: it should abort the process (or at least end the thread)
    /// rather than run with credentials nobody chose.
    #[error(
        "{op}: failed part-way, the thread's credentials are indeterminate and the \
             process must abort: {source}"
    )]
    Indeterminate {
        /// The operation.
        op: &'static str,
        /// The failure after the first change.
        source: Box<Error>,
    },
    /// A process-wide change (see [`process`](crate::process)) did not reach every thread: the
    /// calling thread and possibly others changed, the threads listed here did not (or not as
    /// asked). The process's threads now hold different credentials.
    ///
    /// Treat it like [`Error::Indeterminate`]: abort the process (or retry the same change once
    /// the named threads can answer) rather than go on.
    #[error("{op}: not applied to every thread, the process's threads now differ{}",
            fmt_threads(.blocked, .unanswered, .failed, .unverified))]
    Threads {
        /// The operation.
        op: &'static str,
        /// Threads that kept the broadcast signal blocked (their `SigBlk` mask has it).
        blocked: Vec<u32>,
        /// Threads that did not answer before the timeout although they did not block it.
        unanswered: Vec<u32>,
        /// Threads whose own system call failed, with its errno.
        failed: Vec<(u32, Errno)>,
        /// Threads whose state, read back after the change, is not what was asked.
        unverified: Vec<u32>,
    },
    /// A call on a path failed: the path, and the error. Every function that takes a path
    /// ([`FileCaps::get_for_file`](crate::FileCaps::get_for_file), ...) wraps its errors in
    /// this variant; [`code`](Error::code), [`op`](Error::op) and [`hint`](Error::hint) look
    /// through it.
    #[error(transparent)]
    Path(PathError),
}

/// The error of a call on a path: prints as `{path}: {error}`.
///
/// Its [`source`](std::error::Error::source) is the wrapped error's source, not the wrapped
/// error (whose message the `Display` already holds).
///
/// # Examples
///
/// ```
/// let e = capscope::FileCaps::get_for_file("/nonexistent/x").unwrap_err();
/// assert!(e.to_string().starts_with("/nonexistent/x: "), "{e}");
/// assert_eq!(e.code(), Some(2)); // ENOENT, through the path
/// if let capscope::Error::Path(p) = &e {
///     assert_eq!(p.path(), std::path::Path::new("/nonexistent/x"));
///     assert_eq!(p.error().code(), Some(2));
/// }
/// ```
#[derive(Debug)]
pub struct PathError {
    path: PathBuf,
    error: Box<Error>,
}

impl PathError {
    /// The path the call was given.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What went wrong on it.
    #[must_use]
    pub fn error(&self) -> &Error {
        &self.error
    }
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.error)
    }
}

impl std::error::Error for PathError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        std::error::Error::source(&*self.error)
    }
}

fn fmt_threads(
    blocked: &[u32],
    unanswered: &[u32],
    failed: &[(u32, Errno)],
    unverified: &[u32],
) -> String {
    let mut s = String::new();
    if !blocked.is_empty() {
        s.push_str(&format!(
            "; threads blocking the broadcast signal: {blocked:?}"
        ));
    }
    if !unanswered.is_empty() {
        s.push_str(&format!(
            "; threads that did not answer in time: {unanswered:?}"
        ));
    }
    for (tid, errno) in failed {
        s.push_str(&format!("; thread {tid} failed: {errno}"));
    }
    if !unverified.is_empty() {
        s.push_str(&format!(
            "; threads whose state is not as asked: {unverified:?}"
        ));
    }
    s
}

fn fmt_hint(hint: &Option<Cow<'static, str>>) -> String {
    match hint {
        Some(h) => format!(" ({h})"),
        None => String::new(),
    }
}

impl Error {
    /// An [`Error::Os`] for `op` failing with `errno`, without a hint.
    #[must_use]
    pub fn os(op: &'static str, errno: impl Into<Errno>) -> Error {
        Error::Os {
            op,
            errno: errno.into(),
            hint: None,
        }
    }

    /// An [`Error::Os`] for `op` from a standard I/O error (`EIO` if it carries no errno).
    pub(crate) fn from_io(op: &'static str, e: &io::Error) -> Error {
        let raw = e
            .raw_os_error()
            .unwrap_or(rustix::io::Errno::IO.raw_os_error());
        Error::os(op, Errno(raw))
    }

    /// An [`Error::InvalidInput`].
    #[must_use]
    pub fn invalid(op: &'static str, reason: impl Into<Cow<'static, str>>) -> Error {
        Error::InvalidInput {
            op,
            reason: reason.into(),
        }
    }

    /// An [`Error::Kernel`].
    #[must_use]
    pub fn kernel(op: &'static str, detail: impl Into<Cow<'static, str>>) -> Error {
        Error::Kernel {
            op,
            detail: detail.into(),
        }
    }

    /// An [`Error::MissingCaps`] for `function` lacking `missing`.
    #[must_use]
    pub fn missing_caps(function: &'static str, missing: CapSet) -> Error {
        Error::MissingCaps {
            function,
            missing,
            grant: missing.to_string(),
        }
    }

    /// An [`Error::Path`]: `error` happened on `path`.
    #[must_use]
    pub fn at_path(path: impl Into<PathBuf>, error: Error) -> Error {
        Error::Path(PathError {
            path: path.into(),
            error: Box::new(error),
        })
    }

    /// Adds (or replaces) the hint of an [`Error::Os`]; other variants are returned unchanged.
    #[must_use]
    pub fn with_hint(self, new: impl Into<Cow<'static, str>>) -> Error {
        match self {
            Error::Os { op, errno, .. } => Error::Os {
                op,
                errno,
                hint: Some(new.into()),
            },
            other => other,
        }
    }

    /// The raw errno of a failed system call, if this error is one.
    #[must_use]
    pub fn code(&self) -> Option<i32> {
        self.errno().map(Errno::raw)
    }

    /// The errno of a failed system call, looking through [`Error::Indeterminate`].
    #[must_use]
    pub fn errno(&self) -> Option<Errno> {
        match self {
            Error::Os { errno, .. } => Some(*errno),
            Error::Indeterminate { source, .. } => source.errno(),
            Error::Path(p) => p.error.errno(),
            _ => None,
        }
    }

    /// The operation that failed.
    #[must_use]
    pub fn op(&self) -> &'static str {
        match self {
            Error::Os { op, .. }
            | Error::Unsupported { op, .. }
            | Error::InvalidInput { op, .. }
            | Error::Kernel { op, .. }
            | Error::Indeterminate { op, .. }
            | Error::Threads { op, .. } => op,
            Error::MissingCaps { function, .. } => function,
            Error::Path(p) => p.error.op(),
        }
    }

    /// The fix for a classic mistake, if capscope knows one for this error.
    #[must_use]
    pub fn hint(&self) -> Option<&str> {
        match self {
            Error::Os { hint, .. } => hint.as_deref(),
            Error::Path(p) => p.error.hint(),
            _ => None,
        }
    }

    /// Whether this is [`Error::Indeterminate`]: the caller must abort.
    #[must_use]
    pub fn is_indeterminate(&self) -> bool {
        match self {
            Error::Indeterminate { .. } => true,
            Error::Path(p) => p.error.is_indeterminate(),
            _ => false,
        }
    }

    pub(crate) fn io_kind(&self) -> io::ErrorKind {
        match self {
            Error::Os { errno, .. } => errno.kind(),
            Error::Unsupported { .. } => io::ErrorKind::Unsupported,
            Error::InvalidInput { .. } => io::ErrorKind::InvalidInput,
            Error::MissingCaps { .. } => io::ErrorKind::PermissionDenied,
            Error::Kernel { .. } | Error::Indeterminate { .. } | Error::Threads { .. } => {
                io::ErrorKind::Other
            }
            Error::Path(p) => p.error.io_kind(),
        }
    }
}

/// Keeps the message (operation, hint) and maps the errno to its [`io::ErrorKind`]; the
/// original [`Error`] stays reachable with `io_error.get_ref()` and `downcast_ref`.
impl From<Error> for io::Error {
    fn from(e: Error) -> io::Error {
        io::Error::new(e.io_kind(), e)
    }
}

/// Shorthand used across the crate: map a rustix result to an [`Error::Os`] naming `op`.
pub(crate) trait OsContext<T> {
    fn op(self, op: &'static str) -> Result<T>;
}

impl<T> OsContext<T> for rustix::io::Result<T> {
    #[inline]
    fn op(self, op: &'static str) -> Result<T> {
        self.map_err(|e| Error::os(op, e))
    }
}
