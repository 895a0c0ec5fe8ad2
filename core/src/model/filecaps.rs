//! [`FileCaps`]: file capabilities, the `security.capability` extended attribute.
//!
//! The attribute is a little-endian `struct vfs_ns_cap_data` (linux/capability.h): a
//! `magic_etc` word (revision in the top byte, bit 0 the effective flag), then a permitted and
//! an inheritable word per 32 capabilities, then, in revision 3 only, the root uid of the user
//! namespace the capabilities apply to:
//!
//! | revision | size     | capabilities | rootid |
//! |----------|----------|--------------|--------|
//! | 1        | 12 bytes | 0..=31       | no     |
//! | 2        | 20 bytes | 0..=63       | no     |
//! | 3        | 24 bytes | 0..=63       | yes    |

use std::fmt;
use std::str::FromStr;

use crate::{CapSet, CapState, ParseStateError};

const REVISION_MASK: u32 = 0xFF00_0000;
const REVISION_1: u32 = 0x0100_0000;
const REVISION_2: u32 = 0x0200_0000;
const REVISION_3: u32 = 0x0300_0000;
const FLAG_EFFECTIVE: u32 = 0x0000_0001;
const SIZE_1: usize = 12;
const SIZE_2: usize = 20;
const SIZE_3: usize = 24;

/// A file's capabilities: what `execve` of the file grants (see capabilities(7), "File
/// capabilities").
///
/// Unlike a thread, a file has no effective *set*: one flag says whether the permitted
/// capabilities the new program gets are also raised into its effective set at `execve`.
/// `rootid` is the uid, in the initial user namespace, of the root of the user namespace the
/// capabilities are for (revision 3 of the attribute, written by the kernel when a
/// capability is set from inside a user namespace); `None` means every namespace (revision 2).
///
/// In text (`Display`, `FromStr`), file capabilities are written as `getcap` prints and
/// `setcap` reads them: libcap's state text where the effective set is either empty (flag off)
/// or holds every permitted and inheritable capability (flag on), e.g. `cap_net_raw=ep`.
///
/// # Examples
///
/// ```
/// use capscope::{Cap, FileCaps};
///
/// let fc: FileCaps = "cap_net_raw,cap_net_admin=ep".parse()?;
/// assert!(fc.effective && fc.permitted.has(Cap::NET_RAW) && fc.rootid.is_none());
/// assert_eq!(fc.to_string(), "cap_net_admin,cap_net_raw=ep");
/// let bytes = fc.to_bytes();
/// assert_eq!(bytes.len(), 20); // revision 2
/// assert_eq!(FileCaps::from_bytes(&bytes)?, fc);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # References
///
/// capabilities(7), setcap(8), getcap(8), cap_get_file(3), xattr(7)
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, Debug)]
pub struct FileCaps {
    /// Whether the permitted capabilities are raised into the effective set at `execve`.
    pub effective: bool,
    /// The file's permitted set (granted at `execve` within the bounding set).
    pub permitted: CapSet,
    /// The file's inheritable set (ANDed with the thread's inheritable set at `execve`).
    pub inheritable: CapSet,
    /// The namespace root uid of a revision 3 attribute, `None` for revision 1 and 2.
    pub rootid: Option<u32>,
}

/// Why bytes are not a valid `security.capability` attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum FileCapsBytesError {
    /// Shorter than the 4-byte header.
    #[error("security.capability: {len} bytes is too short for the 4-byte header")]
    TooShort {
        /// The length found.
        len: usize,
    },
    /// A revision other than 1, 2 or 3.
    #[error("security.capability: unknown revision {revision:#x}")]
    UnknownRevision {
        /// The revision byte.
        revision: u8,
    },
    /// The length does not match the revision.
    #[error("security.capability: revision {revision} must be {expected} bytes, found {len}")]
    BadLength {
        /// The revision.
        revision: u8,
        /// The size that revision has.
        expected: usize,
        /// The length found.
        len: usize,
    },
    /// Flag bits other than the effective flag are set.
    #[error(
        "security.capability: unknown flag bits {flags:#x} (only the effective flag 0x1 exists)"
    )]
    UnknownFlags {
        /// The unknown flag bits.
        flags: u32,
    },
}

/// Why a text is not valid file capabilities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum ParseFileCapsError {
    /// The text is not libcap's capability text.
    #[error(transparent)]
    Syntax(#[from] ParseStateError),
    /// The effective set is neither empty nor a superset of the permitted and inheritable
    /// sets: a file has one effective flag, not a set (setcap refuses this too).
    #[error(
        "file capabilities have one effective flag: the effective set must be empty or hold every \
         permitted and inheritable capability, but {missing:?} are not effective"
    )]
    PartialEffective {
        /// The permitted or inheritable capabilities missing from the effective set.
        missing: CapSet,
    },
}

#[inline]
fn word(b: &[u8], i: usize) -> u32 {
    u32::from_le_bytes([b[4 * i], b[4 * i + 1], b[4 * i + 2], b[4 * i + 3]])
}

impl FileCaps {
    /// The size of the longest attribute revision (3): 24 bytes.
    pub(crate) const MAX_SIZE: usize = SIZE_3;

    /// No capabilities, effective flag off, revision 2.
    ///
    /// ```
    /// assert_eq!(capscope::FileCaps::empty().to_string(), "=");
    /// ```
    #[must_use]
    pub const fn empty() -> FileCaps {
        FileCaps {
            effective: false,
            permitted: CapSet::empty(),
            inheritable: CapSet::empty(),
            rootid: None,
        }
    }

    /// Decodes a `security.capability` attribute of revision 1, 2 or 3. Every capability bit
    /// and the rootid are kept exactly.
    ///
    /// # Errors
    ///
    /// [`FileCapsBytesError`] for an unknown revision, a length that is not exactly the
    /// revision's, or a flag bit other than the effective flag. Never panics.
    ///
    /// # Examples
    ///
    /// ```
    /// use capscope::{Cap, FileCaps};
    ///
    /// // What `setcap -n 1000 cap_chown=ep` writes: revision 3, rootid 1000.
    /// let raw = [1, 0, 0, 3, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xe8, 3, 0, 0];
    /// let fc = FileCaps::from_bytes(&raw)?;
    /// assert!(fc.effective && fc.permitted.has(Cap::CHOWN));
    /// assert_eq!(fc.rootid, Some(1000));
    /// assert_eq!(fc.to_bytes(), raw);
    /// assert!(FileCaps::from_bytes(&raw[..20]).is_err());
    /// # Ok::<(), capscope::FileCapsBytesError>(())
    /// ```
    pub fn from_bytes(bytes: &[u8]) -> Result<FileCaps, FileCapsBytesError> {
        if bytes.len() < 4 {
            return Err(FileCapsBytesError::TooShort { len: bytes.len() });
        }
        let magic = word(bytes, 0);
        let (expected, words) = match magic & REVISION_MASK {
            REVISION_1 => (SIZE_1, 1),
            REVISION_2 => (SIZE_2, 2),
            REVISION_3 => (SIZE_3, 2),
            other => {
                return Err(FileCapsBytesError::UnknownRevision {
                    revision: (other >> 24) as u8,
                })
            }
        };
        let revision = (magic >> 24) as u8;
        if bytes.len() != expected {
            return Err(FileCapsBytesError::BadLength {
                revision,
                expected,
                len: bytes.len(),
            });
        }
        let flags = magic & !REVISION_MASK;
        if flags & !FLAG_EFFECTIVE != 0 {
            return Err(FileCapsBytesError::UnknownFlags {
                flags: flags & !FLAG_EFFECTIVE,
            });
        }
        let (mut permitted, mut inheritable) = (0u64, 0u64);
        for i in 0..words {
            permitted |= u64::from(word(bytes, 1 + 2 * i)) << (32 * i);
            inheritable |= u64::from(word(bytes, 2 + 2 * i)) << (32 * i);
        }
        Ok(FileCaps {
            effective: flags & FLAG_EFFECTIVE != 0,
            permitted: CapSet::from_bits(permitted),
            inheritable: CapSet::from_bits(inheritable),
            rootid: if revision == 3 {
                Some(word(bytes, 5))
            } else {
                None
            },
        })
    }

    /// Encodes the attribute: revision 2 (20 bytes) when `rootid` is `None`, revision 3
    /// (24 bytes) otherwise. Revision 1 is never written.
    ///
    /// ```
    /// use capscope::FileCaps;
    ///
    /// let fc: FileCaps = "cap_chown=ep".parse()?;
    /// assert_eq!(fc.to_bytes(), [1, 0, 0, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    /// let ns = FileCaps { rootid: Some(1000), ..fc };
    /// assert_eq!(ns.to_bytes().len(), 24);
    /// # Ok::<(), capscope::ParseFileCapsError>(())
    /// ```
    ///
    /// # References
    ///
    /// linux/capability.h (`struct vfs_ns_cap_data`)
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(SIZE_3);
        let revision = if self.rootid.is_some() {
            REVISION_3
        } else {
            REVISION_2
        };
        let magic = revision | if self.effective { FLAG_EFFECTIVE } else { 0 };
        let (p, i) = (self.permitted.bits(), self.inheritable.bits());
        for w in [
            magic,
            p as u32,
            i as u32,
            (p >> 32) as u32,
            (i >> 32) as u32,
        ] {
            out.extend_from_slice(&w.to_le_bytes());
        }
        if let Some(rootid) = self.rootid {
            out.extend_from_slice(&rootid.to_le_bytes());
        }
        out
    }

    /// The thread-style state libcap reads from these file capabilities (`cap_get_file`):
    /// the effective set is the union of the permitted and inheritable sets when the effective
    /// flag is on, empty otherwise.
    ///
    /// ```
    /// use capscope::{Cap, FileCaps};
    ///
    /// let fc: FileCaps = "cap_chown=ep cap_kill+ei".parse()?;
    /// let s = fc.to_state();
    /// assert!(s.effective.has(Cap::KILL) && !s.permitted.has(Cap::KILL));
    /// # Ok::<(), capscope::ParseFileCapsError>(())
    /// ```
    #[must_use]
    pub const fn to_state(&self) -> CapState {
        let union = self.permitted.union(self.inheritable);
        CapState {
            effective: if self.effective {
                union
            } else {
                CapSet::empty()
            },
            permitted: self.permitted,
            inheritable: self.inheritable,
        }
    }

    /// File capabilities from a state, as libcap's `cap_set_file` converts one: the effective
    /// flag is on when the effective set is not empty, which is only allowed when it holds
    /// every permitted and inheritable capability. The result has no rootid.
    ///
    /// # Errors
    ///
    /// [`ParseFileCapsError::PartialEffective`] when the effective set is neither empty nor a
    /// superset of the permitted and inheritable sets.
    ///
    /// # Examples
    ///
    /// ```
    /// use capscope::{CapState, FileCaps};
    ///
    /// let ok: CapState = "cap_chown=ep".parse()?;
    /// assert!(FileCaps::from_state(&ok)?.effective);
    /// let partial: CapState = "cap_chown=ep cap_kill=p".parse()?;
    /// assert!(FileCaps::from_state(&partial).is_err()); // setcap refuses it too
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # References
    ///
    /// cap_set_file(3), setcap(8)
    pub fn from_state(state: &CapState) -> Result<FileCaps, ParseFileCapsError> {
        let union = state.permitted | state.inheritable;
        if !state.effective.is_empty() && !union.is_subset(state.effective) {
            return Err(ParseFileCapsError::PartialEffective {
                missing: union - state.effective,
            });
        }
        Ok(FileCaps {
            effective: !state.effective.is_empty(),
            permitted: state.permitted,
            inheritable: state.inheritable,
            rootid: None,
        })
    }
}

impl FromStr for FileCaps {
    type Err = ParseFileCapsError;

    /// Reads the text `setcap` takes: libcap's state text (see [`CapState`]'s `FromStr`),
    /// converted with libcap's effective-bit rule ([`FileCaps::from_state`]). `rootid` is
    /// `None`.
    fn from_str(s: &str) -> Result<FileCaps, ParseFileCapsError> {
        FileCaps::from_state(&s.parse::<CapState>()?)
    }
}

impl fmt::Display for FileCaps {
    /// What `getcap` prints after the file name: `cap_to_text` of
    /// [`to_state`](FileCaps::to_state) (`cap_net_raw=ep`; `=` for none). The rootid is not
    /// part of it (`getcap -n` prints it apart, as ` [rootid=N]`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.to_state(), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Cap;

    #[test]
    fn effective_rule() {
        let fc: FileCaps = "=e cap_chown+p".parse().unwrap();
        assert!(fc.effective);
        assert_eq!(fc.permitted, CapSet::from(Cap::CHOWN));
        assert!(matches!(
            "cap_chown=p cap_kill=eip".parse::<FileCaps>(),
            Err(ParseFileCapsError::PartialEffective { .. })
        ));
        let fc: FileCaps = "cap_chown=e".parse().unwrap();
        assert!(fc.effective && fc.permitted.is_empty());
        assert_eq!(fc.to_string(), "=");
    }

    #[test]
    fn bytes_are_checked() {
        let v2 = FileCaps {
            effective: true,
            ..FileCaps::empty()
        }
        .to_bytes();
        assert_eq!(
            v2,
            [1, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        );
        let mut bad = v2.clone();
        bad[0] = 3;
        assert_eq!(
            FileCaps::from_bytes(&bad),
            Err(FileCapsBytesError::UnknownFlags { flags: 2 })
        );
        let v1 = [0, 0, 0, 1, 1, 0, 0, 0, 2, 0, 0, 0];
        let fc = FileCaps::from_bytes(&v1).unwrap();
        assert_eq!(
            (fc.permitted.bits(), fc.inheritable.bits(), fc.rootid),
            (1, 2, None)
        );
        for len in 0..40 {
            let _ = FileCaps::from_bytes(&vec![3u8; len]);
        }
    }
}
