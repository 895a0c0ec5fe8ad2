//! Reading a thread's [`FullCapState`]: the calling thread through system calls, any thread
//! through `/proc`.

use crate::error::Result;
#[cfg(doc)]
use crate::Error;
use crate::{ambient, bounding, securebits, CapState, FullCapState, Secbits};

impl FullCapState {
    /// The calling thread's full state: one `capget`, one `prctl` per supported capability for
    /// each of ambient and bounding, and one each for securebits and no_new_privs (keepcaps is
    /// a securebit).
    ///
    /// # Errors
    ///
    /// [`Error::Os`] if any of these calls fails.
    ///
    /// # Thread scope
    ///
    /// Reads the calling thread.
    pub fn get_current() -> Result<FullCapState> {
        let bits = securebits::get()?;
        Ok(FullCapState {
            caps: CapState::get_current()?,
            ambient: ambient::probe()?,
            bounding: bounding::probe()?,
            securebits: Some(bits),
            no_new_privs: crate::thread::ops::no_new_privs()
                .map_err(crate::thread::ops::Fail::error)?,
            keepcaps: Some(bits.contains(Secbits::KEEP_CAPS)),
        })
    }

    /// The state of process `pid`'s main thread, from `/proc/<pid>/status`.
    ///
    /// # Errors
    ///
    /// [`Error::Os`] if the file cannot be read (`ENOENT` for no such process);
    /// [`Error::Kernel`] if it lacks a field or a field is malformed.
    ///
    /// # Thread scope
    ///
    /// Reads the process's main thread, which may differ from its other threads.
    pub fn get_for_pid(pid: u32) -> Result<FullCapState> {
        FullCapState::from_status(&crate::sys::proc::read_status(&format!(
            "/proc/{pid}/status"
        ))?)
    }

    /// The state of thread `tid` of process `pid`, from `/proc/<pid>/task/<tid>/status`.
    ///
    /// # Errors
    ///
    /// As [`get_for_pid`](Self::get_for_pid).
    pub fn get_for_thread(pid: u32, tid: u32) -> Result<FullCapState> {
        FullCapState::from_status(&crate::sys::proc::read_status(&format!(
            "/proc/{pid}/task/{tid}/status"
        ))?)
    }
}
