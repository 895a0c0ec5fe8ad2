//! `capscope getcap` against libcap's `getcap` on a generated tree: files with various
//! capabilities (revision 3 with a rootid included), symlinks (to files, to folders, dangling),
//! folders (empty, unreadable, readable but not searchable), a FIFO, a socket; recursively and
//! not, with and without `-v` and `-n`, missing paths and bad options. Standard output,
//! standard error and exit status must be identical.

mod common;

use std::ffi::OsStr;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};

use common::{file, libcap, privileged, root, run, same, tmpdir, tool, TmpDir};

/// The tree, with its capabilities set by libcap's own setcap.
fn corpus() -> (TmpDir, Option<u32>) {
    let d = tmpdir("getcap");
    for f in ["plain", "ping", "inh", "all", "hi", "v3", "sp ace"] {
        file(&d, f);
    }
    std::fs::create_dir_all(d.join("sub/deeper")).unwrap();
    std::fs::create_dir(d.join("emptydir")).unwrap();
    std::fs::create_dir(d.join("noperm")).unwrap();
    std::fs::create_dir(d.join("rnox")).unwrap();
    for f in ["sub/deeper/f", "sub/g", "noperm/f", "rnox/f"] {
        file(&d, f);
    }
    symlink("ping", d.join("link")).unwrap();
    symlink("sub", d.join("dlink")).unwrap();
    symlink("nowhere", d.join("broken")).unwrap();
    let fifo =
        std::ffi::CString::new(d.join("fifo").into_os_string().into_encoded_bytes()).unwrap();
    // SAFETY: a valid C path.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
    let _sock = std::os::unix::net::UnixListener::bind(d.join("sock")).unwrap();

    let setcap = tool("setcap");
    let pairs: &[(&str, &str)] = &[
        ("cap_net_raw=ep", "ping"),
        ("cap_chown+i", "inh"),
        ("=ep", "all"),
        ("41,63+p", "hi"),
        ("cap_kill=ep", "sub/deeper/f"),
        ("cap_sys_admin=eip", "sub/g"),
        ("cap_setuid=p", "noperm/f"),
        ("cap_setgid=p", "rnox/f"),
        ("cap_fowner=i", "sp ace"),
    ];
    let mut cmd = privileged(&setcap);
    cmd.current_dir(&*d);
    for (text, f) in pairs {
        cmd.args([text, f]);
    }
    let r = run(&mut cmd);
    assert_eq!(r.status, Some(0), "setcap: {r:?}");
    // Revision 3 with a rootid: as root, `setcap -n` from inside a user namespace that maps
    // uids 0..65536 (and one rootid that prints as a negative number, from the initial
    // namespace); as a normal user, what the kernel writes for a user namespace's root.
    let rootid = if root() {
        capscope_tests::assert_pass(capscope_tests::in_userns_mapped(65536, || {
            let r = run(libcap("setcap")
                .args(["-n", "1000", "cap_net_admin=p"])
                .arg(d.join("v3")));
            capscope_tests::ensure!(r.status == Some(0), "setcap -n in a user namespace: {r:?}");
            Ok(())
        }));
        file(&d, "neg");
        let r = run(libcap("setcap")
            .args(["-n", "4294967294", "cap_chown=ep"])
            .arg(d.join("neg")));
        assert_eq!(r.status, Some(0), "{r:?}");
        Some(1000)
    } else {
        let r = run(privileged(&setcap).arg("cap_net_admin=p").arg(d.join("v3")));
        assert_eq!(r.status, Some(0), "setcap in a user namespace: {r:?}");
        // SAFETY: no preconditions.
        Some(unsafe { libc::geteuid() })
    };
    std::fs::set_permissions(d.join("noperm"), std::fs::Permissions::from_mode(0o0)).unwrap();
    std::fs::set_permissions(d.join("rnox"), std::fs::Permissions::from_mode(0o644)).unwrap();
    (d, rootid)
}

fn os(p: &Path) -> &OsStr {
    p.as_os_str()
}

#[test]
fn recursive_walks_match() {
    let (d, rootid) = corpus();
    let r = same("getcap", &[OsStr::new("-r"), os(&d)]);
    let line = |name: &str, text: &str| format!("{} {text}\n", d.join(name).display());
    for want in [
        line("ping", "cap_net_raw=ep"),
        line("hi", "= 41,63+p"),
        line("sub/deeper/f", "cap_kill=ep"),
        line("sp ace", "cap_fowner=i"),
    ] {
        assert!(
            r.stdout.contains(&want),
            "{want:?} missing from\n{}",
            r.stdout
        );
    }
    let r = same("getcap", &[OsStr::new("-rn"), os(&d)]);
    let v3 = format!(
        "{} cap_net_admin=p [rootid={}]\n",
        d.join("v3").display(),
        rootid.unwrap()
    );
    assert!(r.stdout.contains(&v3), "{v3:?} missing from\n{}", r.stdout);
    if root() {
        assert!(
            r.stdout.contains("cap_chown=ep [rootid=-2]\n"),
            "{}",
            r.stdout
        );
    }
    let r = same("getcap", &[OsStr::new("-r"), OsStr::new("-v"), os(&d)]);
    assert!(r
        .stdout
        .contains(&format!("{}\n", d.join("fifo").display())));
    assert!(r.stdout.contains(&format!(
        "{} (Not a regular file)\n",
        d.join("dlink").display()
    )));
    same("getcap", &[OsStr::new("-rvn"), os(&d)]);
    // Trailing slashes, a symlink to a folder given with one, a file and a link as the start.
    let slash = PathBuf::from(format!("{}//", d.display()));
    let r = same("getcap", &[OsStr::new("-rv"), os(&slash)]);
    assert!(r
        .stdout
        .starts_with(&format!("{} (Not a regular file)\n", d.display())));
    for start in [
        "dlink/", "dlink", "ping", "link", "sub/", "emptydir", "noperm", "rnox",
    ] {
        same("getcap", &[OsStr::new("-rv"), os(&d.join(start))]);
    }
    // Options after the paths, and relative paths, as getopt permutes them.
    let theirs = run(libcap("getcap").current_dir(&*d).args([".", "-r", "-n"]));
    let ours = run(common::capscope()
        .current_dir(&*d)
        .args(["getcap", ".", "-r", "-n"]));
    assert_eq!(ours, theirs);
    assert!(
        ours.stdout.contains("./sub/g cap_sys_admin=eip"),
        "{}",
        ours.stdout
    );
}

#[test]
fn single_paths_match() {
    let (d, _) = corpus();
    let mut every: Vec<PathBuf> = std::fs::read_dir(&*d)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    every.sort();
    every.push(d.join("missing"));
    every.push(d.join("ping/below-a-file"));
    every.push(d.join("noperm/f"));
    let args: Vec<&OsStr> = every.iter().map(|p| p.as_os_str()).collect();
    let r = same("getcap", &args);
    assert!(
        r.stderr.contains("missing (No such file or directory)\n"),
        "{}",
        r.stderr
    );
    let mut verbose = vec![OsStr::new("-v")];
    verbose.extend(&args);
    let r = same("getcap", &verbose);
    assert!(r.stdout.contains(&format!(
        "{} (Not a regular file)\n",
        d.join("fifo").display()
    )));
    let mut n = vec![OsStr::new("-nv")];
    n.extend(&args);
    same("getcap", &n);
}

#[test]
fn usage_and_option_errors_match() {
    for args in [
        &[][..],
        &["-x"],
        &["-h"],
        &["--help"],
        &["-rx", "/"],
        &["-r"],
        &["--", "-n"],
        &["-", "-v"],
        &[""],
    ] {
        let args: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
        same("getcap", &args);
    }
}

#[test]
fn system_folders_match() {
    // A real tree: whatever the system holds in its binary folders.
    same(
        "getcap",
        &[
            OsStr::new("-rvn"),
            OsStr::new("/usr/bin"),
            OsStr::new("/usr/sbin"),
        ],
    );
}
