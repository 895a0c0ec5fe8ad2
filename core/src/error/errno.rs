//! [`Errno`]: an operating-system error number.

use std::fmt;
use std::io;

/// An operating-system error number (`errno`), as a newtype.
///
/// # Examples
///
/// ```
/// let e = capscope::Errno::from_raw(1);
/// assert_eq!(e, capscope::Errno::PERM);
/// assert_eq!(e.kind(), std::io::ErrorKind::PermissionDenied);
/// let io: std::io::Error = e.into();
/// assert_eq!(io.raw_os_error(), Some(1));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Errno(i32);

impl Errno {
    /// `EPERM`: operation not permitted.
    pub const PERM: Errno = Errno(1);
    /// `ENOENT`: no such file or directory.
    pub const NOENT: Errno = Errno(2);
    /// `ESRCH`: no such process.
    pub const SRCH: Errno = Errno(3);
    /// `EAGAIN`: try again (a full signal queue, for `tgkill`).
    pub const AGAIN: Errno = Errno(11);
    /// `EACCES`: permission denied.
    pub const ACCES: Errno = Errno(13);
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

impl From<Errno> for io::Error {
    fn from(e: Errno) -> io::Error {
        io::Error::from_raw_os_error(e.0)
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

impl std::error::Error for Errno {}
