//! The calling thread's user and group ids: `getresuid` and `getresgid`, which rustix does not
//! offer, through libc.

use crate::error::Errno;

/// The calling thread's real, effective and saved uids (`getresuid`).
pub(crate) fn getresuid() -> Result<[u32; 3], Errno> {
    let mut r = [0u32; 3];
    // SAFETY: three valid out-pointers to u32 (uid_t); getresuid is a plain per-thread system
    // call that only writes through them.
    if unsafe { libc::getresuid(&mut r[0], &mut r[1], &mut r[2]) } != 0 {
        return Err(Errno::last());
    }
    Ok(r)
}

/// The calling thread's real, effective and saved gids (`getresgid`).
pub(crate) fn getresgid() -> Result<[u32; 3], Errno> {
    let mut r = [0u32; 3];
    // SAFETY: as in `getresuid`, with gid_t.
    if unsafe { libc::getresgid(&mut r[0], &mut r[1], &mut r[2]) } != 0 {
        return Err(Errno::last());
    }
    Ok(r)
}
