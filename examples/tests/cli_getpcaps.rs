//! `capscope getpcaps` against libcap's `getpcaps` on live processes with known capability
//! states (started by `setpriv`: inheritable and ambient capabilities, a reduced bounding set,
//! none at all), in every output format, and on pids that do not parse or do not exist.

mod common;

use std::ffi::OsStr;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use common::{root, same, setpriv, tool};

/// Children killed and reaped when the test ends, whatever happens.
struct Kids(Vec<Child>);

impl Drop for Kids {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Starts `cmd` (which ends by running `sleep`) and waits until `sleep` runs, so that every
/// capability change before it has happened.
fn start(kids: &mut Kids, mut cmd: Command) -> String {
    let child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let pid = child.id();
    kids.0.push(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .ok()
        .as_deref()
        != Some("sleep\n")
    {
        assert!(Instant::now() < deadline, "{cmd:?} did not reach sleep");
        std::thread::sleep(Duration::from_millis(2));
    }
    pid.to_string()
}

#[test]
fn live_processes_in_every_format() {
    let sleep = tool("sleep");
    let mut kids = Kids(Vec::new());
    let with_sleep = |opts: &[&str]| {
        let mut c = setpriv(opts, &sleep);
        c.arg("30");
        c
    };
    let plain = start(&mut kids, {
        let mut c = Command::new(&sleep);
        c.arg("30");
        c
    });
    let ambient = start(
        &mut kids,
        with_sleep(&["--inh-caps=+net_raw,+kill", "--ambient-caps=+net_raw"]),
    );
    let bounded = start(
        &mut kids,
        with_sleep(&["--bounding-set=-sys_admin,-net_admin", "--inh-caps=+chown"]),
    );
    let mut pids = vec![plain.clone(), ambient.clone(), bounded.clone()];
    if root() {
        pids.push(start(
            &mut kids,
            with_sleep(&["--reuid=65534", "--regid=65534", "--clear-groups"]),
        ));
    }
    let pids: Vec<&OsStr> = pids.iter().map(OsStr::new).collect();
    let with = |opts: &[&'static str]| -> Vec<&OsStr> {
        let mut v: Vec<&OsStr> = opts.iter().map(|o| OsStr::new(*o)).collect();
        v.extend(&pids);
        v
    };
    let r = same("getpcaps", &with(&[]));
    let amb_line = r
        .stdout
        .lines()
        .find(|l| l.starts_with(&format!("{ambient}: ")))
        .unwrap_or_else(|| panic!("no line for {ambient} in {}", r.stdout));
    assert!(amb_line.contains("cap_net_raw"), "{amb_line}");
    same("getpcaps", &with(&["--verbose"]));
    let r = same("getpcaps", &with(&["--legacy"]));
    assert!(
        r.stderr.contains(&format!("Capabilities for `{plain}': ")),
        "{r:?}"
    );
    let r = same("getpcaps", &with(&["--iab"]));
    assert!(r.stdout.contains("^cap_net_raw"), "{r:?}");
    assert!(r.stdout.contains("!cap_sys_admin"), "{r:?}");
    same("getpcaps", &with(&["--iab", "--verbose"]));
    same("getpcaps", &with(&["--ugly", "--iab"]));
    // Options apply from where they are.
    same(
        "getpcaps",
        &[
            OsStr::new(&plain),
            OsStr::new("--verbose"),
            OsStr::new(&ambient),
            OsStr::new("--iab"),
            OsStr::new(&bounded),
        ],
    );
}

#[test]
fn bad_and_missing_pids() {
    let me = std::process::id().to_string();
    for args in [
        &[
            "x",
            "-5",
            "99999999999999999999",
            "1 ",
            "0x10",
            "",
            "   ",
            "+",
        ][..],
        &["2147483647", "2147483648", "-0"],
        &[&format!("+{me}"), &format!(" {me}")],
        &["--iab", "2147483647", &me],
        &["--iab", ""],
        &["--help"],
        &["-h", "1"],
        &["--usage"],
        &[],
    ] {
        let args: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
        same("getpcaps", &args);
    }
}
