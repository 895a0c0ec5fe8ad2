//! [`ThreadIds`]: the calling thread's user ids, group ids and supplementary groups.

use crate::error::{Error, Op, OsContext, Result};

/// A thread's credentials other than capabilities: its real, effective, saved and filesystem
/// uids and gids, and its supplementary groups.
///
/// Every id is per thread on Linux (see the crate's `# Thread scope`); the C library's
/// `getuid` family reads the calling thread's, as [`ThreadIds::current`] does. To change them
/// while keeping capabilities, see [`cap_set_ids`](crate::cap_set_ids); filesystem ids alone:
/// [`fsid`](crate::fsid).
///
/// # Examples
///
/// ```
/// let ids = capscope::ThreadIds::current()?;
/// // SAFETY: getuid and getegid have no preconditions.
/// assert_eq!(ids.uid, unsafe { libc::getuid() });
/// assert_eq!(ids.egid, unsafe { libc::getegid() });
/// assert_eq!(ids.fsuid, ids.euid); // unless setfsuid changed it
/// println!("uid={} euid={} groups={:?}", ids.uid, ids.euid, ids.groups);
/// # Ok::<(), capscope::Error>(())
/// ```
///
/// # References
///
/// credentials(7), getresuid(2), getgroups(2), setfsuid(2)
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct ThreadIds {
    /// The real uid.
    pub uid: u32,
    /// The effective uid.
    pub euid: u32,
    /// The saved set-user-id.
    pub suid: u32,
    /// The filesystem uid.
    pub fsuid: u32,
    /// The real gid.
    pub gid: u32,
    /// The effective gid.
    pub egid: u32,
    /// The saved set-group-id.
    pub sgid: u32,
    /// The filesystem gid.
    pub fsgid: u32,
    /// The supplementary groups, in the order the kernel returns them (ascending: it sorts
    /// them when they are set). Does not include the gids above unless they are also
    /// supplementary groups.
    pub groups: Vec<u32>,
}

impl ThreadIds {
    /// The calling thread's ids: `getresuid`, `getresgid`, `setfsuid(-1)` and `setfsgid(-1)`
    /// (which change nothing and return the current value), and `getgroups`.
    ///
    /// # Errors
    ///
    /// [`Error::Os`] if one of these calls fails (only under a seccomp filter or similar).
    ///
    /// # Thread scope
    ///
    /// Reads the calling thread only: another thread of the process may hold other ids.
    ///
    /// # Examples
    ///
    /// ```
    /// let ids = capscope::ThreadIds::current()?;
    /// // SAFETY: size 0 asks for the count only.
    /// let count = unsafe { libc::getgroups(0, std::ptr::null_mut()) };
    /// assert_eq!(ids.groups.len(), count as usize);
    /// # Ok::<(), capscope::Error>(())
    /// ```
    ///
    /// # References
    ///
    /// getresuid(2), getresgid(2), getgroups(2), setfsuid(2), setfsgid(2)
    #[doc(alias = "getresuid")]
    #[doc(alias = "getresgid")]
    #[doc(alias = "getgroups")]
    pub fn current() -> Result<ThreadIds> {
        let [uid, euid, suid] =
            crate::sys::creds::getresuid().map_err(|e| Error::os(Op::Getresuid, e))?;
        let [gid, egid, sgid] =
            crate::sys::creds::getresgid().map_err(|e| Error::os(Op::Getresgid, e))?;
        let groups = rustix::process::getgroups()
            .op(Op::Getgroups)?
            .into_iter()
            .map(rustix::process::Gid::as_raw)
            .collect();
        Ok(ThreadIds {
            uid,
            euid,
            suid,
            fsuid: crate::fsid::fsuid()?,
            gid,
            egid,
            sgid,
            fsgid: crate::fsid::fsgid()?,
            groups,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_c_library_and_proc() {
        let ids = ThreadIds::current().unwrap();
        let (uid, euid, gid, egid) = (
            rustix::process::getuid().as_raw(),
            rustix::process::geteuid().as_raw(),
            rustix::process::getgid().as_raw(),
            rustix::process::getegid().as_raw(),
        );
        assert_eq!(
            (ids.uid, ids.euid, ids.gid, ids.egid),
            (uid, euid, gid, egid)
        );
        let status = std::fs::read_to_string("/proc/thread-self/status").unwrap();
        let field = |name: &str| -> Vec<u32> {
            crate::model::full::status_field(&status, name)
                .unwrap()
                .split_ascii_whitespace()
                .map(|x| x.parse().unwrap())
                .collect()
        };
        assert_eq!(field("Uid"), [ids.uid, ids.euid, ids.suid, ids.fsuid]);
        assert_eq!(field("Gid"), [ids.gid, ids.egid, ids.sgid, ids.fsgid]);
        assert_eq!(field("Groups"), ids.groups);
    }
}
