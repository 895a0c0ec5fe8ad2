//! Checking a declared [`Launch`] against the calling thread, before any `fork`, into a
//! [`Plan`]: the exact state the child will hold right before `execve`, and the plain,
//! `Copy` [`Steps`] the child carries out to reach it.
//!
//! Everything the kernel would refuse in the child, and everything that is refused for being
//! wrong in itself, is refused here, so that a launch that passes this check fails in the
//! child only for causes that cannot be seen from the parent (a seccomp filter, an id not
//! mapped in the user namespace, `setgroups` denied in a user namespace through
//! `/proc/<pid>/setgroups`, a spawn from another thread with other credentials).

use std::sync::Arc;

use super::{Groups, Launch};
use crate::error::{Error, Op, Result};
use crate::thread::identity::IdChange;
use crate::thread::ops;
use crate::{kernel, Cap, CapSet, CapState, FullCapState, Secbits, ThreadIds};

/// Every securebit this library names (bits 0 to 11); the kernel refuses the others.
const NAMED_SECBITS: u32 = (1 << 12) - 1;

/// What the child does, in order (see the [module docs](super) for why this order). Plain
/// data: the child reads it without allocating.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Steps {
    /// Raise `CAP_SETPCAP` into the effective set first (it is permitted, not effective, and a
    /// later step needs it).
    pub(crate) raise_setpcap: bool,
    /// Drop these from the bounding set (those still in it): every capability the declared
    /// limit does not keep, whatever the planning thread held, so that a spawn from a thread
    /// holding more than it still gets the declared limit.
    pub(crate) bounding_drop: CapSet,
    /// Those of `bounding_drop` the planning thread held: dropped without asking first.
    pub(crate) bounding_present: CapSet,
    /// Change ids: (uid, gid, whether groups are set). The groups themselves travel apart.
    pub(crate) ids: Option<(Option<u32>, Option<u32>, bool)>,
    /// `capset` to this state after the id change (`None`: leave the sets alone).
    pub(crate) caps_tmp: Option<CapState>,
    /// Clear the ambient set and raise exactly these.
    pub(crate) ambient: Option<CapSet>,
    /// Set the securebits to exactly these (when they are not already).
    pub(crate) securebits: Option<Secbits>,
    /// The final `capset`, when it differs from `caps_tmp` (which then keeps `CAP_SETPCAP` for
    /// the securebits step).
    pub(crate) caps_final: Option<CapState>,
    /// Set no_new_privs.
    pub(crate) no_new_privs: bool,
    /// Read back: the capability sets (when any step touched them) and the ambient set.
    pub(crate) expect_caps: Option<CapState>,
    /// The ambient set expected at the end, read back when `expect_caps` is.
    pub(crate) expect_ambient: CapSet,
    /// The kernel's last capability (for the ambient read-back).
    pub(crate) last: Cap,
}

/// A [`Launch`] checked against the calling thread: the state the child holds right before
/// `execve`, and the steps that get it there. Made by [`Launch::plan`]; given to
/// [`CommandExt::declare`](super::CommandExt::declare) and used by [`Plan::verify`].
///
/// Cloning is cheap (the group list is shared).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    pub(crate) steps: Steps,
    pub(crate) groups: Option<Arc<[u32]>>,
    pub(crate) ids: ThreadIds,
    pub(crate) state: FullCapState,
}

impl Plan {
    /// The ids and supplementary groups the child holds right before `execve`: the declared
    /// ones, the parent thread's otherwise. (An `execve` of a set-user-ID or set-group-ID
    /// program changes the effective, saved and filesystem ids afterwards.)
    #[must_use]
    pub fn ids(&self) -> &ThreadIds {
        &self.ids
    }

    /// Every capability attribute of the child right before `execve`: its effective,
    /// permitted, inheritable, ambient and bounding sets, its securebits and no_new_privs.
    /// `keepcaps` is `None` (it is part of the securebits, and `execve` clears it anyway).
    #[must_use]
    pub fn state(&self) -> &FullCapState {
        &self.state
    }
}

/// The parent thread's state the plan starts from.
struct Before {
    caps: CapState,
    ambient: CapSet,
    bounding: CapSet,
    securebits: Secbits,
    no_new_privs: bool,
    ids: ThreadIds,
}

fn os(f: ops::Fail) -> Error {
    f.error()
}

fn read_before(last: Cap) -> Result<Before> {
    Ok(Before {
        caps: ops::capget().map_err(os)?,
        ambient: ops::ambient_set(last).map_err(os)?,
        bounding: ops::bounding_set(last).map_err(os)?,
        securebits: ops::securebits().map_err(os)?,
        no_new_privs: ops::no_new_privs().map_err(os)?,
        ids: ThreadIds::current()?,
    })
}

fn refused(reason: String) -> Error {
    Error::refused(Op::Launch, reason)
}

fn invalid(reason: impl Into<std::borrow::Cow<'static, str>>) -> Error {
    Error::invalid(Op::Launch, reason)
}

/// `cap_a, cap_b` for messages (`CAP_A` style is systemd's; libcap's list is what the
/// command line takes).
fn list(caps: CapSet) -> String {
    caps.to_string()
}

impl Launch {
    /// Checks this declared state against the calling thread and the running kernel, before
    /// anything is started, and computes the exact state the child will hold right before
    /// `execve` (see the [module docs](super) for the rules).
    ///
    /// [`CommandExt::launch`](super::CommandExt::launch) calls it; call it yourself to
    /// declare one plan on several commands, or to look at the state first.
    ///
    /// # Errors
    ///
    /// - [`Error::InvalidInput`] (op [`Op::Launch`]) for a state wrong in itself: `u32::MAX`
    ///   as the uid, the gid or a group (the kernel's "unchanged"); more than
    ///   [`MAX_GROUPS`](crate::MAX_GROUPS) groups; a gid without a decision on the
    ///   supplementary groups; an effective set that is not a subset of the permitted set;
    ///   securebits the kernel does not know.
    /// - [`Error::Unsupported`] for a capability the running kernel does not know.
    /// - [`Error::Refused`] for a state the calling thread cannot give a child: a capability
    ///   (for the permitted, ambient or inheritable set) it does not hold, a bounding-set or
    ///   securebits change without `CAP_SETPCAP`, a locked securebit, ambient capabilities
    ///   under `SECBIT_NO_CAP_AMBIENT_RAISE`, an id change the kernel would refuse it (a uid
    ///   that is none of its real, effective and saved uids without `CAP_SETUID`, a gid
    ///   likewise without `CAP_SETGID`, supplementary groups without `CAP_SETGID`). The reason
    ///   names the capability and the fix.
    /// - [`Error::Os`] when reading the calling thread's state fails.
    ///
    /// # Examples
    ///
    /// ```
    /// use capscope::launch::Launch;
    ///
    /// let plan = Launch::new().no_new_privs().plan()?;
    /// assert!(plan.state().no_new_privs);
    /// let e = Launch::new().uid(u32::MAX).plan().unwrap_err();
    /// assert!(matches!(e, capscope::Error::InvalidInput { .. }));
    /// # Ok::<(), capscope::Error>(())
    /// ```
    pub fn plan(&self) -> Result<Plan> {
        let last = kernel::last_supported()?;
        self.check_input(last)?;
        let before = read_before(last)?;
        plan_from(self, &before, last)
    }

    /// What can be refused without looking at the thread.
    fn check_input(&self, last: Cap) -> Result<()> {
        let groups = match &self.groups {
            Groups::Set(g) => Some(g.as_slice()),
            Groups::Unchanged | Groups::Keep => None,
        };
        if self.uid.is_some() || self.gid.is_some() || groups.is_some() {
            let mut change = IdChange::new();
            if let Some(u) = self.uid {
                change = change.uid(u);
            }
            if let Some(g) = self.gid {
                change = change.gid(g);
            }
            if let Some(g) = groups {
                change = change.groups(g);
            }
            change.validate(Op::Launch)?;
        }
        if self.gid.is_some() && self.groups == Groups::Unchanged {
            return Err(invalid(
                "a new gid with the parent's supplementary groups (often root's) is a classic \
                 mistake: say which groups the child gets (groups, clear_groups or keep_groups)",
            ));
        }
        let declared = [
            self.effective,
            self.permitted,
            self.inheritable,
            self.ambient,
            self.bounding_keep,
        ]
        .into_iter()
        .flatten()
        .fold(CapSet::empty(), |a, b| a | b);
        if let Some(cap) = declared.difference(CapSet::up_to(last)).first() {
            return Err(Error::Unsupported {
                op: Op::Launch,
                cap,
                last,
            });
        }
        if let Some(bits) = self.securebits {
            let unknown = bits.bits() & !NAMED_SECBITS;
            if unknown != 0 {
                return Err(invalid(format!(
                    "securebits {unknown:#x}: the kernel knows bits 0 to 11 only"
                )));
            }
        }
        Ok(())
    }
}

/// The plan, from the parent thread's state `b`.
fn plan_from(l: &Launch, b: &Before, last: Cap) -> Result<Plan> {
    let [ruid, euid, suid] = [b.ids.uid, b.ids.euid, b.ids.suid];
    let fixup_off = b.securebits.contains(Secbits::NO_SETUID_FIXUP);
    // capabilities(7), "Effect of user ID changes on capabilities": the uid change is
    // setresuid(u, u, u), and capscope follows the kernel's rules for what it does to the sets.
    let (fixup, e_cleared, e_to_p) = match l.uid {
        Some(u) if !fixup_off => (
            (ruid == 0 || euid == 0 || suid == 0) && u != 0,
            euid == 0 && u != 0,
            euid != 0 && u == 0,
        ),
        _ => (false, false, false),
    };
    let p_default = if fixup && !l.keep_caps {
        CapSet::empty()
    } else {
        b.caps.permitted
    };
    let e_default = if e_cleared {
        CapSet::empty()
    } else if e_to_p {
        p_default
    } else {
        b.caps.effective & p_default
    };
    let a_decl = l.ambient.unwrap_or_default();
    let permitted = l.permitted.unwrap_or(p_default) | a_decl;
    let inheritable = l.inheritable.unwrap_or(b.caps.inheritable) | a_decl;
    let effective = l.effective.unwrap_or(e_default & permitted);
    let ambient = match l.ambient {
        Some(a) => a,
        None if fixup => CapSet::empty(),
        None => b.ambient & permitted & inheritable,
    };
    let caps = CapState {
        effective,
        permitted,
        inheritable,
    };

    if !effective.is_subset(permitted) {
        return Err(invalid(format!(
            "the effective set must be a subset of the permitted set; {} would be effective \
             without being permitted",
            list(effective - permitted)
        )));
    }
    // The permitted set can only shrink.
    let missing = permitted - b.caps.permitted;
    if !missing.is_empty() {
        let why = if a_decl.intersection(missing) == missing {
            "an ambient capability must be permitted, and a child gets no capability its parent \
             does not hold"
        } else {
            "a child gets no capability its parent does not hold"
        };
        return Err(refused(format!(
            "{} not in the permitted set of the calling thread: {why}. Grant {} to this \
             program (`setcap {}+p /path/to/program`, systemd's AmbientCapabilities=, or run it \
             as root)",
            list(missing),
            if missing.len() == 1 { "it" } else { "them" },
            list(missing),
        )));
    }

    // The bounding set.
    let (bounding, bounding_drop, bounding_present) = match l.bounding_keep {
        // Everything but the planned set is dropped, so that a spawning thread holding more
        // than the planning one still ends with the bounding set the plan reports.
        Some(keep) => (
            b.bounding & keep,
            CapSet::up_to(last) - (b.bounding & keep),
            b.bounding - keep,
        ),
        None => (b.bounding, CapSet::empty(), CapSet::empty()),
    };

    // The securebits.
    let securebits = l.securebits.unwrap_or(b.securebits);
    let sb_change = securebits != b.securebits;
    if sb_change {
        let locks = b.securebits.bits() & Secbits::ALL_LOCKS.bits();
        if (locks >> 1) & (b.securebits.bits() ^ securebits.bits()) != 0 {
            return Err(refused(format!(
                "securebits {:#x} would change a locked flag (the calling thread's securebits \
                 are {:#x}, locks included): a locked flag stays as it is for good",
                securebits.bits(),
                b.securebits.bits()
            )));
        }
        if locks & !securebits.bits() != 0 {
            return Err(refused(format!(
                "securebits {:#x} would clear a lock the calling thread holds ({:#x}): a lock \
                 cannot be cleared",
                securebits.bits(),
                b.securebits.bits()
            )));
        }
    }
    if !a_decl.is_empty() && b.securebits.contains(Secbits::NO_CAP_AMBIENT_RAISE) {
        return Err(refused(
            "the calling thread has SECBIT_NO_CAP_AMBIENT_RAISE set: no ambient capability can \
             be raised in its children"
                .to_owned(),
        ));
    }
    let ids_change = l.uid.is_some() || l.gid.is_some() || matches!(l.groups, Groups::Set(_));
    if ids_change
        && b.securebits.contains(Secbits::KEEP_CAPS_LOCKED)
        && !b.securebits.contains(Secbits::KEEP_CAPS)
    {
        return Err(refused(
            "the calling thread has SECBIT_KEEP_CAPS_LOCKED set with keepcaps off: capscope \
             cannot keep the permitted set across the id change"
                .to_owned(),
        ));
    }

    check_id_change(l, b)?;

    // The inheritable set may grow only within the bounding set, and without CAP_SETPCAP in
    // the effective set only within the permitted set.
    let grown = inheritable - b.caps.inheritable;
    let setpcap = b.caps.permitted.has(Cap::SETPCAP);
    if !(grown - bounding).is_empty() {
        return Err(refused(format!(
            "{} not in the bounding set{}, so it cannot enter the inheritable set",
            list(grown - bounding),
            if l.bounding_keep.is_some() {
                " (as limited)"
            } else {
                ""
            }
        )));
    }
    let need_setpcap =
        !bounding_present.is_empty() || sb_change || !(grown - b.caps.permitted).is_empty();
    if need_setpcap && !setpcap {
        let what = if !bounding_present.is_empty() {
            "dropping capabilities from the bounding set"
        } else if sb_change {
            "changing securebits"
        } else {
            "adding a capability that is not permitted to the inheritable set"
        };
        return Err(refused(format!(
            "{what} needs CAP_SETPCAP, which the calling thread does not hold in its permitted \
             set"
        )));
    }
    let raise_setpcap = need_setpcap && !b.caps.effective.has(Cap::SETPCAP);

    let extra = if sb_change {
        CapSet::from(Cap::SETPCAP)
    } else {
        CapSet::empty()
    };
    let tmp = CapState {
        effective: effective | extra,
        permitted: permitted | extra,
        inheritable,
    };
    // Declared sets are always set and read back in the child, even when the planning thread
    // already holds them: the spawning thread may hold more.
    let declared_caps = l.effective.is_some() || l.permitted.is_some() || l.inheritable.is_some();
    let touch_caps =
        ids_change || raise_setpcap || declared_caps || caps != b.caps || l.ambient.is_some();
    let groups: Option<Arc<[u32]>> = match &l.groups {
        Groups::Set(g) => Some(g.as_slice().into()),
        Groups::Unchanged | Groups::Keep => None,
    };
    let steps = Steps {
        raise_setpcap,
        bounding_drop,
        bounding_present,
        ids: ids_change.then_some((l.uid, l.gid, groups.is_some())),
        caps_tmp: touch_caps.then_some(tmp),
        ambient: l.ambient,
        securebits: l.securebits,
        caps_final: (touch_caps && tmp != caps).then_some(caps),
        no_new_privs: l.no_new_privs,
        expect_caps: touch_caps.then_some(caps),
        expect_ambient: ambient,
        last,
    };

    let mut ids = b.ids.clone();
    if let Some(u) = l.uid {
        (ids.uid, ids.euid, ids.suid, ids.fsuid) = (u, u, u, u);
    }
    if let Some(g) = l.gid {
        (ids.gid, ids.egid, ids.sgid, ids.fsgid) = (g, g, g, g);
    }
    if let Some(g) = &groups {
        let mut sorted = g.to_vec();
        // The kernel keeps the list sorted (duplicates included).
        sorted.sort_unstable();
        ids.groups = sorted;
    }
    Ok(Plan {
        steps,
        groups,
        ids,
        state: FullCapState {
            caps,
            ambient,
            bounding,
            securebits: Some(securebits),
            no_new_privs: b.no_new_privs || l.no_new_privs,
            keepcaps: None,
        },
    })
}

/// Refuses an id change the kernel would refuse the child (setresuid(2), setresgid(2),
/// setgroups(2)): `setresuid(u, u, u)` needs `CAP_SETUID` unless `u` is one of the thread's
/// real, effective and saved uids, `setresgid` likewise with `CAP_SETGID`, and `setgroups`
/// always needs `CAP_SETGID` (the child makes no `setgroups` call to clear groups that are
/// already clear). The child raises what it needs into the effective set itself (see
/// `thread::identity::apply`), so the permitted set is what counts. (`IdRequest::needed_caps`
/// does not fit here: it asks for `CAP_SETUID` for any uid, where the kernel lets a thread
/// switch among its own ids.)
fn check_id_change(l: &Launch, b: &Before) -> Result<()> {
    let i = &b.ids;
    let mut why: Vec<(Cap, String)> = Vec::new();
    if let Some(u) = l.uid {
        if ![i.uid, i.euid, i.suid].contains(&u) {
            why.push((
                Cap::SETUID,
                format!(
                    "uid {u} is none of the calling thread's uids (real, effective, saved: \
                     {}, {}, {}), so setresuid needs cap_setuid",
                    i.uid, i.euid, i.suid
                ),
            ));
        }
    }
    if let Some(g) = l.gid {
        if ![i.gid, i.egid, i.sgid].contains(&g) {
            why.push((
                Cap::SETGID,
                format!(
                    "gid {g} is none of the calling thread's gids (real, effective, saved: \
                     {}, {}, {}), so setresgid needs cap_setgid",
                    i.gid, i.egid, i.sgid
                ),
            ));
        }
    }
    if let Groups::Set(g) = &l.groups {
        if !(g.is_empty() && i.groups.is_empty()) {
            why.push((
                Cap::SETGID,
                "setting the supplementary groups (setgroups) always needs cap_setgid".into(),
            ));
        }
    }
    why.retain(|(cap, _)| !b.caps.permitted.has(*cap));
    let missing = why
        .iter()
        .fold(CapSet::empty(), |set, (cap, _)| set.with(*cap));
    if missing.is_empty() {
        return Ok(());
    }
    let why: Vec<&str> = why.iter().map(|(_, w)| w.as_str()).collect();
    Err(refused(format!(
        "{} not in the permitted set of the calling thread: {}. Run this program as root, or \
         grant it {} (`setcap {}+p /path/to/program`)",
        list(missing),
        why.join("; "),
        list(missing),
        list(missing),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capset;

    fn root() -> Before {
        let all = CapSet::up_to(Cap::CHECKPOINT_RESTORE);
        Before {
            caps: CapState {
                effective: all,
                permitted: all,
                inheritable: CapSet::empty(),
            },
            ambient: CapSet::empty(),
            bounding: all,
            securebits: Secbits::empty(),
            no_new_privs: false,
            ids: ThreadIds {
                groups: vec![0],
                ..ThreadIds::default()
            },
        }
    }

    #[test]
    fn ambient_for_a_normal_user() {
        let l = Launch::new()
            .uid(1000)
            .gid(1000)
            .clear_groups()
            .ambient(Cap::NET_RAW);
        let p = plan_from(&l, &root(), Cap::CHECKPOINT_RESTORE).unwrap();
        let one = CapSet::from(Cap::NET_RAW);
        assert_eq!(
            p.state.caps,
            CapState {
                effective: CapSet::empty(),
                permitted: one,
                inheritable: one
            }
        );
        assert_eq!(p.state.ambient, one);
        assert_eq!(p.ids.uid, 1000);
        assert_eq!(p.ids.groups, Vec::<u32>::new());
        assert!(p.steps.ids.is_some() && !p.steps.raise_setpcap);
        // With keep_caps, the permitted set survives the uid change (the effective set does
        // not: the kernel clears it whenever the effective uid leaves 0).
        let p = plan_from(&l.clone().keep_caps(), &root(), Cap::CHECKPOINT_RESTORE).unwrap();
        assert_eq!(p.state.caps.permitted, root().caps.permitted);
        assert!(p.state.caps.effective.is_empty());
    }

    #[test]
    fn refusals_name_the_cause() {
        let mut user = root();
        user.caps = CapState::empty();
        user.ids.uid = 1000;
        let e = plan_from(
            &Launch::new().ambient(Cap::NET_RAW),
            &user,
            Cap::CHECKPOINT_RESTORE,
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("cap_net_raw not in the permitted set"),
            "{e}"
        );
        let e = plan_from(
            &Launch::new().bounding_keep(CapSet::empty()),
            &user,
            Cap::CHECKPOINT_RESTORE,
        )
        .unwrap_err();
        assert!(e.to_string().contains("CAP_SETPCAP"), "{e}");
        let e = plan_from(
            &Launch::new()
                .effective(capset![Cap::CHOWN])
                .permitted(CapSet::empty()),
            &root(),
            Cap::CHECKPOINT_RESTORE,
        )
        .unwrap_err();
        assert!(matches!(e, Error::InvalidInput { .. }), "{e}");
        let mut locked = root();
        locked.securebits = Secbits::NOROOT | Secbits::NOROOT_LOCKED;
        let e = plan_from(
            &Launch::new().securebits(Secbits::NOROOT_LOCKED),
            &locked,
            Cap::CHECKPOINT_RESTORE,
        )
        .unwrap_err();
        assert!(e.to_string().contains("locked flag"), "{e}");
        let e = plan_from(
            &Launch::new()
                .bounding_keep(CapSet::empty())
                .inheritable(capset![Cap::CHOWN]),
            &root(),
            Cap::CHECKPOINT_RESTORE,
        )
        .unwrap_err();
        assert!(e.to_string().contains("bounding set"), "{e}");
    }

    /// A normal user's thread: uid and gid 1000, no supplementary group, no capability.
    fn user() -> Before {
        let mut b = root();
        b.caps = CapState::empty();
        b.ids = ThreadIds {
            uid: 1000,
            euid: 1000,
            suid: 1000,
            fsuid: 1000,
            gid: 1000,
            egid: 1000,
            sgid: 1000,
            fsgid: 1000,
            groups: Vec::new(),
        };
        b
    }

    #[test]
    fn id_changes_the_kernel_would_refuse_are_refused() {
        let last = Cap::CHECKPOINT_RESTORE;
        let refused_for = |l: Launch, b: &Before, caps: &str| {
            let e = plan_from(&l, b, last).unwrap_err();
            assert!(matches!(e, Error::Refused { .. }), "{l:?}: {e:?}");
            assert!(
                e.to_string()
                    .contains(&format!("{caps} not in the permitted set")),
                "{l:?}: {e}"
            );
            assert!(e.to_string().contains("setcap"), "{e}");
        };
        // A thread's own ids, and clearing groups that are already clear: no capability.
        for l in [
            Launch::new().uid(1000),
            Launch::new().gid(1000).keep_groups(),
            Launch::new().uid(1000).gid(1000).clear_groups(),
        ] {
            plan_from(&l, &user(), last).unwrap();
        }
        refused_for(Launch::new().uid(0), &user(), "cap_setuid");
        refused_for(Launch::new().gid(0).keep_groups(), &user(), "cap_setgid");
        refused_for(Launch::new().groups([1000]), &user(), "cap_setgid");
        refused_for(
            Launch::new().uid(0).gid(0).groups([0]),
            &user(),
            "cap_setgid,cap_setuid",
        );
        let mut grouped = user();
        grouped.ids.groups = vec![27];
        refused_for(Launch::new().clear_groups(), &grouped, "cap_setgid");
        // A saved uid and gid (a set-ID program's) are the thread's own.
        let mut saved = user();
        (saved.ids.suid, saved.ids.sgid) = (0, 0);
        plan_from(&Launch::new().uid(0).gid(0).keep_groups(), &saved, last).unwrap();
        // Permitted is enough (the child raises them); only the missing one is named.
        let mut permitted = user();
        permitted.caps.permitted = capset![Cap::SETUID, Cap::SETGID];
        plan_from(&Launch::new().uid(0).gid(0).groups([0]), &permitted, last).unwrap();
        permitted.caps.permitted = capset![Cap::SETGID];
        let e = plan_from(&Launch::new().uid(0).gid(0).groups([0]), &permitted, last)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("cap_setuid not in") && !e.contains("cap_setgid"),
            "{e}"
        );
        // Root without CAP_SETUID may keep uid 0, not leave it.
        let mut root_less = root();
        root_less.caps.permitted = root_less.caps.permitted.without(Cap::SETUID);
        root_less.caps.effective = root_less.caps.permitted;
        plan_from(&Launch::new().uid(0), &root_less, last).unwrap();
        refused_for(Launch::new().uid(1000), &root_less, "cap_setuid");
    }

    #[test]
    fn securebits_keep_setpcap_until_they_are_set() {
        let l = Launch::new()
            .caps(CapState::empty())
            .securebits(Secbits::NOROOT | Secbits::NOROOT_LOCKED);
        let p = plan_from(&l, &root(), Cap::CHECKPOINT_RESTORE).unwrap();
        let tmp = p.steps.caps_tmp.unwrap();
        assert!(tmp.effective.has(Cap::SETPCAP) && tmp.permitted.has(Cap::SETPCAP));
        assert_eq!(p.steps.caps_final, Some(CapState::empty()));
        assert_eq!(
            p.state.securebits,
            Some(Secbits::NOROOT | Secbits::NOROOT_LOCKED)
        );
    }

    #[test]
    fn nothing_declared_changes_nothing() {
        let p = plan_from(&Launch::new(), &root(), Cap::CHECKPOINT_RESTORE).unwrap();
        assert_eq!(
            p.steps,
            Steps {
                raise_setpcap: false,
                bounding_drop: CapSet::empty(),
                bounding_present: CapSet::empty(),
                ids: None,
                caps_tmp: None,
                ambient: None,
                securebits: None,
                caps_final: None,
                no_new_privs: false,
                expect_caps: None,
                expect_ambient: CapSet::empty(),
                last: Cap::CHECKPOINT_RESTORE,
            }
        );
    }
}
