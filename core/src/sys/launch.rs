//! The unsafe and `/proc` parts of `capscope::launch`: installing the child's steps as a
//! `pre_exec` hook, and reading a launched child's state from `/proc/<pid>` through a pidfd.

use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::process::CommandExt as _;

use rustix::fs::{Mode, OFlags};
use rustix::process::{Pid, PidfdFlags, WaitIdOptions};

use crate::error::{Error, Op, Result};
use crate::launch::child::Program;
use crate::launch::exec::ExecFile;
use crate::model::full::status_field;
use crate::FileCaps;

/// Has `cmd` run `program` in every child it spawns, between `fork` and `execve`; a failed
/// step becomes the error `spawn` returns (its OS error code carries the step, see
/// `launch::child`).
pub(crate) fn install(cmd: &mut std::process::Command, mut program: Program) {
    let hook = move || program.run().map_err(std::io::Error::from_raw_os_error);
    // SAFETY: `pre_exec` requires the closure to be async-signal-safe, since it runs in a child
    // forked from a possibly multi-threaded process, where another thread may have held any
    // lock (the allocator's included) at the moment of the fork. `Program::run` is: it makes raw
    // system calls through rustix (`thread::ops`, `thread::identity`), touches one atomic, and
    // reads or writes only buffers the parent allocated; it neither allocates nor frees nor
    // locks. `io::Error::from_raw_os_error` stores an integer without allocating. The closure
    // owns its buffers, so nothing it reads can be freed by the parent meanwhile (each child has
    // its own copy of the memory).
    unsafe {
        cmd.pre_exec(hook);
    }
}

/// A launched child, held through a pidfd, with its `/proc/<pid>` directory opened so that
/// every file read from it is that process's.
#[derive(Debug)]
pub(crate) struct ChildProc {
    pidfd: OwnedFd,
    dir: OwnedFd,
}

fn err(op: Op) -> impl Fn(rustix::io::Errno) -> Error {
    move |e| Error::os(op, e)
}

impl ChildProc {
    /// Opens child `pid`, which must not have been waited for.
    ///
    /// The pidfd is opened first, then `/proc/<n>`, where `n` is the number the pidfd's
    /// `fdinfo` gives the process in the PID namespace of the `/proc` in use (so a `/proc` of
    /// another namespace is read correctly, or refused). Then `waitid(P_PIDFD, WNOHANG |
    /// WNOWAIT)` checks that the process is still an unreaped child of this process: its pid
    /// was then never recycled, so the directory opened in between is that process's.
    pub(crate) fn open(pid: u32) -> Result<ChildProc> {
        const OP: Op = Op::VerifyLaunch;
        let raw = i32::try_from(pid)
            .ok()
            .and_then(Pid::from_raw)
            .ok_or_else(|| Error::invalid(OP, format!("{pid} is not a process id")))?;
        let pidfd =
            rustix::process::pidfd_open(raw, PidfdFlags::empty()).map_err(err(Op::VerifyLaunch))?;
        let fdinfo = std::fs::read_to_string(format!(
            "/proc/self/fdinfo/{}",
            std::os::fd::AsRawFd::as_raw_fd(&pidfd)
        ))
        .map_err(|e| {
            Error::refused(
                OP,
                format!("no usable /proc (reading the pidfd's fdinfo: {e}); mount one for this PID namespace"),
            )
        })?;
        let shown: i64 = status_field(&fdinfo, "Pid")
            .and_then(|p| p.parse().ok())
            .ok_or_else(|| Error::kernel(Op::ReadProc, "the pidfd's fdinfo has no Pid line"))?;
        if shown <= 0 {
            return Err(Error::refused(
                OP,
                format!(
                    "process {pid} is not visible in the /proc mounted here (fdinfo Pid: \
                     {shown}: it has been reaped, or this /proc belongs to another PID namespace)"
                ),
            ));
        }
        let path = format!("/proc/{shown}");
        let dir = rustix::fs::open(
            &path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| Error::os(Op::ReadProc, e).at_path(&path))?;
        let child = ChildProc { pidfd, dir };
        child.still_ours()?;
        Ok(child)
    }

    /// Checks that the process is still an unreaped child (running or a zombie).
    pub(crate) fn still_ours(&self) -> Result<()> {
        let options = WaitIdOptions::EXITED | WaitIdOptions::NOHANG | WaitIdOptions::NOWAIT;
        match rustix::process::waitid(rustix::process::WaitId::PidFd(self.pidfd.as_fd()), options) {
            Ok(_) => Ok(()),
            Err(rustix::io::Errno::CHILD) => Err(Error::refused(
                Op::VerifyLaunch,
                "the process is not an unreaped child of this process (something waited for it: \
                 verify before waiting, and reap children only through their handles)",
            )),
            Err(e) => Err(Error::os(Op::VerifyLaunch, e)),
        }
    }

    /// Returns once the process's `execve` has installed its new credentials.
    ///
    /// `spawn` returns when the child's close-on-exec descriptors are closed, which `execve`
    /// does *before* it commits the new credentials. Opening `/proc/<pid>/maps` takes the
    /// process's `exec_update_lock` (in `mm_access`), which `execve` holds from before it closes
    /// those descriptors until after it has committed the credentials; so once the open returns
    /// (with the file, or `EACCES` from the ptrace check made under the lock) they are in
    /// place. `ESRCH` and `ENOENT` mean the process is gone, which the reads after this report.
    pub(crate) fn wait_exec(&self) {
        drop(rustix::fs::openat(
            &self.dir,
            "maps",
            OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
        ));
    }

    /// The text of the process's `status` file.
    pub(crate) fn status(&self) -> Result<String> {
        let fd = rustix::fs::openat(
            &self.dir,
            "status",
            OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(err(Op::ReadProc))?;
        let mut text = String::new();
        std::fs::File::from(fd)
            .read_to_string(&mut text)
            .map_err(|e| Error::from_io(Op::ReadProc, &e))?;
        Ok(text)
    }

    /// What the program the process runs brings at `execve` (set-ID bits, file capabilities,
    /// a `nosuid` mount), from `/proc/<pid>/exe`; `None` when the process has exited (its
    /// executable is no longer linked to it).
    pub(crate) fn exe(&self) -> Result<Option<ExecFile>> {
        let fd = match rustix::fs::openat(
            &self.dir,
            "exe",
            OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
        ) {
            Ok(fd) => fd,
            Err(rustix::io::Errno::NOENT | rustix::io::Errno::SRCH) => return Ok(None),
            Err(e) => return Err(Error::os(Op::ReadProc, e).at_path("/proc/<pid>/exe")),
        };
        exec_file(&fd).map(Some)
    }
}

/// What the open executable `fd` brings at `execve`: set-ID bits, file capabilities, a
/// `nosuid` mount.
pub(crate) fn exec_file(fd: &OwnedFd) -> Result<ExecFile> {
    let st = rustix::fs::fstat(fd).map_err(err(Op::ReadProc))?;
    let vfs = rustix::fs::fstatvfs(fd).map_err(err(Op::ReadProc))?;
    let mode = st.st_mode;
    Ok(ExecFile {
        setuid: (mode & 0o4000 != 0).then_some(st.st_uid),
        setgid: (mode & 0o2010 == 0o2010).then_some(st.st_gid),
        caps: FileCaps::get_for_fd(fd)?,
        nosuid: vfs.f_flag.contains(rustix::fs::StatVfsMountFlags::NOSUID),
    })
}

/// The file `execvp` would run for `cmd` (its program, searched in the command's `PATH`, or
/// this process's, or `/bin:/usr/bin` as glibc does), opened; `None` when none is found or
/// the one found cannot be examined.
///
/// As `execvp`, the search skips what `execve` refuses with `ENOENT` or `EACCES`: a missing
/// file, anything but a regular file, a file without any execute permission bit (and a folder
/// that cannot be searched). Whether the child may execute a file its owner or group alone
/// may is not judged here (the child's ids are not the caller's): such a file is taken. A
/// file found that way but not readable by the caller (`EACCES`: `execve` does not need read
/// permission) gives `None`, not the next one on the path, which the child would not run.
pub(crate) fn open_program(cmd: &std::process::Command) -> Option<OwnedFd> {
    use std::os::unix::ffi::OsStrExt;
    use std::path::PathBuf;
    let program = cmd.get_program();
    let base = cmd
        .get_current_dir()
        .map(PathBuf::from)
        .or_else(|| std::env::current_dir().ok())?;
    let candidates: Vec<PathBuf> = if program.as_bytes().contains(&b'/') {
        vec![base.join(program)]
    } else {
        let path = cmd
            .get_envs()
            .find(|(k, _)| *k == "PATH")
            .map(|(_, v)| v.map(std::ffi::OsStr::to_os_string))
            .unwrap_or_else(|| std::env::var_os("PATH"))
            .unwrap_or_else(|| "/bin:/usr/bin".into());
        std::env::split_paths(&path)
            .map(|d| base.join(d).join(program))
            .collect()
    };
    for p in candidates {
        // What execve would refuse (ENOENT, EACCES), execvp skips.
        let Ok(st) = rustix::fs::stat(&p) else {
            continue;
        };
        if st.st_mode & 0o170000 != 0o100000 || st.st_mode & 0o111 == 0 {
            continue;
        }
        return match rustix::fs::open(&p, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()) {
            Ok(fd) => Some(fd),
            // Replaced meanwhile: as execvp would meet it.
            Err(rustix::io::Errno::NOENT) => continue,
            // The program execvp runs, but it cannot be examined (EACCES, ...).
            Err(_) => None,
        };
    }
    None
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    use std::process::Command;

    use super::open_program;

    fn ino(fd: &std::os::fd::OwnedFd) -> u64 {
        rustix::fs::fstat(fd).unwrap().st_ino
    }

    #[test]
    fn the_program_is_the_first_executable_file_on_the_path() {
        let dir =
            std::env::temp_dir().join(format!("capscope-open-program-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let [plain, folder, exec, later] = ["plain", "folder", "exec", "later"].map(|d| {
            let d = dir.join(d);
            std::fs::create_dir_all(&d).unwrap();
            d
        });
        let file = |d: &std::path::Path, mode: u32| {
            let p = d.join("prog");
            std::fs::write(&p, "#!/bin/sh\n").unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
            p
        };
        // Readable, not executable: execvp skips it (EACCES), and so must the lookup.
        file(&plain, 0o644);
        // A folder of that name: skipped too.
        std::fs::create_dir(folder.join("prog")).unwrap();
        let want = file(&exec, 0o755);
        file(&later, 0o755);
        let path =
            std::env::join_paths([&plain, &folder, &dir.join("missing"), &exec, &later]).unwrap();
        let mut cmd = Command::new("prog");
        cmd.env("PATH", &path);
        let fd = open_program(&cmd).expect("the executable file is found");
        assert_eq!(ino(&fd), std::fs::metadata(&want).unwrap().ino());
        // Executable but not readable (for a caller without CAP_DAC_OVERRIDE): the program
        // execvp runs cannot be examined, and the next one on the path is not it.
        std::fs::set_permissions(&want, std::fs::Permissions::from_mode(0o111)).unwrap();
        let readable = rustix::fs::access(&want, rustix::fs::Access::READ_OK).is_ok();
        match open_program(&cmd) {
            Some(fd) => {
                assert!(readable, "another file was taken");
                assert_eq!(ino(&fd), std::fs::metadata(&want).unwrap().ino());
            }
            None => assert!(!readable),
        }
        // Nothing executable at all.
        let mut none = Command::new("prog");
        none.env("PATH", std::env::join_paths([&plain, &folder]).unwrap());
        assert!(open_program(&none).is_none());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
