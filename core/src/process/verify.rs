//! What the broadcaster checks itself, after every thread has answered.
//!
//! Each thread verifies its own change: the handler runs
//! [`ops::apply`](crate::thread::ops::apply), which reads every part of the change back through
//! system calls on that thread (in parallel on every thread, not serially in the broadcaster),
//! and a thread whose read-back differs answers so. A thread listed in the last pass answered;
//! a thread born after it was born from a thread that had changed, and holds the new state by
//! inheritance. The one part a handler cannot read back with what fits on its stack is a list
//! of more than 32 supplementary groups: those lists are compared here, from the thread's
//! `status` file.

use crate::error::ThreadFailures;
use crate::model::full::status_numbers;
use crate::sys::proc::TaskDir;

use super::broadcast::Job;

use crate::thread::identity::GROUPS_ON_STACK;

/// For a group list too long for the handlers: compares each of `answered`'s groups with the
/// list asked (as a multiset), adding those that differ, or whose `status` cannot be read, to
/// `failures.unverified`. Threads that exited meanwhile are skipped.
pub(super) fn long_groups(
    job: &Job<'_>,
    tasks: &TaskDir,
    answered: &[u32],
    failures: &mut ThreadFailures,
) {
    let Some(want) = job.groups.filter(|g| g.len() > GROUPS_ON_STACK) else {
        return;
    };
    let mut want = want.to_vec();
    want.sort_unstable();
    for &tid in answered {
        let Some(text) = tasks.read(tid, "status") else {
            // Exited, or unreadable: only an exited thread is passed.
            if crate::sys::signal::tgkill(crate::sys::pid(), tid, 0)
                != Err(crate::error::Errno::SRCH)
            {
                failures.unverified.push(tid);
            }
            continue;
        };
        let same = status_numbers(&text, "Groups").is_some_and(|mut got| {
            got.sort_unstable();
            got == want
        });
        if !same {
            failures.unverified.push(tid);
        }
    }
}
