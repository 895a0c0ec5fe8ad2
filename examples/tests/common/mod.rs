//! What the `cli_*` and example tests share: the built `capscope` binary and examples, libcap's
//! tools (found in `/usr/sbin` or `/sbin` even when they are not on `PATH`, by
//! [`capscope_tests::tool`]), running commands with or without privilege, and temporary
//! directories.

#![allow(dead_code)] // Each test binary uses its own part of this module.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

/// The `capscope` binary cargo built for these tests.
pub(crate) fn capscope() -> Command {
    let bin = env!("CARGO_BIN_EXE_capscope");
    assert!(
        Path::new(bin).is_file(),
        "the capscope binary is not at {bin}: run the tests with `cargo test`, which builds it"
    );
    Command::new(bin)
}

pub(crate) use capscope_tests::tool;

/// The example binary `name` that `cargo test` built next to this test
/// (`<target>/<profile>/examples/`), or beside the workspace's target folder when the test
/// binary runs from a copy (`.ci/unprivileged-tests`).
pub(crate) fn example_binary(name: &str) -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut candidates = Vec::new();
    if let Some(profile_dir) = exe.parent().and_then(|deps| deps.parent()) {
        candidates.push(profile_dir.join("examples").join(name));
    }
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    candidates.push(target.join(profile).join("examples").join(name));
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .ok_or_else(|| {
            format!(
                "the {name} example binary is not built (looked at {candidates:?}); run `cargo \
             test`, which builds it"
            )
        })
}

/// [`example_binary`], failing the test when it is not built.
pub(crate) fn example(name: &str) -> PathBuf {
    example_binary(name).unwrap_or_else(|e| panic!("{e}"))
}

/// libcap's tool `name` (`getcap`, `setcap`, `getpcaps`, `capsh`), from `libcap2-bin`, run
/// as `name` (its `argv[0]`, which getopt's messages show, is what a shell would give it).
pub(crate) fn libcap(name: &str) -> Command {
    let mut c = Command::new(tool(name));
    std::os::unix::process::CommandExt::arg0(&mut c, name);
    c
}

/// What a command did: exit status, standard output, standard error.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Ran {
    pub(crate) status: Option<i32>,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

/// Runs `cmd` (standard input empty unless set) and captures what it did.
pub(crate) fn run(cmd: &mut Command) -> Ran {
    let Output {
        status,
        stdout,
        stderr,
    } = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    Ran {
        status: status.code(),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

/// Whether this test runs as root with full privileges (else as a normal user, where
/// privileged commands run in a new user namespace).
pub(crate) fn root() -> bool {
    capscope_tests::is_privileged()
}

/// `program` with the privilege to set file capabilities: as it is for root, inside a new
/// user namespace (`unshare --user --map-root-user`) otherwise.
pub(crate) fn privileged(program: &Path) -> Command {
    if root() {
        Command::new(program)
    } else {
        let mut c = Command::new(tool("unshare"));
        c.args(["--user", "--map-root-user"]).arg(program);
        c
    }
}

/// `program` run by `setpriv` with `opts` (capabilities, securebits, ids), with the privilege
/// setpriv needs for them: directly as root, inside a new user namespace otherwise.
pub(crate) fn setpriv(opts: &[&str], program: &Path) -> Command {
    let setpriv = tool("setpriv");
    let mut c = privileged(&setpriv);
    c.args(opts).arg("--").arg(program);
    c
}

/// A directory removed when dropped, also when its test fails; readable by everyone.
pub(crate) struct TmpDir(pub(crate) PathBuf);

impl std::ops::Deref for TmpDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TmpDir {
    fn drop(&mut self) {
        // Give back search permission first, or the removal cannot enter the folders the
        // test closed.
        let _ = Command::new("chmod")
            .arg("-R")
            .arg("u+rwx")
            .arg(&self.0)
            .status();
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A fresh temporary directory.
pub(crate) fn tmpdir(tag: &str) -> TmpDir {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "capscope-cli-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir(&dir).unwrap_or_else(|e| panic!("cannot create {dir:?}: {e}"));
    std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    TmpDir(dir)
}

/// Creates the regular file `dir/name`.
pub(crate) fn file(dir: &Path, name: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, b"#!/bin/sh\n").unwrap_or_else(|e| panic!("cannot create {p:?}: {e}"));
    p
}

/// The raw `security.capability` attribute of `path` (not following a symlink), read with
/// libc, not through capscope.
pub(crate) fn raw_xattr(path: &Path) -> Option<Vec<u8>> {
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    let mut buf = [0u8; 64];
    // SAFETY: c is a C string, buf a writable buffer of the given length.
    let n = unsafe {
        libc::lgetxattr(
            c.as_ptr(),
            c"security.capability".as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    if n < 0 {
        let e = std::io::Error::last_os_error();
        assert_eq!(
            e.raw_os_error(),
            Some(libc::ENODATA),
            "lgetxattr({path:?}): {e}"
        );
        return None;
    }
    Some(buf[..n as usize].to_vec())
}

/// Runs libcap's tool and `capscope SUBCOMMAND` with the same arguments and asserts the same
/// exit status, standard output and standard error.
pub(crate) fn same(tool_name: &str, args: &[&OsStr]) -> Ran {
    let theirs = run(libcap(tool_name).args(args));
    let ours = run(capscope().arg(tool_name).args(args));
    assert_eq!(
        ours, theirs,
        "`{tool_name} {args:?}`: capscope (left) differs from libcap (right)"
    );
    ours
}
