//! The `async_server` example binary, run for real in the four ways its documentation names:
//! as root; as a normal user holding `CAP_NET_BIND_SERVICE` as a file capability; as a normal
//! user holding it as an ambient capability; and as a normal user without it, which must fail
//! with capscope's message. Each run that serves happens in a forked child inside a new
//! network namespace (port 443 is free there, and the test connects from inside it), binds
//! 443, drops everything on every thread, and answers one connection.
//!
//! As root, the normal user is uid 65534, reached with `setpriv` (and `setcap` on a copy of
//! the binary for the file capability). In the unprivileged run of the tests (uid 65534, no
//! capability), the same four runs happen in new user namespaces: "root" is uid 0 of a user
//! namespace that owns the network namespace; the ambient capability is given to uid 1000 of
//! a user namespace where only 1000 is mapped (to the caller); the file capability is set from
//! inside a user namespace (the kernel writes a revision 3 attribute for its root) and the
//! binary runs there with the securebit `NOROOT`, so that uid 0 is an ordinary user to
//! `execve` and only the file grants anything (a second uid cannot be mapped without
//! privilege); without a capability, the binary runs as the caller.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use capscope_examples::quickstart::loopback_up;
use capscope_tests::{assert_pass, check, ensure, in_child, is_privileged, tool, Verdict};

/// How long the server may take to start listening, and then to finish.
const WAIT: Duration = Duration::from_secs(60);

fn binary() -> PathBuf {
    common::example("async_server")
}

/// In a forked, single-threaded child: a new network namespace with `lo` up; as a normal
/// user, inside a new user namespace first, where `inside_uid` (and the same gid) is the
/// caller's ids and the process holds every capability (until it runs a program).
/// `root` is [`is_privileged`] as it was before (inside, uid 0 of a new user namespace is
/// privileged too).
fn enter_namespaces(root: bool, inside_uid: u32) -> Verdict {
    let (uid, gid) = (
        rustix::process::getuid().as_raw(),
        rustix::process::getgid().as_raw(),
    );
    let userns = !root;
    let mut flags = rustix::thread::UnshareFlags::NEWNET;
    if userns {
        flags |= rustix::thread::UnshareFlags::NEWUSER;
    }
    // SAFETY: no FILES flag; the forked child is single-threaded, as CLONE_NEWUSER requires.
    check!(unsafe { rustix::thread::unshare_unsafe(flags) });
    if userns {
        check!(std::fs::write("/proc/self/setgroups", "deny"));
        check!(std::fs::write(
            "/proc/self/uid_map",
            format!("{inside_uid} {uid} 1")
        ));
        check!(std::fs::write(
            "/proc/self/gid_map",
            format!("{inside_uid} {gid} 1")
        ));
    }
    check!(loopback_up());
    Ok(())
}

/// What a serving run printed, after the test connected once.
struct Served {
    stdout: String,
    reply: String,
}

/// Starts `cmd` (the server with `--connections 1`), waits for its `listening` line,
/// connects to port 443, sends a line, reads the reply, and waits for the server to exit 0.
fn serve_once(mut cmd: Command) -> Result<Served, String> {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut lines = Vec::new();
    let listening = loop {
        match rx.recv_timeout(WAIT) {
            Ok(l) => {
                let done = l.starts_with("5. listening on ");
                lines.push(l);
                if done {
                    break true;
                }
            }
            Err(_) => break false,
        }
    };
    if !listening {
        let _ = child.kill();
        let mut err = String::new();
        if let Some(mut e) = child.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        let status = child.wait().map_err(|e| e.to_string())?;
        return Err(format!(
            "{cmd:?} did not listen ({status}):\n{}\nstderr: {err}",
            lines.join("\n")
        ));
    }
    let mut conn = TcpStream::connect(("127.0.0.1", 443)).map_err(|e| format!("connect: {e}"))?;
    conn.set_read_timeout(Some(WAIT))
        .map_err(|e| e.to_string())?;
    conn.write_all(b"ping\n").map_err(|e| e.to_string())?;
    let mut reply = String::new();
    conn.read_to_string(&mut reply)
        .map_err(|e| format!("reading the reply: {e}"))?;
    let status = child.wait().map_err(|e| e.to_string())?;
    let _ = reader.join();
    lines.extend(rx.try_iter());
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    let stdout = lines.join("\n");
    if !status.success() {
        return Err(format!(
            "{cmd:?} failed ({status}):\n{stdout}\nstderr: {err}"
        ));
    }
    Ok(Served { stdout, reply })
}

/// What every serving run must show, whoever runs it: the capability raised inside `bind`
/// only, every thread at zero after the drop, one connection served.
fn check_served(s: &Served, start: &str, drop: &str) -> Verdict {
    let out = &s.stdout;
    ensure!(out.contains(start), "no {start:?} in:\n{out}");
    ensure!(
        out.contains("1. after manifest::restrict_to (every thread): permitted = ")
            && out.contains("effective = (none)\n2."),
        "the effective set was not empty after restrict:\n{out}"
    );
    ensure!(
        out.contains("effective = cap_net_bind_service\n   back in main: effective = (none)"),
        "the capability was not raised inside bind only:\n{out}"
    );
    ensure!(out.contains(drop), "no {drop:?} in:\n{out}");
    let threads: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("4. thread "))
        .collect();
    ensure!(
        threads.len() >= 2,
        "expected the main thread and tokio's workers:\n{out}"
    );
    for t in &threads {
        ensure!(
            t.ends_with("CapEff 0000000000000000 CapPrm 0000000000000000 CapAmb 0000000000000000"),
            "a thread kept a capability: {t}\n{out}"
        );
    }
    ensure!(
        out.contains(&format!(
            "no capability on any of the {} threads",
            threads.len()
        )),
        "{out}"
    );
    ensure!(out.contains("5. listening on 127.0.0.1:443"), "{out}");
    ensure!(out.contains("done: served 1 connection(s)"), "{out}");
    ensure!(
        s.reply.starts_with("hello from 127.0.0.1:")
            && s.reply.ends_with(&format!(
                "no capability on any of {} threads; you said \"ping\"\n",
                threads.len()
            )),
        "reply {:?}",
        s.reply
    );
    Ok(())
}

fn server(program: &Path) -> Command {
    let mut c = Command::new(program);
    c.args(["--connections", "1"]);
    c
}

/// `setpriv OPTS -- program --connections 1`.
fn setpriv(opts: &[&str], program: &Path) -> Command {
    let mut c = Command::new(tool("setpriv"));
    c.args(opts)
        .arg("--")
        .arg(program)
        .args(["--connections", "1"]);
    c
}

const AS_NOBODY: [&str; 3] = ["--reuid=65534", "--regid=65534", "--clear-groups"];

/// A copy of the binary, in a fresh folder everyone can enter, that can be given file
/// capabilities without touching the build.
struct Copy(PathBuf);

impl Copy {
    fn new() -> Result<Copy, String> {
        let dir =
            std::env::temp_dir().join(format!("capscope-async-server-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).map_err(|e| format!("{dir:?}: {e}"))?;
        let bin = dir.join("async_server");
        std::fs::copy(binary(), &bin).map_err(|e| format!("copy to {bin:?}: {e}"))?;
        for (p, mode) in [(&dir, 0o755), (&bin, 0o755)] {
            std::fs::set_permissions(p, std::os::unix::fs::PermissionsExt::from_mode(mode))
                .map_err(|e| format!("chmod {p:?}: {e}"))?;
        }
        Ok(Copy(bin))
    }

    fn setcap(&self, text: &str) -> Verdict {
        let out = check!(Command::new(tool("setcap")).arg(text).arg(&self.0).output());
        ensure!(
            out.status.success(),
            "setcap {text} {:?}: {}",
            self.0,
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(())
    }
}

impl Drop for Copy {
    fn drop(&mut self) {
        if let Some(dir) = self.0.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

#[test]
fn as_root_it_binds_drops_on_every_thread_and_serves() {
    let root = is_privileged();
    assert_pass(in_child(|| {
        enter_namespaces(root, 0)?;
        let s = check!(serve_once(server(&binary())));
        check_served(
            &s,
            "0. start: ",
            "3. process::drop_all (bounding set too, no_new_privs)",
        )?;
        let start = s.stdout.lines().next().unwrap_or_default();
        ensure!(
            start.contains(" capabilities, effective = ") && start.ends_with(" capabilities"),
            "root (of the initial or a new user namespace) starts with every capability: {start}"
        );
        Ok(())
    }));
}

#[test]
fn a_normal_user_with_the_file_capability_serves() {
    let root = is_privileged();
    assert_pass(in_child(|| {
        enter_namespaces(root, 0)?;
        let copy = Copy::new()?;
        // Permitted, not effective: capscope raises it inside `bind` only.
        copy.setcap("cap_net_bind_service=p")?;
        let cmd = if root {
            setpriv(&AS_NOBODY, &copy.0)
        } else {
            // uid 0 of the user namespace is an ordinary user to execve with NOROOT: only the
            // file capability grants anything.
            setpriv(&["--securebits=+noroot"], &copy.0)
        };
        let s = check!(serve_once(cmd));
        check_served(
            &s,
            "permitted = cap_net_bind_service, effective = (none)\n1.",
            "3. process::drop_all (no_new_privs)",
        )
    }));
}

#[test]
fn a_normal_user_with_the_ambient_capability_serves() {
    let root = is_privileged();
    assert_pass(in_child(|| {
        // As a normal user: uid 1000 of a new user namespace, not its root.
        enter_namespaces(root, 1000)?;
        let cmd = if root {
            let ambient = [
                "--inh-caps=+net_bind_service",
                "--ambient-caps=+net_bind_service",
            ];
            setpriv(&[&AS_NOBODY[..], &ambient[..]].concat(), &binary())
        } else {
            // What setpriv would do, here: uid 1000 is not root, so a program run to do it
            // (setpriv) would start with no capability to raise.
            ensure!(rustix::process::getuid().as_raw() == 1000);
            check!(capscope::cap_inheritable().add(capscope::Cap::NET_BIND_SERVICE));
            check!(capscope::ambient::raise(capscope::Cap::NET_BIND_SERVICE));
            server(&binary())
        };
        let s = check!(serve_once(cmd));
        check_served(
            &s,
            "permitted = cap_net_bind_service, effective = cap_net_bind_service",
            "3. process::drop_all (no_new_privs)",
        )
    }));
}

#[test]
fn a_normal_user_without_the_capability_is_told_how_to_grant_it() {
    let mut cmd = if is_privileged() {
        setpriv(&AS_NOBODY, &binary())
    } else {
        server(&binary())
    };
    let out = cmd.output().expect("cannot run the async_server example");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("permitted = (none), effective = (none)") && !stdout.contains("listening"),
        "{stdout}"
    );
    for part in [
        "async_server: async_server::bind needs cap_net_bind_service, missing from the permitted set",
        "setcap cap_net_bind_service+p /path/to/program",
        "--ambient-caps=+net_bind_service",
    ] {
        assert!(stderr.contains(part), "no {part:?} in {stderr}");
    }
}
