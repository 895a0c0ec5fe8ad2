//! [`FullCapState`]: every capability-related attribute of a thread at once, as data, and the
//! parser of `/proc/<pid>/status`. Reading a thread's state is in `thread/full.rs`.

use crate::error::{Error, Op, Result};
use crate::{CapSet, CapState, Secbits};

/// Everything that decides a thread's privileges: the three sets, ambient, bounding,
/// securebits, no_new_privs and keepcaps.
///
/// Read for the calling thread with [`get_current`](Self::get_current) (system calls), or for
/// any thread from `/proc` with [`get_for_pid`](Self::get_for_pid) /
/// [`get_for_thread`](Self::get_for_thread). `/proc` does not show securebits or keepcaps, so
/// those two are `None` for another thread.
///
/// # Examples
///
/// ```
/// use capscope::FullCapState;
/// let me = FullCapState::get_current()?;
/// assert!(me.caps.effective.is_subset(me.caps.permitted));
/// assert!(me.securebits.is_some());
/// let via_proc = FullCapState::get_for_thread(std::process::id(), capscope::current_tid())?;
/// assert_eq!(via_proc.caps, me.caps);
/// assert_eq!(via_proc.bounding, me.bounding);
/// # Ok::<(), capscope::Error>(())
/// ```
///
/// # References
///
/// capabilities(7), proc(5) (`/proc/pid/status`)
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FullCapState {
    /// Effective, permitted and inheritable.
    pub caps: CapState,
    /// The ambient set.
    pub ambient: CapSet,
    /// The bounding set.
    pub bounding: CapSet,
    /// The securebits; `None` when read from `/proc` (it does not show them).
    pub securebits: Option<Secbits>,
    /// The no_new_privs flag.
    pub no_new_privs: bool,
    /// The keepcaps flag (`SECBIT_KEEP_CAPS`); `None` when read from `/proc`.
    pub keepcaps: Option<bool>,
}

impl FullCapState {
    /// Parses the text of a `/proc/<pid>/status` file (the `Cap*` and `NoNewPrivs` lines).
    ///
    /// # Errors
    ///
    /// [`Error::Kernel`] if a field is missing or not what the kernel writes (16 hex digits for
    /// the sets, `0`/`1` for `NoNewPrivs`).
    pub fn from_status(text: &str) -> Result<FullCapState> {
        let field = |name: &'static str| -> Result<&str> {
            status_field(text, name)
                .ok_or_else(|| Error::kernel(Op::ReadProc, format!("no {name} field")))
        };
        let set = |name: &'static str| -> Result<CapSet> {
            let v = field(name)?;
            if v.len() != 16 || !v.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(Error::kernel(
                    Op::ReadProc,
                    format!("{name} is not 16 hex digits: {v:?}"),
                ));
            }
            u64::from_str_radix(v, 16)
                .map(CapSet::from_bits)
                .map_err(|e| Error::kernel(Op::ReadProc, format!("{name}: {e}")))
        };
        let no_new_privs = match field("NoNewPrivs")? {
            "0" => false,
            "1" => true,
            other => {
                return Err(Error::kernel(
                    Op::ReadProc,
                    format!("NoNewPrivs is {other:?}"),
                ));
            }
        };
        Ok(FullCapState {
            caps: CapState {
                effective: set("CapEff")?,
                permitted: set("CapPrm")?,
                inheritable: set("CapInh")?,
            },
            ambient: set("CapAmb")?,
            bounding: set("CapBnd")?,
            securebits: None,
            no_new_privs,
            keepcaps: None,
        })
    }
}

/// The value of field `name` (without its colon) of a `/proc/<pid>/status` text, trimmed:
/// `status_field(text, "CapEff")`.
pub(crate) fn status_field<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(':')))
        .map(str::trim)
}

/// The numbers of field `name` of a `/proc/<pid>/status` text (`Uid`, `Gid`, `Groups`):
/// `None` when the field is missing or one of its values is not a `u32`. An empty field (no
/// supplementary groups) is an empty list.
pub(crate) fn status_numbers(text: &str, name: &str) -> Option<Vec<u32>> {
    status_field(text, name)?
        .split_ascii_whitespace()
        .map(|n| n.parse().ok())
        .collect()
}
