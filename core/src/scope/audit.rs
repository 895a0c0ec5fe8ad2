//! Audit events (feature `tracing`): the events the crate docs list (section "Audit events"),
//! emitted under the target `capscope::audit`. Without the feature, every function here is an
//! empty inline function: nothing is compiled in. With it and no subscriber listening, each
//! event costs tracing's check of its callsite (one load), and a scope reads no clock.

#[cfg(not(feature = "tracing"))]
use crate::CapSet;

#[cfg(feature = "tracing")]
mod on {
    use std::time::Instant;

    use tracing::{event, Level};

    use crate::CapSet;

    const TARGET: &str = "capscope::audit";

    fn tid() -> u32 {
        crate::current_tid()
    }

    /// When a scope started, for its `held_us`: read only when a subscriber listens to the
    /// scope events (no clock read otherwise).
    #[derive(Clone, Copy, Debug)]
    pub(crate) struct Since(Option<Instant>);

    pub(crate) fn raise(function: &'static str, caps: CapSet, raised: CapSet) -> Since {
        event!(target: TARGET, Level::DEBUG, event = "raise", function, caps = %caps, raised = %raised, tid = tid());
        Since(tracing::enabled!(target: TARGET, Level::DEBUG).then(Instant::now))
    }

    pub(crate) fn restore(function: &'static str, caps: CapSet, lowered: CapSet, since: Since) {
        let Some(start) = since.0 else { return };
        let held_us = u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX);
        event!(target: TARGET, Level::DEBUG, event = "restore", function, caps = %caps, lowered = %lowered, held_us, tid = tid());
    }

    pub(crate) fn refuse(function: &'static str, missing: CapSet) {
        event!(target: TARGET, Level::WARN, event = "refuse", function, missing = %missing, tid = tid());
    }

    pub(crate) fn drop(op: crate::Op, spec: &crate::thread::ops::DropSpec, threads: usize) {
        event!(
            target: TARGET,
            Level::INFO,
            event = "drop",
            op = %op,
            keep = %spec.keep,
            bounding = spec.bounding,
            no_new_privs = spec.no_new_privs,
            uid = ?spec.uid,
            gid = ?spec.gid,
            threads,
            tid = tid()
        );
    }

    #[cfg_attr(not(feature = "contain"), allow(dead_code))]
    pub(crate) fn contain(lowered: CapSet) {
        event!(target: TARGET, Level::DEBUG, event = "contain", lowered = %lowered, tid = tid());
    }

    pub(crate) fn lower_strays(caps: CapSet, threads: &[u32]) {
        event!(target: TARGET, Level::WARN, event = "lower_strays", caps = %caps, threads = ?threads, tid = tid());
    }

    pub(crate) fn process(op: crate::Op, report: &crate::process::Report) {
        event!(
            target: TARGET,
            Level::INFO,
            event = "process",
            op = %op,
            threads = report.threads,
            signalled = report.signalled,
            passes = report.passes,
            io_threads = ?report.io_threads,
            tid = tid()
        );
    }
}

#[cfg(feature = "tracing")]
pub(crate) use on::*;

/// When a scope started (nothing without the feature).
#[cfg(not(feature = "tracing"))]
#[derive(Clone, Copy, Debug)]
pub(crate) struct Since;

#[cfg(not(feature = "tracing"))]
#[inline(always)]
pub(crate) fn raise(_function: &'static str, _caps: CapSet, _raised: CapSet) -> Since {
    Since
}

#[cfg(not(feature = "tracing"))]
#[inline(always)]
pub(crate) fn restore(_function: &'static str, _caps: CapSet, _lowered: CapSet, _since: Since) {}

#[cfg(not(feature = "tracing"))]
#[inline(always)]
pub(crate) fn refuse(_function: &'static str, _missing: CapSet) {}

#[cfg(not(feature = "tracing"))]
#[inline(always)]
pub(crate) fn drop(_op: crate::Op, _spec: &crate::thread::ops::DropSpec, _threads: usize) {}

#[cfg(not(feature = "tracing"))]
#[cfg_attr(not(feature = "contain"), allow(dead_code))]
#[inline(always)]
pub(crate) fn contain(_lowered: CapSet) {}

#[cfg(not(feature = "tracing"))]
#[inline(always)]
pub(crate) fn lower_strays(_caps: CapSet, _threads: &[u32]) {}

#[cfg(not(feature = "tracing"))]
#[inline(always)]
pub(crate) fn process(_op: crate::Op, _report: &crate::process::Report) {}
