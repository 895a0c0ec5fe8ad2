//! The broadcaster's own check, after every thread has answered.
//!
//! Each thread has already read its own state back through system calls (the handler runs
//! [`ops::apply`](crate::thread::ops::apply), which verifies every part of the change). The
//! broadcaster then cross-checks every thread's capability sets from outside with
//! `capget(tid)`: a thread listed now that was never signalled (born during the broadcast from
//! a thread that had changed) is checked this way too. Nothing here reads `/proc` in the
//! common case; group lists too long for a handler's stack are compared from the thread's
//! `status` file.

use crate::error::{Errno, Result, ThreadFailures};
use crate::model::full::status_field;
use crate::sys::proc::TaskDir;
use crate::thread::ops::Change;
use crate::CapState;

use super::broadcast::{Job, Target};

/// What `change` leaves in a thread's effective, permitted and inheritable sets, as far as
/// `capget` shows it. The effective set a `SetCaps` asked for was read back by the thread itself
/// when it made the change; afterwards a scope of that thread may legitimately raise or lower
/// capabilities of its permitted set, so from outside only the permitted and inheritable sets
/// are compared.
fn caps_ok(change: &Change, caps: CapState) -> bool {
    match *change {
        Change::SetCaps(want) => {
            caps.permitted == want.permitted
                && caps.inheritable == want.inheritable
                && caps.effective.is_subset(want.permitted)
        }
        Change::SetIds {
            preserve_effective: false,
            ..
        } => caps.effective.is_empty(),
        Change::DropAll(spec) => {
            caps.effective.is_empty()
                && caps.inheritable.is_empty()
                && caps.permitted.is_subset(spec.keep)
        }
        Change::LowerEffective(mask) => caps.effective.intersection(mask).is_empty(),
        _ => true,
    }
}

/// The numbers of a `status` field such as `Groups`.
fn numbers(text: &str, name: &str) -> Option<Vec<u32>> {
    status_field(text, name)?
        .split_ascii_whitespace()
        .map(|n| n.parse().ok())
        .collect()
}

/// Whether thread `tid`'s groups are `want` (as a multiset), from its `status` file.
fn groups_ok(tasks: &TaskDir, tid: u32, want: &[u32]) -> Option<bool> {
    let text = tasks.read(tid, "status")?;
    let mut got = numbers(&text, "Groups")?;
    let mut want = want.to_vec();
    got.sort_unstable();
    want.sort_unstable();
    Some(got == want)
}

/// How many groups a handler compares itself (see `identity::verify_on_stack`).
const GROUPS_ON_STACK: usize = 256;

/// Checks every thread now (or the targeted ones), adding those not as asked to
/// `failures.unverified`. Returns how many threads were checked. Threads that exited meanwhile
/// are not counted, nor kernel io threads.
pub(super) fn cross_check(
    job: &Job<'_>,
    tasks: &TaskDir,
    failures: &mut ThreadFailures,
) -> Result<usize> {
    let tids = match job.target {
        Target::All => tasks.list_settled()?,
        Target::Only(t) => t.to_vec(),
    };
    let long_groups = job.groups.filter(|g| g.len() > GROUPS_ON_STACK);
    // Threads already named did not make the change: they are reported as they are.
    let named: Vec<u32> = failures
        .blocked
        .iter()
        .chain(&failures.unanswered)
        .chain(&failures.queue_full)
        .chain(&failures.unverified)
        .copied()
        .chain(failures.failed.iter().map(|f| f.0))
        .collect();
    let mut checked = 0;
    for tid in tids {
        if named.contains(&tid) {
            continue;
        }
        let caps = match CapState::get_for_pid(tid) {
            Ok(c) => c,
            Err(e) if e.errno() == Some(Errno::SRCH) => continue, // exited
            Err(e) => return Err(e),
        };
        let mut good = caps_ok(&job.change, caps);
        if good {
            if let Some(want) = long_groups {
                match groups_ok(tasks, tid, want) {
                    Some(ok) => good = ok,
                    None => continue, // exited
                }
            }
        }
        if !good {
            match tasks.status(tid) {
                // Exited meanwhile (a zombie main thread keeps its old credentials), or a
                // kernel io thread (reported apart).
                None => continue,
                Some(s) if s.zombie || s.io_thread => continue,
                Some(_) => failures.unverified.push(tid),
            }
        }
        checked += 1;
    }
    Ok(checked)
}
