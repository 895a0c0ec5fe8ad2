//! A declared privilege state for the children of a [`tokio::process::Command`] (feature
//! `tokio`): the same [`Launch`], [`Plan`] and child steps as for std's command (see the
//! [`launch`](super) module), through tokio's `as_std_mut`.
//!
//! # Examples
//!
//! ```no_run
//! use capscope::launch::{tokio::CommandExt, Launch};
//!
//! async fn start() -> Result<(), capscope::Error> {
//!     let plan = Launch::new().no_new_privs().plan()?;
//!     let mut child = tokio::process::Command::new("/bin/true")
//!         .declare(&plan)
//!         .spawn_declared()?;
//!     plan.verify_pid(child.id().expect("not yet waited for"))?;
//!     child.wait().await.map_err(capscope::launch::spawn_error)?;
//!     Ok(())
//! }
//! ```

use tokio::process::{Child, Command};

use super::{spawn_error, Launch, Plan};
use crate::error::Result;

/// [`launch::CommandExt`](super::CommandExt) for [`tokio::process::Command`].
pub trait CommandExt {
    /// Has every child this command spawns apply `plan` between `fork` and `execve`; declare
    /// once per command (see [`launch::CommandExt::declare`](super::CommandExt::declare)).
    fn declare(&mut self, plan: &Plan) -> &mut Self;

    /// Spawns as tokio's `spawn` does, with a failed step of the declared state as an
    /// [`Error`](crate::Error) naming it (see [`spawn_error`]).
    ///
    /// # Errors
    ///
    /// As [`spawn_error`] describes.
    fn spawn_declared(&mut self) -> Result<Child>;

    /// Checks `state` against the calling thread ([`Launch::plan`]), declares it and spawns.
    ///
    /// # Errors
    ///
    /// As [`Launch::plan`] (nothing is started), then as [`spawn_error`].
    fn launch(&mut self, state: &Launch) -> Result<Child> {
        let plan = state.plan()?;
        self.declare(&plan).spawn_declared()
    }
}

impl CommandExt for Command {
    fn declare(&mut self, plan: &Plan) -> &mut Command {
        super::CommandExt::declare(self.as_std_mut(), plan);
        self
    }

    fn spawn_declared(&mut self) -> Result<Child> {
        self.spawn().map_err(spawn_error)
    }
}
