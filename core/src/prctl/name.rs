//! The thread name (`comm`): `PR_GET_NAME` / `PR_SET_NAME`.

use std::ffi::CStr;

use crate::error::{Error, Op, OsContext, Result};

/// The longest thread name the kernel keeps, in bytes (`TASK_COMM_LEN` − 1 for the NUL).
pub const NAME_MAX: usize = 15;

/// The calling thread's name, as the raw bytes the kernel keeps: at most [`NAME_MAX`] (15)
/// bytes, without the terminating NUL. One `prctl`.
///
/// The bytes need not be UTF-8: [`set_name`] truncates by bytes, which may cut a multi-byte
/// character, and other programs may set any bytes.
///
/// # Thread scope
///
/// Reads the calling thread's name (`/proc/thread-self/comm`). The main thread's name is also
/// what `ps` shows for the process.
///
/// # Errors
///
/// [`Error::Os`] if the call fails.
///
/// # Examples
///
/// ```
/// let name = capscope::prctl::name()?;
/// assert!(name.len() <= capscope::prctl::NAME_MAX);
/// # Ok::<(), capscope::Error>(())
/// ```
///
/// # References
///
/// prctl(2) (`PR_GET_NAME`), proc(5) (`/proc/pid/task/tid/comm`)
#[doc(alias = "PR_GET_NAME")]
pub fn name() -> Result<Vec<u8>> {
    let name = rustix::thread::name().op(Op::GetName)?;
    let bytes = name.into_bytes();
    if bytes.len() > NAME_MAX {
        return Err(Error::kernel(
            Op::GetName,
            format!("a name of {} bytes", bytes.len()),
        ));
    }
    Ok(bytes)
}

/// Sets the calling thread's name. One `prctl`.
///
/// A name longer than [`NAME_MAX`] (15) bytes is truncated to its first 15 bytes, as the
/// kernel does; the cut is by bytes, so it may split a multi-byte UTF-8 character (read the
/// name back with [`name`], which returns raw bytes). An empty name is allowed.
///
/// # Thread scope
///
/// Changes the calling thread's name only; the main thread's name is the process name `ps`
/// shows. New threads start with their creator's name.
///
/// # Errors
///
/// [`Error::InvalidInput`] if `name` contains a NUL byte (before any system call; the name is
/// unchanged); [`Error::Os`] if the call fails.
///
/// # Examples
///
/// ```
/// std::thread::spawn(|| {
///     capscope::prctl::set_name("worker-with-a-long-name")?;
///     assert_eq!(capscope::prctl::name()?, b"worker-with-a-l");
///     Ok::<(), capscope::Error>(())
/// }).join().unwrap()?;
/// # Ok::<(), capscope::Error>(())
/// ```
///
/// # References
///
/// prctl(2) (`PR_SET_NAME`)
#[doc(alias = "PR_SET_NAME")]
pub fn set_name(name: &str) -> Result<()> {
    let bytes = name.as_bytes();
    if let Some(pos) = bytes.iter().position(|&b| b == 0) {
        return Err(Error::invalid(
            Op::SetName,
            format!("the name has a NUL byte at position {pos}"),
        ));
    }
    let mut buf = [0u8; NAME_MAX + 1];
    let len = bytes.len().min(NAME_MAX);
    buf[..len].copy_from_slice(&bytes[..len]);
    let c = CStr::from_bytes_until_nul(&buf)
        .map_err(|_| Error::invalid(Op::SetName, "no NUL terminator"))?;
    rustix::thread::set_name(c).op(Op::SetName)
}
