//! `capscope getcap [-r] [-n] [-v] PATH...`: libcap 2.66's `getcap`, byte for byte.
//!
//! What getcap does, and so what this does:
//!
//! - Options are read as glibc's `getopt` reads `"rvhnl"`: anywhere among the paths, grouped
//!   (`-rv`), `--` ends them. `-h` prints the usage (exit 0); an unknown option prints
//!   `getcap: invalid option -- 'x'` and the usage (exit 1); no path prints the usage (exit 1).
//!   `-l` prints capscope's license where getcap prints libcap's.
//! - Each path is `lstat`ed first; when that fails, `PATH (strerror)` goes to standard error.
//!   The exit status is 0 whatever happens to the paths.
//! - A regular file with capabilities prints `PATH TEXT` (libcap's text of them, for the
//!   running kernel's last capability), and with `-n` a revision 3 attribute adds
//!   ` [rootid=N]` (N printed as a signed int, 0 and -1 omitted). With `-v`, a file without
//!   capabilities prints its path alone, and anything else `PATH (Not a regular file)`.
//!   Errors other than "no attribute" and "not supported" print
//!   `Failed to get capabilities of file 'PATH' (strerror)` to standard error.
//! - `-r` walks directories as glibc's `nftw(FTW_PHYS)` does: trailing slashes of the start
//!   path removed, symlinks never followed, a directory reported before its entries, entries
//!   in directory order (the same order as getcap), unreadable directories reported and
//!   skipped. Under `-r`, FIFOs, sockets and devices count as files (`nftw`'s `FTW_F`), so `-v`
//!   prints them with their path alone, where the non-recursive mode says
//!   `(Not a regular file)`: a quirk of getcap, kept.
//!
//! The walk is faster than getcap's: directory entries' types come from `getdents` (no
//! `lstat` per entry unless the file system does not say), directories are opened relative to
//! their parent's descriptor, and output is buffered.
//!
//! Where the attribute is malformed (which the kernel does not let anyone write, but a file
//! system image may hold), getcap reports a stale `errno`; capscope says what is wrong with it.

use std::ffi::{CStr, OsString};
use std::io::Write;
use std::os::fd::{AsFd, BorrowedFd};

use capscope::{Cap, FileCaps, FileCapsBytesError};
use rustix::fs::{AtFlags, Dir, FileType, Mode, OFlags, CWD};
use rustix::io::Errno;

use crate::out::{bytes, err_bytes, stdout, strerror, Out};

const USAGE: &str = "usage: getcap [-h] [-l] [-n] [-r] [-v] <filename> [<filename> ...]\n\
                     \n\
                     \tdisplays the capabilities on the queried file(s).\n";

fn usage(code: i32) -> i32 {
    err_bytes(&[USAGE.as_bytes()]);
    code
}

struct Opts {
    recursive: bool,
    verbose: bool,
    namespace: bool,
}

/// Runs `getcap` with `args` (after the subcommand's name); returns the exit status.
pub(crate) fn run(args: &[OsString]) -> i32 {
    let mut o = Opts {
        recursive: false,
        verbose: false,
        namespace: false,
    };
    let mut paths: Vec<&OsString> = Vec::new();
    let mut options_done = false;
    for a in args {
        let b = bytes(a);
        if options_done || b.len() < 2 || b[0] != b'-' {
            paths.push(a);
            continue;
        }
        if b == b"--" {
            options_done = true;
            continue;
        }
        for &c in &b[1..] {
            match c {
                b'r' => o.recursive = true,
                b'v' => o.verbose = true,
                b'n' => o.namespace = true,
                b'h' => return usage(0),
                b'l' => {
                    println!("capscope getcap: MIT OR Apache-2.0 (libcap's getcap is its model)");
                    return 0;
                }
                _ => {
                    err_bytes(&[b"getcap: invalid option -- '", &[c], b"'\n"]);
                    return usage(1);
                }
            }
        }
    }
    if paths.is_empty() {
        return usage(1);
    }
    let last = match capscope::kernel::last_supported() {
        Ok(l) => l,
        Err(e) => {
            eprintln!("getcap: cannot find the kernel's last capability: {e}");
            return 1;
        }
    };
    let mut w = Walker {
        o,
        last,
        out: stdout(),
        path: Vec::with_capacity(4096),
    };
    for p in paths {
        let p = bytes(p);
        let st = match rustix::fs::lstat(p) {
            Ok(st) => st,
            Err(e) => {
                // getcap prints buffered standard output later; only the order between the
                // two streams can differ, as with any C program writing to a pipe.
                err_bytes(&[p, b" (", strerror(e.raw_os_error()).as_bytes(), b")\n"]);
                continue;
            }
        };
        w.path.clear();
        w.path.extend_from_slice(p);
        if w.o.recursive {
            w.start();
        } else if FileType::from_raw_mode(st.st_mode) == FileType::RegularFile {
            w.file(false);
        } else {
            w.not_regular();
        }
    }
    match w.out.flush() {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("getcap: {e}");
            1
        }
    }
}

/// The walk abandons the current path (as `nftw` returns -1 on an error other than `EACCES`
/// opening a directory, or other than `EACCES`/`ENOENT` reading an entry's type).
struct Abort;

struct Walker {
    o: Opts,
    last: Cap,
    out: Out,
    /// The current path, as getcap prints it.
    path: Vec<u8>,
}

impl Walker {
    /// `nftw(path, ..., FTW_PHYS)` from the top.
    fn start(&mut self) {
        // nftw removes trailing slashes (keeping a lone "/"), then looks again.
        while self.path.len() > 1 && self.path.last() == Some(&b'/') {
            self.path.pop();
        }
        let st = match rustix::fs::lstat(self.path.as_slice()) {
            Ok(st) => st,
            Err(_) => return,
        };
        match FileType::from_raw_mode(st.st_mode) {
            FileType::Directory => {
                let _ = self.dir(CWD, None);
            }
            FileType::Symlink => self.not_regular(),
            _ => self.file(false),
        }
    }

    /// A directory: open it (relative to its parent), report it, then its entries in order.
    fn dir(&mut self, parent: BorrowedFd<'_>, name: Option<&CStr>) -> Result<(), Abort> {
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let opened = match name {
            Some(n) => rustix::fs::openat(parent, n, flags, Mode::empty()),
            None => rustix::fs::openat(parent, self.path.as_slice(), flags, Mode::empty()),
        };
        let fd = match opened {
            Ok(fd) => fd,
            Err(Errno::ACCESS) => {
                self.not_regular(); // FTW_DNR
                return Ok(());
            }
            Err(_) => return Err(Abort),
        };
        self.not_regular(); // FTW_D
        let dir_len = self.path.len();
        if self.path.last() != Some(&b'/') {
            self.path.push(b'/');
        }
        let base = self.path.len();
        let mut dir = Dir::new(fd).map_err(|_| Abort)?;
        let mut result = Ok(());
        while let Some(Ok(entry)) = dir.read() {
            let name = entry.file_name();
            if matches!(name.to_bytes(), b"." | b"..") {
                continue;
            }
            self.path.truncate(base);
            self.path.extend_from_slice(name.to_bytes());
            let dirfd = dir.fd().map_err(|_| Abort)?;
            let kind = match entry.file_type() {
                FileType::Unknown => {
                    match rustix::fs::statat(dirfd, name, AtFlags::SYMLINK_NOFOLLOW) {
                        Ok(st) => Some(FileType::from_raw_mode(st.st_mode)),
                        Err(Errno::ACCESS | Errno::NOENT) => None, // FTW_NS
                        Err(_) => {
                            result = Err(Abort);
                            break;
                        }
                    }
                }
                known => Some(known),
            };
            match kind {
                Some(FileType::Directory) => {
                    if let Err(a) = self.dir(dirfd.as_fd(), Some(name)) {
                        result = Err(a);
                        break;
                    }
                }
                Some(FileType::Symlink) | None => self.not_regular(),
                Some(_) => self.file(entry.file_type() != FileType::Unknown),
            }
        }
        self.path.truncate(dir_len);
        result
    }

    /// What getcap says about anything but a file: nothing, or with `-v`,
    /// `PATH (Not a regular file)`.
    fn not_regular(&mut self) {
        if self.o.verbose {
            let _ = self.out.write_all(&self.path);
            let _ = self.out.write_all(b" (Not a regular file)\n");
        }
    }

    /// A file (`FTW_F`): print its capabilities. `typed_by_readdir` says its type came from
    /// the directory entry, where `nftw` would have called `lstat`: an `EACCES` or `ENOENT`
    /// now is what that `lstat` would have met, and is reported as `nftw` reports it.
    fn file(&mut self, typed_by_readdir: bool) {
        self.path.push(0);
        let got = read_caps(CStr::from_bytes_with_nul(&self.path).unwrap_or(c""), false);
        self.path.pop();
        match got {
            Ok(Some(fc)) => {
                let text = fc.to_state().text_for(self.last);
                let _ = self.out.write_all(&self.path);
                let _ = match fc.rootid {
                    Some(id) if self.o.namespace && id != 0 && id != u32::MAX => {
                        writeln!(self.out, " {text} [rootid={}]", id as i32)
                    }
                    _ => writeln!(self.out, " {text}"),
                };
            }
            Ok(None) => {
                if self.o.verbose {
                    let _ = self.out.write_all(&self.path);
                    let _ = self.out.write_all(b"\n");
                }
            }
            Err(Failure::Errno(Errno::ACCESS | Errno::NOENT)) if typed_by_readdir => {
                self.not_regular();
            }
            Err(f) => {
                let why = match f {
                    Failure::Errno(e) => strerror(e.raw_os_error()),
                    Failure::Malformed(e) => format!("malformed attribute: {e}"),
                };
                err_bytes(&[
                    b"Failed to get capabilities of file '",
                    &self.path,
                    b"' (",
                    why.as_bytes(),
                    b")\n",
                ]);
            }
        }
    }
}

/// Why file capabilities could not be read.
pub(crate) enum Failure {
    Errno(Errno),
    Malformed(FileCapsBytesError),
}

/// libcap's `cap_get_file`: `None` for no attribute (`ENODATA`) or a file system without them
/// (`ENOTSUP`), as `FileCaps::get_for_file` reads them too. What is libcap's own, and why
/// this is not `FileCaps::get_for_file`: the buffer is libcap's (24 bytes), so a longer
/// attribute fails with `ERANGE` as it does there; flag bits other than the effective one are
/// ignored, as libcap ignores them (capscope's `FileCaps::from_bytes` refuses them); the
/// errno itself is kept for getcap's `strerror` message; and `follow` reads through a symlink
/// (`getxattr`, as libcap, for `setcap -v`), or not (`lgetxattr`, for paths already known to
/// be files).
pub(crate) fn read_caps(path: &CStr, follow: bool) -> Result<Option<FileCaps>, Failure> {
    let mut buf = [0u8; 24];
    let name = c"security.capability";
    let got = if follow {
        rustix::fs::getxattr(path, name, &mut buf)
    } else {
        rustix::fs::lgetxattr(path, name, &mut buf)
    };
    let n = match got {
        Ok(n) => n.min(buf.len()),
        Err(Errno::NODATA | Errno::NOTSUP) => return Ok(None),
        Err(e) => return Err(Failure::Errno(e)),
    };
    let raw = &mut buf[..n];
    match FileCaps::from_bytes(raw) {
        Err(FileCapsBytesError::UnknownFlags { flags }) => {
            let magic = u32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]) & !flags;
            raw[..4].copy_from_slice(&magic.to_le_bytes());
            FileCaps::from_bytes(raw)
                .map(Some)
                .map_err(Failure::Malformed)
        }
        r => r.map(Some).map_err(Failure::Malformed),
    }
}
