//! Blocking work of an annotated `async fn`, on tokio's blocking pool, with the scope's
//! capabilities (feature `tokio`).
//!
//! In an `async fn` annotated with `#[requires_caps]`, the capabilities are effective only while
//! the body itself runs: around each poll, on whichever worker thread polls it. Work the body
//! hands to *other* threads runs without them:
//!
//! | inside an annotated `async fn` | runs with the capabilities? |
//! |---|---|
//! | the body's own code, between `.await`s | yes |
//! | `tokio::task::block_in_place(f)`: `f` runs on the polling thread | yes (the worker it hands off to does not get them) |
//! | `tokio::task::spawn_blocking`, `tokio::fs::*`, `TcpListener::bind` with a host name (its DNS lookup is a blocking task) | **no**: the pool thread never has them (one born during the poll starts with them lowered) |
//! | `tokio::spawn(fut)` | no, unless `fut` is itself an annotated `async fn` |
//! | [`spawn_blocking`] and [`fs`] of this module | yes: raised on the pool thread around the closure only |
//!
//! So a `tokio::fs::read` of a file only `CAP_DAC_OVERRIDE` may read fails inside the scope,
//! and `capscope::tokio::fs::read` works; and no other task queued on the blocking pool ever
//! runs with the capability, during the scope or after it.
//!
//! # Examples
//!
//! ```no_run
//! # async fn doc() -> std::io::Result<()> {
//! #[capscope::requires_caps(dac_read_search)]
//! async fn read_shadow() -> std::io::Result<Vec<u8>> {
//!     // tokio::fs::read would run on the blocking pool without the capability.
//!     capscope::tokio::fs::read("/etc/shadow").await
//! }
//! let shadow = read_shadow().await?;
//! # let _ = shadow;
//! # Ok(())
//! # }
//! ```
//!
//! # References
//!
//! capabilities(7); tokio's `spawn_blocking` and `block_in_place`.

use std::io;

use crate::error::Result;
use crate::guard::{raised_on_this_thread, RaiseGuard, RaiseMode};

/// `tokio::task::spawn_blocking` with the capabilities the calling thread's scopes hold raised
/// now (the annotated `async fn` being polled): `f` runs on the blocking pool with them raised,
/// and they are lowered on the pool thread as soon as `f` returns or unwinds. Called outside any
/// scope, it is the plain `spawn_blocking`.
///
/// The task's output is `Err` when the capabilities cannot be raised on the pool thread (its
/// permitted set lacks them: a process-wide drop happened meanwhile); `f` does not run then.
///
/// # Thread scope
///
/// Raises the capabilities on the pool thread that runs `f`, for `f` only.
///
/// # Panics
///
/// As `tokio::task::spawn_blocking`: outside a tokio runtime.
///
/// # Examples
///
/// ```no_run
/// #[capscope::requires_caps(net_admin)]
/// async fn configure() -> capscope::Result<()> {
///     capscope::tokio::spawn_blocking(|| {
///         // a blocking netlink or ioctl call that needs CAP_NET_ADMIN
///     })
///     .await
///     .expect("the blocking task panicked")?;
///     Ok(())
/// }
/// ```
pub fn spawn_blocking<F, R>(f: F) -> ::tokio::task::JoinHandle<Result<R>>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let caps = raised_on_this_thread();
    ::tokio::task::spawn_blocking(move || {
        if caps.is_empty() {
            return Ok(f());
        }
        let _scope = RaiseGuard::enter(caps, RaiseMode::Add, "capscope::tokio::spawn_blocking")?;
        Ok(f())
    })
}

/// Runs `f` as [`spawn_blocking`] and waits for it, as `tokio::fs` does.
async fn blocking<F, R>(f: F) -> io::Result<R>
where
    F: FnOnce() -> io::Result<R> + Send + 'static,
    R: Send + 'static,
{
    match spawn_blocking(f).await {
        Ok(Ok(out)) => out,
        Ok(Err(e)) => Err(e.into()),
        Err(join) => Err(io::Error::other(join)),
    }
}

/// The file-system calls of `tokio::fs` most often needed with a capability, run as
/// [`spawn_blocking`]: on the blocking pool, with the calling scope's capabilities raised
/// around the call only.
///
/// # Examples
///
/// ```no_run
/// #[capscope::requires_caps(dac_override)]
/// async fn write_config(text: String) -> std::io::Result<()> {
///     capscope::tokio::fs::write("/etc/app/config", text).await
/// }
/// ```
pub mod fs {
    use std::fs::{Metadata, Permissions};
    use std::io;
    use std::path::Path;

    use super::blocking;

    /// `tokio::fs::read` with the scope's capabilities.
    ///
    /// # Errors
    ///
    /// As `std::fs::read`.
    pub async fn read(path: impl AsRef<Path>) -> io::Result<Vec<u8>> {
        let path = path.as_ref().to_owned();
        blocking(move || std::fs::read(path)).await
    }

    /// `tokio::fs::read_to_string` with the scope's capabilities.
    ///
    /// # Errors
    ///
    /// As `std::fs::read_to_string`.
    pub async fn read_to_string(path: impl AsRef<Path>) -> io::Result<String> {
        let path = path.as_ref().to_owned();
        blocking(move || std::fs::read_to_string(path)).await
    }

    /// `tokio::fs::write` with the scope's capabilities.
    ///
    /// # Errors
    ///
    /// As `std::fs::write`.
    pub async fn write(path: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> io::Result<()> {
        let (path, contents) = (path.as_ref().to_owned(), contents.as_ref().to_owned());
        blocking(move || std::fs::write(path, contents)).await
    }

    /// `tokio::fs::metadata` with the scope's capabilities.
    ///
    /// # Errors
    ///
    /// As `std::fs::metadata`.
    pub async fn metadata(path: impl AsRef<Path>) -> io::Result<Metadata> {
        let path = path.as_ref().to_owned();
        blocking(move || std::fs::metadata(path)).await
    }

    /// `tokio::fs::remove_file` with the scope's capabilities.
    ///
    /// # Errors
    ///
    /// As `std::fs::remove_file`.
    pub async fn remove_file(path: impl AsRef<Path>) -> io::Result<()> {
        let path = path.as_ref().to_owned();
        blocking(move || std::fs::remove_file(path)).await
    }

    /// `tokio::fs::create_dir_all` with the scope's capabilities.
    ///
    /// # Errors
    ///
    /// As `std::fs::create_dir_all`.
    pub async fn create_dir_all(path: impl AsRef<Path>) -> io::Result<()> {
        let path = path.as_ref().to_owned();
        blocking(move || std::fs::create_dir_all(path)).await
    }

    /// `tokio::fs::rename` with the scope's capabilities.
    ///
    /// # Errors
    ///
    /// As `std::fs::rename`.
    pub async fn rename(from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<()> {
        let (from, to) = (from.as_ref().to_owned(), to.as_ref().to_owned());
        blocking(move || std::fs::rename(from, to)).await
    }

    /// `tokio::fs::set_permissions` with the scope's capabilities.
    ///
    /// # Errors
    ///
    /// As `std::fs::set_permissions`.
    pub async fn set_permissions(path: impl AsRef<Path>, perm: Permissions) -> io::Result<()> {
        let path = path.as_ref().to_owned();
        blocking(move || std::fs::set_permissions(path, perm)).await
    }

    /// Opens a file for reading with the scope's capabilities (the permission check happens
    /// at open; reading the open file needs none).
    ///
    /// # Errors
    ///
    /// As `std::fs::File::open`.
    pub async fn open(path: impl AsRef<Path>) -> io::Result<::tokio::fs::File> {
        let path = path.as_ref().to_owned();
        blocking(move || std::fs::File::open(path))
            .await
            .map(::tokio::fs::File::from_std)
    }

    /// Creates (or truncates) a file for writing with the scope's capabilities.
    ///
    /// # Errors
    ///
    /// As `std::fs::File::create`.
    pub async fn create(path: impl AsRef<Path>) -> io::Result<::tokio::fs::File> {
        let path = path.as_ref().to_owned();
        blocking(move || std::fs::File::create(path))
            .await
            .map(::tokio::fs::File::from_std)
    }
}
