//! File capabilities on files: reading, writing and removing the `security.capability`
//! extended attribute of a path or an open file. The attribute's format is in
//! `model/filecaps.rs`.

use std::os::fd::AsFd;
use std::path::Path;

use rustix::fs::XattrFlags;

use crate::error::{Error, Op, OsContext, Result};
use crate::FileCaps;

const XATTR_NAME: &std::ffi::CStr = c"security.capability";

impl FileCaps {
    /// Reads the file capabilities of `path`, without following a symlink (`lgetxattr`: a
    /// symlink itself has none, so the answer for one is `Ok(None)`). One system call.
    ///
    /// # Errors
    ///
    /// [`Error::Os`] for any errno but `ENODATA` (which means no file capabilities:
    /// `Ok(None)`); [`Error::Kernel`] when the attribute is malformed.
    ///
    /// # Examples
    ///
    /// ```
    /// let fc = capscope::FileCaps::get_for_file("/bin/sh")?;
    /// println!("{:?}", fc);
    /// # Ok::<(), capscope::Error>(())
    /// ```
    ///
    /// # References
    ///
    /// getxattr(2), capabilities(7)
    #[doc(alias = "cap_get_file")]
    pub fn get_for_file(path: impl AsRef<Path>) -> Result<Option<FileCaps>> {
        const OP: Op = Op::GetFileCaps;
        let mut buf = [0u8; FileCaps::MAX_SIZE + 1];
        let got = rustix::fs::lgetxattr(path.as_ref(), XATTR_NAME, &mut buf);
        Self::decode_read(OP, got, &buf)
    }

    /// Reads the file capabilities of the open file `fd` (`fgetxattr`). One system call.
    ///
    /// # Errors
    ///
    /// As [`get_for_file`](Self::get_for_file).
    ///
    /// # Examples
    ///
    /// ```
    /// let f = std::fs::File::open("/bin/sh")?;
    /// let fc = capscope::FileCaps::get_for_fd(&f)?;
    /// # let _ = fc;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # References
    ///
    /// fgetxattr(2), capabilities(7)
    #[doc(alias = "cap_get_fd")]
    pub fn get_for_fd(fd: impl AsFd) -> Result<Option<FileCaps>> {
        const OP: Op = Op::GetFileCaps;
        let mut buf = [0u8; FileCaps::MAX_SIZE + 1];
        let got = rustix::fs::fgetxattr(fd, XATTR_NAME, &mut buf);
        Self::decode_read(OP, got, &buf)
    }

    fn decode_read(op: Op, got: rustix::io::Result<usize>, buf: &[u8]) -> Result<Option<FileCaps>> {
        match got {
            Ok(len) => FileCaps::from_bytes(&buf[..len.min(buf.len())])
                .map(Some)
                .map_err(|e| Error::kernel(op, e.to_string())),
            Err(rustix::io::Errno::NODATA) => Ok(None),
            Err(rustix::io::Errno::RANGE) => Err(Error::kernel(
                op,
                "the attribute is longer than any known revision (24 bytes)",
            )),
            Err(e) => Err(e).op(op),
        }
    }

    fn checked_bytes(&self, op: Op) -> Result<Vec<u8>> {
        if self.rootid == Some(u32::MAX) {
            return Err(Error::invalid(
                op,
                "rootid u32::MAX is the invalid uid (-1), not a namespace root",
            ));
        }
        Ok(self.to_bytes())
    }

    /// Writes these file capabilities to `path` (`lsetxattr`), never following a symlink.
    ///
    /// Needs `CAP_SETFCAP` in the user namespace of the file's owner. From inside a user
    /// namespace the kernel stores revision 3 with that namespace's root as rootid.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for rootid `u32::MAX`, before any system call; [`Error::Os`]
    /// when `lsetxattr` fails (`EPERM` without `CAP_SETFCAP` or on a symlink, `ENOTSUP` on a
    /// file system without security attributes, `EINVAL` for a rootid the kernel cannot map).
    ///
    /// # Thread scope
    ///
    /// Changes the file, for every process; checked against the calling thread's capabilities.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let fc: capscope::FileCaps = "cap_net_bind_service=ep".parse()?;
    /// fc.set_for_file("/usr/local/bin/server")?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # References
    ///
    /// setxattr(2), setcap(8), capabilities(7)
    #[doc(alias = "cap_set_file")]
    pub fn set_for_file(&self, path: impl AsRef<Path>) -> Result<()> {
        const OP: Op = Op::SetFileCaps;
        let bytes = self.checked_bytes(OP)?;
        rustix::fs::lsetxattr(path.as_ref(), XATTR_NAME, &bytes, XattrFlags::empty()).op(OP)
    }

    /// Writes these file capabilities to the open file `fd` (`fsetxattr`).
    ///
    /// # Errors
    ///
    /// As [`set_for_file`](Self::set_for_file).
    ///
    /// # Thread scope
    ///
    /// As [`set_for_file`](Self::set_for_file).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let f = std::fs::File::open("/usr/local/bin/server")?;
    /// "cap_net_bind_service=ep".parse::<capscope::FileCaps>()?.set_for_fd(&f)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # References
    ///
    /// fsetxattr(2), capabilities(7)
    #[doc(alias = "cap_set_fd")]
    pub fn set_for_fd(&self, fd: impl AsFd) -> Result<()> {
        const OP: Op = Op::SetFileCaps;
        let bytes = self.checked_bytes(OP)?;
        rustix::fs::fsetxattr(fd, XATTR_NAME, &bytes, XattrFlags::empty()).op(OP)
    }

    /// Removes the file capabilities of `path` (`lremovexattr`, never following a symlink).
    /// Returns whether there were any (`ENODATA` means there were none: `Ok(false)`).
    ///
    /// # Errors
    ///
    /// [`Error::Os`] for any errno but `ENODATA` (`EPERM` without `CAP_SETFCAP`).
    ///
    /// # Thread scope
    ///
    /// As [`set_for_file`](Self::set_for_file).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let had = capscope::FileCaps::remove_for_file("/usr/local/bin/server")?;
    /// # let _ = had;
    /// # Ok::<(), capscope::Error>(())
    /// ```
    ///
    /// # References
    ///
    /// removexattr(2), `setcap -r`
    pub fn remove_for_file(path: impl AsRef<Path>) -> Result<bool> {
        Self::removed(
            Op::RemoveFileCaps,
            rustix::fs::lremovexattr(path.as_ref(), XATTR_NAME),
        )
    }

    /// Removes the file capabilities of the open file `fd` (`fremovexattr`); returns whether
    /// there were any.
    ///
    /// # Errors
    ///
    /// As [`remove_for_file`](Self::remove_for_file).
    ///
    /// # Thread scope
    ///
    /// As [`set_for_file`](Self::set_for_file).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let f = std::fs::File::open("/usr/local/bin/server")?;
    /// capscope::FileCaps::remove_for_fd(&f)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # References
    ///
    /// fremovexattr(2)
    pub fn remove_for_fd(fd: impl AsFd) -> Result<bool> {
        Self::removed(Op::RemoveFileCaps, rustix::fs::fremovexattr(fd, XATTR_NAME))
    }

    fn removed(op: Op, r: rustix::io::Result<()>) -> Result<bool> {
        match r {
            Ok(()) => Ok(true),
            Err(rustix::io::Errno::NODATA) => Ok(false),
            Err(e) => Err(e).op(op),
        }
    }
}
