//! Looking users and groups up in `/etc/passwd` and `/etc/group`, the files themselves: no NSS
//! module is loaded into a privileged process (they can do anything, from any library, with
//! the process's capabilities).

use std::io::{self, BufRead};

/// The (uid, primary gid) of user `name` in `/etc/passwd`; `None` when there is no such user.
///
/// # Errors
///
/// When `/etc/passwd` cannot be read.
pub(crate) fn lookup_user(name: &str) -> io::Result<Option<(u32, u32)>> {
    lookup_user_in(
        &mut io::BufReader::new(std::fs::File::open("/etc/passwd")?),
        name,
    )
}

fn lookup_user_in(r: &mut impl BufRead, name: &str) -> io::Result<Option<(u32, u32)>> {
    for line in r.lines() {
        let line = line?;
        let mut f = line.split(':');
        if f.next() != Some(name) {
            continue;
        }
        let _password = f.next();
        let uid = f.next().and_then(|s| s.parse().ok());
        let gid = f.next().and_then(|s| s.parse().ok());
        if let (Some(u), Some(g)) = (uid, gid) {
            return Ok(Some((u, g)));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_user_by_name() {
        let text = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\nbad\n";
        let mut r = io::Cursor::new(text);
        assert_eq!(
            lookup_user_in(&mut r, "nobody").unwrap(),
            Some((65534, 65534))
        );
        let mut r = io::Cursor::new(text);
        assert_eq!(lookup_user_in(&mut r, "nobod").unwrap(), None);
    }
}
