//! What every subcommand shares: buffered standard output, C's `strerror` text, raw bytes of
//! paths, and the user and group names of `/etc/passwd` and `/etc/group`.

use std::ffi::OsStr;
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;

/// Standard output, buffered (as C's stdio buffers it), flushed when dropped.
pub(crate) type Out = io::BufWriter<io::StdoutLock<'static>>;

/// A buffered standard output.
pub(crate) fn stdout() -> Out {
    io::BufWriter::with_capacity(64 * 1024, io::stdout().lock())
}

/// C's `strerror(errno)` text: `No such file or directory`.
pub(crate) fn strerror(errno: i32) -> String {
    let s = io::Error::from_raw_os_error(errno).to_string();
    // std appends " (os error N)" to the C library's text.
    match s.rfind(" (os error ") {
        Some(i) => s[..i].to_owned(),
        None => s,
    }
}

/// The bytes of an argument or path, printed as they are (not necessarily UTF-8).
pub(crate) fn bytes(s: &OsStr) -> &[u8] {
    s.as_bytes()
}

/// Writes to standard error, ignoring failures (there is nowhere left to report them).
pub(crate) fn err_bytes(parts: &[&[u8]]) {
    let mut e = io::stderr().lock();
    for p in parts {
        let _ = e.write_all(p);
    }
}

/// The names of `/etc/passwd` (`uid → name`) or `/etc/group` (`gid → name`).
///
/// capsh asks the C library (`getpwuid`, `getgrgid`), which asks NSS: usually these files,
/// possibly also LDAP, systemd's dynamic users and so on. capscope reads the two files itself
/// (no NSS, no C library): the first line with the id wins, as in glibc's `files` backend;
/// lines starting with `#`, `+` or `-` are skipped. An id that is not found prints as `???`,
/// as capsh prints it.
pub(crate) struct Names {
    entries: Vec<(u32, String)>,
}

impl Names {
    /// Reads `path` (`/etc/passwd` or `/etc/group`); a missing or unreadable file names nobody.
    pub(crate) fn read(path: &str) -> Names {
        let text = std::fs::read(path).unwrap_or_default();
        let entries = text
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty() && !matches!(l[0], b'#' | b'+' | b'-'))
            .filter_map(|l| {
                let mut f = l.split(|&b| b == b':');
                let name = f.next()?;
                let id = std::str::from_utf8(f.nth(1)?).ok()?.parse().ok()?;
                Some((id, String::from_utf8_lossy(name).into_owned()))
            })
            .collect();
        Names { entries }
    }

    /// The name of `id`, or `???`.
    pub(crate) fn name(&self, id: u32) -> &str {
        self.entries
            .iter()
            .find(|(i, _)| *i == id)
            .map_or("???", |(_, n)| n.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strerror_is_the_c_text() {
        assert_eq!(strerror(libc::ENOENT), "No such file or directory");
        assert_eq!(
            strerror(libc::EOVERFLOW),
            "Value too large for defined data type"
        );
    }

    #[test]
    fn names_from_files() {
        let dir = std::env::temp_dir().join(format!("capscope-names-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("passwd");
        std::fs::write(
            &p,
            "# comment\nroot:x:0:0:root:/root:/bin/sh\n+nis::::::\nfirst:x:7:7::/:\nsecond:x:7:7::/:\nbad:x:z:1::/:\n",
        )
        .unwrap();
        let n = Names::read(p.to_str().unwrap());
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(n.name(0), "root");
        assert_eq!(n.name(7), "first");
        assert_eq!(n.name(8), "???");
        assert_eq!(Names::read("/nonexistent/passwd").name(0), "???");
    }
}
