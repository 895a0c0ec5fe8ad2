//! File capabilities on files: reading, writing and removing the `security.capability`
//! extended attribute of a path or an open file. The attribute's format is in
//! `model/filecaps.rs`.
//!
//! The path setters never write through a symlink: they open the path with
//! `O_PATH | O_NOFOLLOW`, refuse anything but a regular file (as libcap's `cap_set_file` and
//! `setcap` do), and then change exactly the file they opened, through its
//! `/proc/thread-self/fd/N` link, so that nothing can swap the file between the check and the
//! change.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;

use rustix::fs::{FileType, Mode, OFlags, Stat, XattrFlags, CWD};

use crate::error::{Error, Op, OsContext, Result};
use crate::FileCaps;

const XATTR_NAME: &std::ffi::CStr = c"security.capability";

/// Where a path setter makes its change: the opened file's `/proc` link, or, without procfs,
/// a second descriptor on the same file.
enum Target<'a> {
    Proc(&'a str),
    Fd(BorrowedFd<'a>),
}

/// Opens `path` without following a symlink in its last component, checks that it is a
/// regular file, and runs `call` on exactly that file. Parent directories are followed,
/// symlinks among them included.
fn on_regular_file<T>(
    path: &Path,
    op: Op,
    call: impl FnOnce(Target<'_>) -> Result<T>,
) -> Result<T> {
    let fd = rustix::fs::openat(
        CWD,
        path,
        OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .op(Op::OpenFile)?;
    let st = rustix::fs::fstat(&fd).op(Op::OpenFile)?;
    match FileType::from_raw_mode(st.st_mode) {
        FileType::RegularFile => {}
        FileType::Symlink => {
            return Err(Error::invalid(
                op,
                "it is a symbolic link, and file capabilities go on regular files only (as \
                 setcap says); name the link's target, or open it and use set_for_fd",
            ))
        }
        other => {
            return Err(Error::invalid(
                op,
                format!(
                    "it is not a regular file but a {}, and file capabilities go on regular \
                     files only (as setcap says)",
                    file_type_name(other)
                ),
            ))
        }
    }
    if proc_fd_is_procfs() {
        let link = format!("/proc/thread-self/fd/{}", fd.as_raw_fd());
        return call(Target::Proc(&link));
    }
    // No procfs (a chroot without /proc): open the file for reading, without following a
    // symlink, and make sure it is still the file checked above.
    let file = reopen(path, &st)?;
    call(Target::Fd(file.as_fd()))
}

/// Whether `/proc/thread-self/fd` is procfs (not a directory of look-alike links).
fn proc_fd_is_procfs() -> bool {
    rustix::fs::statfs("/proc/thread-self/fd")
        .is_ok_and(|s| s.f_type == rustix::fs::PROC_SUPER_MAGIC)
}

fn reopen(path: &Path, checked: &Stat) -> Result<OwnedFd> {
    const OP: Op = Op::OpenFile;
    let file = rustix::fs::openat(
        CWD,
        path,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .op(OP)?;
    let st = rustix::fs::fstat(&file).op(Op::OpenFile)?;
    if (st.st_dev, st.st_ino) != (checked.st_dev, checked.st_ino) {
        return Err(Error::refused(
            OP,
            "the path names another file than a moment ago (it was replaced meanwhile); \
             nothing was changed",
        ));
    }
    Ok(file)
}

fn file_type_name(t: FileType) -> &'static str {
    match t {
        FileType::Directory => "directory",
        FileType::Fifo => "FIFO",
        FileType::Socket => "socket",
        FileType::CharacterDevice => "character device",
        FileType::BlockDevice => "block device",
        _ => "special file",
    }
}

impl FileCaps {
    /// Reads the file capabilities of `path`, without following a symlink in its last
    /// component (`lgetxattr`: a symlink itself has none, so the answer for one is
    /// `Ok(None)`); symlinks among the parent directories are followed. One system call.
    ///
    /// `Ok(None)` means no file capabilities: the file has no `security.capability`
    /// attribute (`ENODATA`), or its file system has no extended attributes at all
    /// (`ENOTSUP`/`EOPNOTSUPP`: NFS, vfat, procfs, some FUSE file systems), which `execve`
    /// reads the same way.
    ///
    /// # Errors
    ///
    /// [`Error::Path`] naming `path`, around: [`Error::Os`] for any errno but `ENODATA` and
    /// `ENOTSUP` (`Ok(None)`); [`Error::Kernel`] when the attribute is malformed.
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
        let path = path.as_ref();
        let got = rustix::fs::lgetxattr(path, XATTR_NAME, &mut buf);
        Self::decode_read(OP, got, &buf).map_err(|e| e.at_path(path))
    }

    /// Reads the file capabilities of the open file `fd` (`fgetxattr`). One system call.
    ///
    /// `Ok(None)` means no file capabilities, as for
    /// [`get_for_file`](Self::get_for_file): no attribute (`ENODATA`), or a file system
    /// without extended attributes (`ENOTSUP`/`EOPNOTSUPP`).
    ///
    /// # Errors
    ///
    /// [`Error::Os`] for any errno but `ENODATA` and `ENOTSUP` (`Ok(None)`),
    /// [`Error::Kernel`] when the attribute is malformed; no path to name, so no
    /// [`Error::Path`].
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

    /// The answer of `getxattr`: `ENODATA` (no attribute) and `ENOTSUP` (`EOPNOTSUPP` on
    /// Linux: a file system without extended attributes) are no file capabilities, as the
    /// kernel's `execve` reads them (`get_vfs_caps_from_disk` turns `EOPNOTSUPP` into
    /// `ENODATA`: the file grants nothing).
    fn decode_read(op: Op, got: rustix::io::Result<usize>, buf: &[u8]) -> Result<Option<FileCaps>> {
        match got {
            Ok(len) => FileCaps::from_bytes(&buf[..len.min(buf.len())])
                .map(Some)
                .map_err(|e| Error::kernel(op, e.to_string())),
            Err(rustix::io::Errno::NODATA | rustix::io::Errno::NOTSUP) => Ok(None),
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

    /// Writes these file capabilities to the regular file `path`, never through a symlink.
    ///
    /// The last component of `path` must be a regular file: a symlink, a directory or any
    /// other kind of file is refused with nothing written, as libcap's `setcap` refuses them
    /// (the kernel would store the attribute on a symlink itself on some file systems, where
    /// it means nothing). Symlinks among the parent directories are followed. The path is
    /// opened once (`O_PATH | O_NOFOLLOW`) and the attribute written on exactly the file that
    /// was checked, through `/proc/thread-self/fd/N`; where procfs is not mounted, the file is
    /// opened for reading instead (which then needs read permission) and checked to be the
    /// same file. For a file you already hold open, [`set_for_fd`](Self::set_for_fd) does
    /// the same in one system call.
    ///
    /// Needs `CAP_SETFCAP` in the user namespace of the file's owner. From inside a user
    /// namespace the kernel stores revision 3 with that namespace's root as rootid.
    ///
    /// # Errors
    ///
    /// [`Error::Path`] naming `path`, around: [`Error::InvalidInput`] for rootid `u32::MAX`
    /// (before any system call) and for a last component that is not a regular file;
    /// [`Error::Os`] when a system call fails (`ENOENT`, `EPERM` without `CAP_SETFCAP`,
    /// `ENOTSUP` on a file system without security attributes, `EINVAL` for a rootid the
    /// kernel cannot map); [`Error::Kernel`] if, without procfs, the path was replaced by
    /// another file during the call.
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
    /// setxattr(2), open(2) (`O_PATH`, `O_NOFOLLOW`), setcap(8), capabilities(7)
    #[doc(alias = "cap_set_file")]
    pub fn set_for_file(&self, path: impl AsRef<Path>) -> Result<()> {
        const OP: Op = Op::SetFileCaps;
        let path = path.as_ref();
        let set = || -> Result<()> {
            let bytes = self.checked_bytes(OP)?;
            on_regular_file(path, OP, |target| match target {
                Target::Proc(link) => {
                    rustix::fs::setxattr(link, XATTR_NAME, &bytes, XattrFlags::empty())
                        .op(Op::SetFileCaps)
                }
                Target::Fd(fd) => {
                    rustix::fs::fsetxattr(fd, XATTR_NAME, &bytes, XattrFlags::empty())
                        .op(Op::SetFileCaps)
                }
            })
        };
        set().map_err(|e| e.at_path(path))
    }

    /// Writes these file capabilities to the open file `fd` (`fsetxattr`): one system call,
    /// on the file the descriptor refers to, whatever its path names by now. The descriptor
    /// must be open for reading or writing (the kernel refuses `O_PATH` descriptors here).
    /// The file's type is not checked: open a regular file (with `O_NOFOLLOW` to refuse a
    /// symlink), as [`set_for_file`](Self::set_for_file) does for you.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for rootid `u32::MAX`, before any system call; [`Error::Os`]
    /// when `fsetxattr` fails (`EBADF` for an `O_PATH` descriptor, `EPERM` without
    /// `CAP_SETFCAP`).
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

    /// Removes the file capabilities of the regular file `path`, never through a symlink.
    /// Returns whether there were any (`ENODATA` means there were none: `Ok(false)`).
    ///
    /// The same rules as [`set_for_file`](Self::set_for_file): the last component must be a
    /// regular file (a symlink is refused, as `setcap -r` refuses it), parent directories are
    /// followed, and the change is made on exactly the file that was checked.
    ///
    /// # Errors
    ///
    /// [`Error::Path`] naming `path`, around: [`Error::InvalidInput`] for a last component
    /// that is not a regular file; [`Error::Os`] for any errno but `ENODATA` (`ENOENT`,
    /// `EPERM` without `CAP_SETFCAP`).
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
        let path = path.as_ref();
        on_regular_file(path, Op::RemoveFileCaps, |target| match target {
            Target::Proc(link) => Self::removed(
                Op::RemoveFileCaps,
                rustix::fs::removexattr(link, XATTR_NAME),
            ),
            Target::Fd(fd) => {
                Self::removed(Op::RemoveFileCaps, rustix::fs::fremovexattr(fd, XATTR_NAME))
            }
        })
        .map_err(|e| e.at_path(path))
    }

    /// Removes the file capabilities of the open file `fd` (`fremovexattr`); returns whether
    /// there were any.
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
