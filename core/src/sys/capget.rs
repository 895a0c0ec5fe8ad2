//! `capget` into a buffer the kernel must fill.
//!
//! rustix's `capabilities` reads its buffer as filled whenever the call returns 0. A seccomp
//! filter that answers `capget` with `SECCOMP_RET_ERRNO` and errno 0 (or a supervisor that
//! returns 0 without writing) leaves the buffer as it was: uninitialised stack, which may hold
//! exactly the sets a faked `capset` was just given, so a read-back would "confirm" a change
//! that never happened. Here the buffer starts with every bit set, and a current kernel never
//! reports capability 63 (it reports only capabilities it knows, and the last one it knows is
//! far below): a result with that bit set is asked again into a buffer of zeros, and only two
//! equal answers are the kernel's (older kernels did report every bit for root).
//!
//! Async-signal-safe: raw system calls (one, or two for an answer with capability 63) on the
//! caller's stack.

use crate::error::Errno;
use crate::{CapSet, CapState};

/// `struct __user_cap_header_struct`.
#[repr(C)]
struct Header {
    version: u32,
    pid: libc::c_int,
}

/// `struct __user_cap_data_struct`: one 32-bit half of each set.
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq)]
struct Half {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// `_LINUX_CAPABILITY_VERSION_3`: two halves, 64 capabilities.
const VERSION_3: u32 = 0x2008_0522;

/// What the buffer holds before the call: capability 63 included, which no kernel reports.
const UNWRITTEN: Half = Half {
    effective: u32::MAX,
    permitted: u32::MAX,
    inheritable: u32::MAX,
};

/// Why `capget` gave no sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CapgetError {
    /// The call failed with this errno.
    Os(Errno),
    /// The call returned 0 without writing the sets: something answered in the kernel's place.
    Unwritten,
}

/// One `capget` of thread `pid` into a buffer filled with `fill` first.
fn call(pid: libc::c_int, fill: Half) -> Result<[Half; 2], CapgetError> {
    let mut header = Header {
        version: VERSION_3,
        pid,
    };
    let mut data = [fill; 2];
    // SAFETY: capget(2) with version 3 reads the header and writes it and two data structs;
    // both are ours, of the layout the kernel expects, and live across the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_capget,
            std::ptr::addr_of_mut!(header),
            data.as_mut_ptr(),
        )
    };
    if r != 0 {
        return Err(CapgetError::Os(Errno::last()));
    }
    Ok(data)
}

/// The capability sets of thread `pid` (0: the calling thread).
///
/// A result with capability 63 set is asked again into a buffer of zeros: kernels before
/// Linux 3.16 (and some rooting kits) do report every bit for root, and then both answers
/// agree; a call that writes nothing leaves each buffer as it was filled, and they differ.
pub(crate) fn capget(pid: libc::c_int) -> Result<CapState, CapgetError> {
    let data = call(pid, UNWRITTEN)?;
    let top = 1 << 31; // capability 63, in the high half
    if (data[1].effective | data[1].permitted | data[1].inheritable) & top != 0 {
        let zeros = Half {
            effective: 0,
            permitted: 0,
            inheritable: 0,
        };
        if call(pid, zeros)? != data {
            return Err(CapgetError::Unwritten);
        }
    }
    let join = |low: u32, high: u32| CapSet::from_bits(u64::from(low) | u64::from(high) << 32);
    Ok(CapState {
        effective: join(data[0].effective, data[1].effective),
        permitted: join(data[0].permitted, data[1].permitted),
        inheritable: join(data[0].inheritable, data[1].inheritable),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_rustix_reads() {
        let ours = capget(0).unwrap();
        let theirs = rustix::thread::capabilities(None).unwrap();
        assert_eq!(ours, CapState::from_rustix(theirs));
        assert!(!ours.effective.has(crate::Cap::from_u8(63).unwrap()));
    }

    #[test]
    fn another_thread_by_id() {
        let tid = crate::current_tid();
        let main = capget(tid as libc::c_int).unwrap();
        assert_eq!(main, capget(0).unwrap());
        assert_eq!(
            capget(i32::MAX),
            Err(CapgetError::Os(Errno::from_raw(libc::ESRCH)))
        );
    }
}
