//! What `execve` does to a thread's credentials (capabilities(7), "Transformation of
//! capabilities during execve()"; the kernel's `cap_bprm_creds_from_file` and
//! `bprm_fill_uid`), as a pure function: the state a launched program must hold, computed from
//! the state its child held right before `execve` and what the program file grants.

use crate::{CapSet, CapState, FileCaps, FullCapState, Secbits, ThreadIds};

/// What the executed file itself brings: set-user-ID / set-group-ID bits and file
/// capabilities, as far as they take effect.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ExecFile {
    /// The file's owner, when it has the set-user-ID bit.
    pub(crate) setuid: Option<u32>,
    /// The file's group, when it has the set-group-ID bit and group execute permission.
    pub(crate) setgid: Option<u32>,
    /// Its file capabilities (`security.capability`).
    pub(crate) caps: Option<FileCaps>,
    /// It lies on a `nosuid` mount: set-ID bits and file capabilities are ignored.
    pub(crate) nosuid: bool,
}

/// The ids and capability state after `execve` of `file` by a thread holding `ids` and
/// `before` (whose securebits must be known). Ptrace and a file-system structure shared with
/// another process (which also limit an `execve`) are not modelled: a launched child has
/// neither.
pub(crate) fn after_exec(
    ids: &ThreadIds,
    before: &FullCapState,
    file: &ExecFile,
) -> (ThreadIds, FullCapState) {
    let bits = before.securebits.unwrap_or_default();
    let nnp = before.no_new_privs;
    let old = before.caps;
    let mut new = ids.clone();

    // bprm_fill_uid: set-ID bits (not on a nosuid mount, not under no_new_privs).
    if !file.nosuid && !nnp {
        if let Some(u) = file.setuid {
            new.euid = u;
        }
        if let Some(g) = file.setgid {
            new.egid = g;
        }
    }

    // File capabilities: pP' = (fP & bset) | (fI & pI), effective bit fE. Capabilities whose
    // v3 root id is not this namespace's root do not apply.
    let fcaps = file
        .caps
        .filter(|c| !file.nosuid && matches!(c.rootid, None | Some(0)));
    let has_fcap = fcaps.is_some();
    let (mut permitted, mut effective_bit) = match fcaps {
        Some(c) => (
            (c.permitted & before.bounding) | (c.inheritable & old.inheritable),
            c.effective,
        ),
        None => (CapSet::empty(), false),
    };

    // Root: unless SECBIT_NOROOT, uid 0 gets the bounding set (and its inheritable set), and
    // an effective uid 0 gets it effective; not for a set-user-ID-root file with file
    // capabilities run by another user.
    if !bits.contains(Secbits::NOROOT) {
        let suid_root_with_fcaps = has_fcap && new.euid == 0 && new.uid != 0;
        if !suid_root_with_fcaps {
            if new.euid == 0 || new.uid == 0 {
                permitted = before.bounding | old.inheritable;
            }
            if new.euid == 0 {
                effective_bit = true;
            }
        }
    }

    // A change of effective ids or a gain of permitted capabilities under no_new_privs:
    // the effective ids fall back to the real ones and nothing is gained.
    let is_setid = new.euid != ids.uid || new.egid != ids.gid;
    let gained = !permitted.is_subset(old.permitted);
    if (is_setid || gained) && nnp {
        new.euid = new.uid;
        new.egid = new.gid;
        permitted &= old.permitted;
    }
    new.suid = new.euid;
    new.fsuid = new.euid;
    new.sgid = new.egid;
    new.fsgid = new.egid;

    let ambient = if has_fcap || is_setid {
        CapSet::empty()
    } else {
        before.ambient
    };
    permitted |= ambient;
    let effective = if effective_bit { permitted } else { ambient };
    let state = FullCapState {
        caps: CapState {
            effective,
            permitted,
            inheritable: old.inheritable,
        },
        ambient,
        bounding: before.bounding,
        securebits: None,
        no_new_privs: nnp,
        keepcaps: None,
    };
    (new, state)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Cap;

    /// Every capability.
    const ALL: CapSet = CapSet::up_to(Cap::CHECKPOINT_RESTORE);

    fn state(p: CapSet, i: CapSet, a: CapSet, b: CapSet) -> FullCapState {
        FullCapState {
            caps: CapState {
                effective: p,
                permitted: p,
                inheritable: i,
            },
            ambient: a,
            bounding: b,
            securebits: Some(Secbits::empty()),
            no_new_privs: false,
            keepcaps: None,
        }
    }

    fn user(u: u32) -> ThreadIds {
        ThreadIds {
            uid: u,
            euid: u,
            suid: u,
            fsuid: u,
            gid: u,
            egid: u,
            sgid: u,
            fsgid: u,
            groups: vec![],
        }
    }

    #[test]
    fn a_normal_user_keeps_exactly_its_ambient_set() {
        let raw = CapSet::from(Cap::NET_RAW);
        let before = state(raw | Cap::CHOWN, raw, raw, ALL);
        let (ids, after) = after_exec(&user(1000), &before, &ExecFile::default());
        assert_eq!(ids, user(1000));
        assert_eq!(
            after.caps,
            CapState {
                effective: raw,
                permitted: raw,
                inheritable: raw
            }
        );
        assert_eq!(after.ambient, raw);
    }

    #[test]
    fn root_gets_the_bounding_set_unless_noroot() {
        let b = ALL - Cap::SYS_ADMIN;
        let before = state(CapSet::empty(), CapSet::empty(), CapSet::empty(), b);
        let (_, after) = after_exec(&user(0), &before, &ExecFile::default());
        assert_eq!(after.caps.permitted, b);
        assert_eq!(after.caps.effective, b);
        let mut noroot = before;
        noroot.securebits = Some(Secbits::NOROOT);
        let (_, after) = after_exec(&user(0), &noroot, &ExecFile::default());
        assert_eq!(after.caps, CapState::empty());
    }

    #[test]
    fn setuid_root_under_no_new_privs_grants_nothing() {
        let mut before = state(CapSet::empty(), CapSet::empty(), CapSet::empty(), ALL);
        let file = ExecFile {
            setuid: Some(0),
            ..ExecFile::default()
        };
        let (ids, after) = after_exec(&user(1000), &before, &file);
        assert_eq!((ids.uid, ids.euid, ids.suid), (1000, 0, 0));
        assert_eq!(after.caps.permitted, ALL);
        before.no_new_privs = true;
        let (ids, after) = after_exec(&user(1000), &before, &file);
        assert_eq!(ids, user(1000));
        assert_eq!(after.caps, CapState::empty());
    }

    #[test]
    fn file_capabilities_clear_the_ambient_set() {
        let raw = CapSet::from(Cap::NET_RAW);
        let before = state(raw, raw, raw, ALL);
        let file = ExecFile {
            caps: Some(FileCaps {
                effective: true,
                permitted: CapSet::from(Cap::CHOWN),
                inheritable: CapSet::empty(),
                rootid: None,
            }),
            ..ExecFile::default()
        };
        let (_, after) = after_exec(&user(1000), &before, &file);
        assert_eq!(after.ambient, CapSet::empty());
        assert_eq!(after.caps.permitted, CapSet::from(Cap::CHOWN));
        assert_eq!(after.caps.effective, CapSet::from(Cap::CHOWN));
        let nosuid = ExecFile {
            nosuid: true,
            ..file
        };
        let (_, after) = after_exec(&user(1000), &before, &nosuid);
        assert_eq!(after.caps.permitted, raw);
    }
}
