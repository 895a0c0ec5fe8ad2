//! Reading a thread's ids with the raw per-thread system calls (rustix has no `getresuid`,
//! `getresgid`, `setfsuid`, and its `getgroups` allocates). Async-signal-safe: no allocation,
//! and the C library wrappers used here are plain system calls (none of them is one of glibc's
//! all-thread "setxid" wrappers).

use crate::error::Errno;

/// `getresuid`: (real, effective, saved).
pub(crate) fn getresuid() -> Result<[u32; 3], Errno> {
    let mut r = [0u32; 3];
    // SAFETY: three valid out-pointers; getresuid only writes them.
    if unsafe { libc::getresuid(&mut r[0], &mut r[1], &mut r[2]) } != 0 {
        return Err(Errno::last());
    }
    Ok(r)
}

/// `getresgid`: (real, effective, saved).
pub(crate) fn getresgid() -> Result<[u32; 3], Errno> {
    let mut r = [0u32; 3];
    // SAFETY: as above.
    if unsafe { libc::getresgid(&mut r[0], &mut r[1], &mut r[2]) } != 0 {
        return Err(Errno::last());
    }
    Ok(r)
}

/// How many supplementary groups the thread has.
pub(crate) fn group_count() -> Result<usize, Errno> {
    // SAFETY: size 0 asks for the count only; the pointer is not used.
    let n = unsafe { libc::getgroups(0, core::ptr::null_mut()) };
    usize::try_from(n).map_err(|_| Errno::last())
}

/// The supplementary groups, into `buf`; returns how many were written. Fails with `EINVAL`
/// when `buf` is too short.
pub(crate) fn groups_into(buf: &mut [u32]) -> Result<usize, Errno> {
    let len = libc::c_int::try_from(buf.len()).unwrap_or(libc::c_int::MAX);
    if len == 0 {
        return group_count().and_then(|n| if n == 0 { Ok(0) } else { Err(Errno::INVAL) });
    }
    // SAFETY: `buf` has room for `len` gids (gid_t is u32).
    let n = unsafe { libc::getgroups(len, buf.as_mut_ptr()) };
    usize::try_from(n).map_err(|_| Errno::last())
}

/// The filesystem uid: `setfsuid(-1)`, which never changes anything (-1 is no valid id) and
/// returns the current value.
pub(crate) fn fsuid() -> u32 {
    // SAFETY: setfsuid takes an integer and changes only the calling thread, here nothing.
    unsafe { libc::setfsuid(u32::MAX) as u32 }
}

/// The filesystem gid, as [`fsuid`].
pub(crate) fn fsgid() -> u32 {
    // SAFETY: as above.
    unsafe { libc::setfsgid(u32::MAX) as u32 }
}

/// `setfsuid(id)`: returns the previous value (the kernel reports no error).
pub(crate) fn set_fsuid(id: u32) -> u32 {
    // SAFETY: setfsuid takes an integer and changes only the calling thread's fsuid.
    unsafe { libc::setfsuid(id) as u32 }
}

/// `setfsgid(id)`: returns the previous value.
pub(crate) fn set_fsgid(id: u32) -> u32 {
    // SAFETY: as above.
    unsafe { libc::setfsgid(id) as u32 }
}

/// `setgroups` of the calling thread only (the raw system call; glibc's wrapper changes every
/// thread).
pub(crate) fn set_thread_groups(groups: &[u32]) -> Result<(), Errno> {
    // SAFETY: rustix's `Gid` is `#[repr(transparent)]` over `u32` (`gid_t`), so a `[u32]` has
    // the layout of a `[Gid]` of the same length.
    let gids = unsafe {
        core::slice::from_raw_parts(groups.as_ptr().cast::<rustix::thread::Gid>(), groups.len())
    };
    rustix::thread::set_thread_groups(gids).map_err(Errno::from)
}
