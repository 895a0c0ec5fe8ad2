//! `capscope setcap` against libcap's `setcap`: what one writes, the other's getcap reads
//! identically, and the attribute bytes are the same; both accept and refuse the same
//! commands (symlinks, folders, FIFOs, missing files, bad texts, partial effective sets, bad
//! rootids, nothing to remove, no privilege), with the same exit status; `-v` prints the same.

mod common;

use std::io::Write;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use capscope::{CapState, FileCaps};
use common::{capscope, file, libcap, privileged, raw_xattr, root, run, tmpdir, tool, Ran};

/// `setcap ARGS` by libcap's tool or by capscope, with privilege, in `dir`.
fn setcap(ours: bool, dir: &Path, args: &[&str]) -> Ran {
    let mut cmd = if ours {
        let mut c = privileged(Path::new(env!("CARGO_BIN_EXE_capscope")));
        c.arg("setcap");
        c
    } else {
        privileged(&tool("setcap"))
    };
    run(cmd.current_dir(dir).args(args))
}

/// Texts worth writing; as root, rootids too (`-n`; a normal user's namespace maps no other
/// uid, so there the kernel refuses them for both tools).
fn cases() -> Vec<Vec<&'static str>> {
    let mut v: Vec<Vec<&str>> = [
        "cap_net_raw=ep",
        "cap_chown,cap_kill=eip",
        "=",
        "cap_sys_admin=i",
        "all=ep",
        "all=p cap_setfcap-p",
        "=e",
        "cap_chown=p cap_chown+ei",
        "41,63+p",
        "all+i 40-i",
        "cap_net_bind_service+ep",
        "CAP_NET_RAW=ep",
        "cap_chown=ep\tcap_kill+ep\n",
        "=p all-p cap_bpf+p",
    ]
    .iter()
    .map(|t| vec![*t])
    .collect();
    if root() {
        v.push(vec!["-n", "1000", "cap_chown=ep"]);
        v.push(vec!["-n", "0x3e8", "cap_kill=p"]);
        v.push(vec!["-n", "4294967294", "cap_net_admin=eip"]);
        v.push(vec!["-n", " +7", "cap_chown=i"]); // strtoul skips spaces and takes a plus
    }
    v
}

#[test]
fn both_write_the_same_bytes_and_read_each_other() {
    let d = tmpdir("setcap-write");
    for (k, args) in cases().iter().enumerate() {
        let (a, b) = (format!("theirs{k}"), format!("ours{k}"));
        file(&d, &a);
        file(&d, &b);
        let mut with = args.clone();
        with.push(&a);
        let theirs = setcap(false, &d, &with);
        *with.last_mut().unwrap() = &b;
        let ours = setcap(true, &d, &with);
        assert_eq!(
            (ours.status, &ours.stdout),
            (theirs.status, &theirs.stdout),
            "setcap {args:?}: ours {ours:?}, theirs {theirs:?}"
        );
        assert_eq!(theirs.status, Some(0), "setcap {args:?}: {theirs:?}");
        let (pa, pb) = (d.join(&a), d.join(&b));
        let bytes = raw_xattr(&pa);
        assert!(bytes.is_some(), "setcap {args:?} wrote nothing");
        assert_eq!(
            raw_xattr(&pb),
            bytes,
            "setcap {args:?}: attribute bytes differ"
        );
        // Each getcap reads both files, and reads them the same.
        for p in [&pa, &pb] {
            let theirs = run(libcap("getcap").arg("-n").arg(p));
            let ours = run(capscope().args(["getcap", "-n"]).arg(p));
            assert_eq!(ours, theirs, "{args:?}");
            assert!(
                theirs.stdout.starts_with(&p.display().to_string()),
                "{theirs:?}"
            );
        }
        // And -v agrees with what was written, for both tools.
        let mut verify = vec!["-v"];
        verify.extend(&args[..]);
        verify.push(&b);
        let theirs = setcap(false, &d, &verify);
        let ours = setcap(true, &d, &verify);
        assert_eq!(ours, theirs, "setcap -v {args:?}");
        // libcap compares the text's sets with its reading of the file, where the effective
        // set is all or nothing: "=e" (effective flag, nothing permitted) reads back as "=".
        let text: CapState = args.last().unwrap().parse().unwrap();
        let round_trip = FileCaps::from_state(&text).unwrap().to_state() == text;
        assert_eq!(
            ours.stdout == format!("{b}: OK\n"),
            round_trip,
            "{args:?}: {ours:?}"
        );
    }
    // Removal: both remove, then both refuse to remove what is not there.
    for ours in [false, true] {
        let f = if ours { "ours0" } else { "theirs0" };
        assert_eq!(setcap(ours, &d, &["-r", f]).status, Some(0));
        assert_eq!(raw_xattr(&d.join(f)), None);
        assert_eq!(setcap(ours, &d, &["-r", f]).status, Some(1));
    }
}

#[test]
fn both_refuse_the_same() {
    let d = tmpdir("setcap-refuse");
    let target = file(&d, "target");
    file(&d, "capped");
    symlink("target", d.join("link")).unwrap();
    std::fs::create_dir(d.join("dir")).unwrap();
    std::fs::create_dir(d.join("sub")).unwrap();
    file(&d.join("sub"), "f");
    symlink("sub", d.join("sublink")).unwrap();
    let fifo =
        std::ffi::CString::new(d.join("fifo").into_os_string().into_encoded_bytes()).unwrap();
    // SAFETY: a valid C path.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
    assert_eq!(setcap(false, &d, &["cap_kill=p", "capped"]).status, Some(0));
    let refused: &[&[&str]] = &[
        &["cap_chown=ep", "link"],
        &["-r", "link"],
        &["cap_chown=ep", "dir"],
        &["-r", "dir"],
        &["cap_chown=ep", "fifo"],
        &["cap_chown=ep", "missing"],
        &["cap_chown=ep", "target/x"],
        &["cap_chown=p cap_kill=eip", "target"],
        &["cap_kill=eip cap_chown=p", "target"],
        &["cap_chown=ep cap_kill=i", "target"],
        &["bogus", "target"],
        &["cap_chown", "target"],
        &["cap_chown=x", "target"],
        &["-n", "0", "cap_chown=ep", "target"],
        &["-n", "-5", "cap_chown=ep", "target"],
        &["-n", "12x", "cap_chown=ep", "target"],
        &["-n", "", "cap_chown=ep", "target"],
        &["-n"],
        &["cap_chown=ep"],
        &[],
        &["-r", "target"],
        &["-q", "-r", "target"],
        &["-v", "cap_chown=ep", "capped"],
        &["-v", "-r", "capped"],
        &["cap_chown=ep", "target", "-r", "target", "-r", "target"],
        &["cap_chown=ep", "CAP_NET_RAW=EP"],
        &["cap_chown=ep", "target", "cap_kill=p", "link"],
    ];
    for args in refused {
        let theirs = setcap(false, &d, args);
        let ours = setcap(true, &d, args);
        assert_eq!(theirs.status, Some(1), "setcap {args:?}: {theirs:?}");
        assert_eq!(ours.status, Some(1), "capscope setcap {args:?}: {ours:?}");
        assert_eq!(ours.stdout, theirs.stdout, "setcap {args:?}");
        assert!(
            !ours.stderr.is_empty() || !ours.stdout.is_empty(),
            "capscope setcap {args:?} said nothing"
        );
        // Nothing left behind by either (the last two write `target` first, as setcap does).
        let _ = setcap(false, &d, &["-r", "target"]);
        assert_eq!(raw_xattr(&target), None, "{args:?}");
        assert_eq!(raw_xattr(&d.join("link")), None, "{args:?}");
        assert_eq!(raw_xattr(&d.join("dir")), None, "{args:?}");
    }
    // The cause and the path are named.
    let r = setcap(true, &d, &["cap_chown=ep", "link"]);
    assert!(
        r.stderr.contains("link") && r.stderr.contains("symbolic link"),
        "{r:?}"
    );
    let r = setcap(true, &d, &["cap_chown=ep", "missing"]);
    assert!(
        r.stderr.contains("missing") && r.stderr.contains("No such file"),
        "{r:?}"
    );
    let r = setcap(true, &d, &["-r", "target"]);
    assert!(
        r.stderr.contains("target") && r.stderr.contains("no file capabilities"),
        "{r:?}"
    );
    // A symlink among the parent folders is followed by both.
    for ours in [false, true] {
        assert_eq!(
            setcap(ours, &d, &["cap_chown=ep", "sublink/f"]).status,
            Some(0)
        );
        assert!(raw_xattr(&d.join("sub/f")).is_some());
        assert_eq!(setcap(ours, &d, &["-r", "sublink/f"]).status, Some(0));
    }
    // -h: the usage, status 0; -v on a missing file compares with no capabilities.
    for args in [
        &["-h"][..],
        &["-v", "=", "missing"],
        &["-v", "-q", "cap_chown=p", "capped"],
    ] {
        let theirs = setcap(false, &d, args);
        let ours = setcap(true, &d, args);
        assert_eq!(
            (ours.status, &ours.stdout),
            (theirs.status, &theirs.stdout),
            "{args:?}"
        );
    }
}

/// Rootids setcap wraps into a uid_t (keeping the low 32 bits of `strtoul`'s answer) or
/// reads as negative: capscope refuses them, status 1 with the message of a bad rootid, and
/// writes nothing. (libcap's setcap writes `4294967296` as rootid 0, that is a capability for
/// every namespace, `4294967297` as 1, and ` -5` as 4294967291; 4294967295 it passes to the
/// kernel, which refuses it.)
#[test]
fn rootids_that_are_no_uid_are_refused() {
    let d = tmpdir("setcap-rootid");
    let target = file(&d, "target");
    for n in [
        "4294967295",
        "4294967296",
        "4294967297",
        "0x100000001",
        "18446744073709551615",
        "99999999999999999999",
        " -5",
        "\t-5",
        "-18446744073709551615",
        "-0",
        " 0",
    ] {
        let r = setcap(true, &d, &["-n", n, "cap_chown=ep", "target"]);
        assert_eq!(r.status, Some(1), "-n {n:?}: {r:?}");
        assert!(
            r.stderr.contains(&format!(
                "bad ns rootid: want a positive integer below 4294967295, got \"{n}\""
            )),
            "-n {n:?}: {r:?}"
        );
        assert_eq!(raw_xattr(&target), None, "-n {n:?}: something was written");
    }
    // The largest and the smallest, in every base strtoul reads (as root: a normal user's
    // namespace maps no other uid, so the kernel refuses them).
    if root() {
        for (n, want) in [("4294967294", -2), ("0xfffffffe", -2), ("1", 1), ("01", 1)] {
            let r = setcap(true, &d, &["-n", n, "cap_chown=ep", "target"]);
            assert_eq!(r.status, Some(0), "-n {n:?}: {r:?}");
            let got = run(capscope().args(["getcap", "-n"]).arg(&target));
            assert_eq!(
                got.stdout,
                format!("{} cap_chown=ep [rootid={want}]\n", target.display()),
                "-n {n:?}"
            );
            assert_eq!(setcap(true, &d, &["-r", "target"]).status, Some(0));
        }
    }
}

#[test]
fn text_from_standard_input() {
    let d = tmpdir("setcap-stdin");
    let (a, b) = (file(&d, "a"), file(&d, "b"));
    for (ours, f) in [(false, &a), (true, &b)] {
        let mut cmd = if ours {
            let mut c = privileged(Path::new(env!("CARGO_BIN_EXE_capscope")));
            c.arg("setcap");
            c
        } else {
            privileged(&tool("setcap"))
        };
        let mut child = cmd
            .args(["-q", "-"])
            .arg(f)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(b"cap_net_raw,cap_kill=ep\n")
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{out:?}");
    }
    assert!(raw_xattr(&a).is_some());
    assert_eq!(raw_xattr(&a), raw_xattr(&b));
    // Nothing on standard input: both print the usage and fail.
    let theirs = run(privileged(&tool("setcap")).args(["-q", "-"]).arg(&a));
    let ours = run(capscope().args(["setcap", "-q", "-"]).arg(&a));
    assert_eq!((ours.status, theirs.status), (Some(1), Some(1)));
}

#[test]
fn without_privilege_both_fail() {
    // Without CAP_SETFCAP (as nobody, outside any user namespace), both refuse before
    // touching anything.
    let d = tmpdir("setcap-nopriv");
    let f = file(&d, "f");
    let set = |program: PathBuf, sub: Option<&str>| {
        let mut cmd = if root() {
            let mut c = Command::new(tool("setpriv"));
            c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"]);
            c.arg(program);
            c
        } else {
            Command::new(program)
        };
        if let Some(s) = sub {
            cmd.arg(s);
        }
        run(cmd.arg("cap_chown=ep").arg(&f))
    };
    let theirs = set(tool("setcap"), None);
    let ours = set(
        PathBuf::from(env!("CARGO_BIN_EXE_capscope")),
        Some("setcap"),
    );
    assert_eq!(
        (theirs.status, ours.status),
        (Some(1), Some(1)),
        "{theirs:?} {ours:?}"
    );
    assert!(ours.stderr.contains("CAP_SETFCAP"), "{ours:?}");
    assert_eq!(raw_xattr(&f), None);
}
