//! [`RaisedFuture`]: a future that raises capabilities around each poll of the future it wraps.
//!
//! An async body runs in slices, one per `poll`, possibly on different worker threads of a
//! multi-threaded runtime, with other tasks running on the same threads in between. Holding a
//! [`RaiseGuard`] across an `.await` would leave the capabilities raised for those other tasks
//! (and would make the future `!Send`). `RaisedFuture` instead raises before each poll of the
//! inner future and restores right after it, on whichever thread polls it, so the capabilities
//! are effective only while the body itself runs. This is what `#[requires_caps]` on an
//! `async fn` expands to.
//!
//! # References
//!
//! capabilities(7), capset(2)

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::guard::RaiseGuard;
use crate::{CapSet, Error, Result};

/// A future that raises `caps` into the effective set of the polling thread around each poll
/// of the future it wraps.
///
/// Its output is `Ok(inner output)`, or `Err` with [`Error::MissingCaps`] (or the `capget`/
/// `capset` failure) when the capabilities cannot be raised at the first poll, in which case
/// the inner future is never polled. If they can no longer be raised at a later poll (the
/// permitted set shrank meanwhile), the inner future cannot go on without them and cannot be
/// abandoned half-way silently: that poll panics with the error.
///
/// It is `Send` when the inner future is: no guard lives across polls.
///
/// # Examples
///
/// ```
/// use capscope::{future::RaisedFuture, CapState};
///
/// let permitted = CapState::get_current()?.permitted;
/// let fut = RaisedFuture::new(permitted, false, "example", async { CapState::get_current() });
/// // Any executor runs it; here a minimal one.
/// let waker = std::task::Waker::noop();
/// let mut cx = std::task::Context::from_waker(&waker);
/// let mut fut = std::pin::pin!(fut);
/// let std::task::Poll::Ready(out) = fut.as_mut().poll(&mut cx) else { unreachable!() };
/// assert_eq!(out??.effective, permitted);
/// # use std::future::Future;
/// # Ok::<(), capscope::Error>(())
/// ```
///
/// # References
///
/// capset(2)
#[derive(Debug)]
#[must_use = "futures do nothing unless polled"]
pub struct RaisedFuture<F> {
    inner: F,
    caps: CapSet,
    exclusive: bool,
    function: &'static str,
    polled: bool,
}

impl<F: Future> RaisedFuture<F> {
    /// Wraps `inner`: each of its polls runs with `caps` raised (the effective set exactly
    /// `caps` if `exclusive`); `function` names the scope in errors.
    pub fn new(caps: impl Into<CapSet>, exclusive: bool, function: &'static str, inner: F) -> Self {
        RaisedFuture {
            inner,
            caps: caps.into(),
            exclusive,
            function,
            polled: false,
        }
    }
}

impl<F: Future> Future for RaisedFuture<F> {
    type Output = Result<F::Output, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `inner` is structurally pinned: it is never moved out of `self`, and the
        // other fields are plain `Copy` data that are not pinned. `RaisedFuture` has no `Drop`
        // impl and is `Unpin` only if `F` is (auto trait).
        let this = unsafe { self.get_unchecked_mut() };
        let guard = match RaiseGuard::enter(this.caps, this.exclusive, this.function) {
            Ok(g) => g,
            Err(e) if !this.polled => return Poll::Ready(Err(e)),
            Err(e) => panic!(
                "{}: cannot raise the capabilities again to resume the future: {e}",
                this.function
            ),
        };
        this.polled = true;
        // SAFETY: see above; `inner` stays where it is.
        let inner = unsafe { Pin::new_unchecked(&mut this.inner) };
        let out = inner.poll(cx);
        drop(guard);
        out.map(Ok)
    }
}
