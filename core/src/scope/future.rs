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

use crate::guard::{RaiseGuard, RaiseMode};
use crate::{CapSet, Error, Result};

pin_project_lite::pin_project! {
    /// A future that raises `caps` into the effective set of the polling thread around each poll
    /// of the future it wraps.
    ///
    /// Its output is `Ok(inner output)`, or `Err` with [`Error::MissingCaps`] (or the `capget`/
    /// `capset` failure) when the capabilities cannot be raised at a poll: at the first one, the
    /// inner future is never polled; at a later one (the permitted set shrank meanwhile), it is
    /// not polled again and stays half-run (dropped with the `RaisedFuture`), and the error
    /// says so. It never runs a slice of the inner future without the capabilities.
    ///
    /// It is `Send` when the inner future is: no guard lives across polls.
    ///
    /// # Examples
    ///
    /// ```
    /// use capscope::{future::RaisedFuture, guard::RaiseMode, CapState};
    ///
    /// let permitted = CapState::get_current()?.permitted;
    /// let fut = RaisedFuture::new(permitted, RaiseMode::Add, "example", async { CapState::get_current() });
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
        #[pin]
        inner: F,
        caps: CapSet,
        mode: RaiseMode,
        function: &'static str,
        polled: bool,
    }
}

impl<F: Future> RaisedFuture<F> {
    /// Wraps `inner`: each of its polls runs with `caps` raised (the effective set exactly
    /// `caps` with [`RaiseMode::Exclusive`]); `function` names the scope in errors.
    pub fn new(caps: impl Into<CapSet>, mode: RaiseMode, function: &'static str, inner: F) -> Self {
        RaisedFuture {
            inner,
            caps: caps.into(),
            mode,
            function,
            polled: false,
        }
    }
}

impl<F: Future> Future for RaisedFuture<F> {
    type Output = Result<F::Output, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let guard = match RaiseGuard::enter(*this.caps, *this.mode, this.function) {
            Ok(g) => g,
            Err(e) if !*this.polled => return Poll::Ready(Err(e)),
            Err(e) => {
                return Poll::Ready(Err(Error::refused(
                    crate::Op::Raise,
                    format!(
                        "{}: the capabilities could not be raised again to resume the future, \
                         which was left half-run: {e}",
                        this.function
                    ),
                )))
            }
        };
        *this.polled = true;
        let out = this.inner.poll(cx);
        // Lowered before the poll returns; threads born during the poll were contained.
        drop(guard);
        out.map(Ok)
    }
}
