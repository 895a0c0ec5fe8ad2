//! File capabilities: the `security.capability` bytes, the getcap/setcap text, and real files,
//! checked against Debian's libcap2-bin tools (`setcap`, `getcap`, `capsh`).
//!
//! Setting file capabilities needs `CAP_SETFCAP`: as root the setting happens in a forked
//! child; as a normal user in a child inside a new user namespace, where the kernel stores
//! revision 3 with the namespace's root as rootid (checked here too). The tools run in the
//! test process itself (setcap as root, or under `unshare --user --map-root-user`).

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use capscope::{Cap, CapSet, CapState, FileCaps, FileCapsBytesError, ParseFileCapsError};
use capscope_tests::{
    assert_pass, check, ensure, in_child, is_privileged, privileged, tool, Rng, Verdict,
};
use proptest::prelude::*;

/// A directory removed when dropped, also when its test fails.
struct TmpDir(PathBuf);

impl std::ops::Deref for TmpDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TmpDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A fresh directory under the temporary directory (ext4 or tmpfs: both store `security.*`
/// attributes), readable by everyone.
fn tmpdir(tag: &str) -> TmpDir {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "capscope-filecaps-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir(&dir).unwrap_or_else(|e| panic!("cannot create {dir:?}: {e}"));
    std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    TmpDir(dir)
}

fn new_file(dir: &Path, name: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, b"#!/bin/sh\n").unwrap_or_else(|e| panic!("cannot create {p:?}: {e}"));
    p
}

/// The raw attribute, read with libc directly (not through capscope).
fn raw_xattr(path: &Path) -> Option<Vec<u8>> {
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

fn run(cmd: &mut Command) -> (bool, String, String) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `getcap [-n] path`'s line, without the trailing newline.
fn getcap(path: &Path, rootid: bool) -> String {
    let mut cmd = Command::new(tool("getcap"));
    if rootid {
        cmd.arg("-n");
    }
    let (ok, out, err) = run(cmd.arg(path));
    assert!(ok, "getcap {path:?} failed: {err}");
    out.trim_end_matches('\n').to_owned()
}

/// The tool `name` with `CAP_SETFCAP`: as is for root, inside a new user namespace otherwise.
fn privileged_cmd(name: &str) -> Command {
    let program = tool(name);
    if is_privileged() {
        Command::new(program)
    } else {
        let mut c = Command::new(tool("unshare"));
        c.args(["--user", "--map-root-user"]).arg(program);
        c
    }
}

/// The rootid the kernel records for capabilities set by [`privileged`] or
/// [`privileged_cmd`]: none as root, the caller's uid from inside a user namespace.
fn expected_rootid() -> Option<u32> {
    if is_privileged() {
        None
    } else {
        // SAFETY: no preconditions.
        Some(unsafe { libc::geteuid() })
    }
}

/// File capabilities worth writing: special cases, then random ones over all 64 bits.
fn samples(n: usize) -> Vec<FileCaps> {
    let fc = |effective, p: u64, i: u64| FileCaps {
        effective,
        permitted: CapSet::from_bits(p),
        inheritable: CapSet::from_bits(i),
        rootid: None,
    };
    let mut v = vec![
        fc(false, 0, 0),
        fc(true, 1 << 13, 0),
        fc(false, 1 << 13, 1 << 21),
        fc(true, CapSet::all_known().bits(), 0),
        fc(true, 1 << 41 | 1, 1 << 63),
        fc(false, u64::MAX, u64::MAX),
        fc(true, 0, 1 << 40),
    ];
    let mut r = Rng(0x5eed_f11e);
    while v.len() < n {
        let (p, i) = (
            r.next_u64() & r.next_u64(),
            r.next_u64() & r.next_u64() & r.next_u64(),
        );
        v.push(fc(r.next_u64() & 1 == 1 && (p | i) != 0, p, i));
    }
    v
}

#[test]
fn bytes_revisions_and_sizes() {
    let fc = FileCaps {
        effective: true,
        permitted: CapSet::from_bits(0x8000_0001_0000_0002),
        inheritable: CapSet::from_bits(1 << 40),
        rootid: None,
    };
    let v2 = fc.to_bytes();
    assert_eq!(
        v2,
        [1, 0, 0, 2, 2, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0x80, 0, 1, 0, 0]
    );
    let v3 = FileCaps {
        rootid: Some(0x0102_0304),
        ..fc
    }
    .to_bytes();
    assert_eq!(&v3[..4], [1, 0, 0, 3]);
    assert_eq!(&v3[4..20], &v2[4..]);
    assert_eq!(&v3[20..], [4, 3, 2, 1]);
    // Revision 1: 32 bits only.
    let v1 = FileCaps::from_bytes(&[1, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 1, 0, 0, 0]).unwrap();
    assert_eq!(
        (
            v1.effective,
            v1.permitted.bits(),
            v1.inheritable.bits(),
            v1.rootid
        ),
        (true, 0xffff_ffff, 1, None)
    );
    // rootid u32::MAX is kept when read (it is what the bytes say) ...
    let max = FileCaps {
        rootid: Some(u32::MAX),
        ..fc
    };
    assert_eq!(FileCaps::from_bytes(&max.to_bytes()), Ok(max));
}

#[test]
fn malformed_bytes_are_errors_never_panics() {
    for revision in 0u8..=5 {
        for flags in [0u8, 1] {
            for len in 0..=40 {
                let mut b = vec![0xa5u8; len];
                if len >= 4 {
                    b[..4].copy_from_slice(&[flags, 0, 0, revision]);
                }
                let r = FileCaps::from_bytes(&b);
                let good = matches!((revision, len), (1, 12) | (2, 20) | (3, 24));
                assert_eq!(r.is_ok(), good, "revision {revision} length {len}: {r:?}");
                if len < 4 {
                    assert_eq!(r, Err(FileCapsBytesError::TooShort { len }));
                }
            }
        }
    }
    // Every flag bit but the effective one is refused.
    for bit in 1..24 {
        let mut b = FileCaps::empty().to_bytes();
        b[..4].copy_from_slice(&((2u32 << 24) | (1 << bit)).to_le_bytes());
        assert_eq!(
            FileCaps::from_bytes(&b),
            Err(FileCapsBytesError::UnknownFlags { flags: 1 << bit })
        );
    }
}

#[test]
fn text_follows_libcaps_effective_rule() {
    let fc: FileCaps = "cap_net_raw=p cap_kill=i".parse().unwrap();
    assert!(!fc.effective && fc.permitted.has(Cap::NET_RAW) && fc.inheritable.has(Cap::KILL));
    let fc: FileCaps = "cap_net_raw+ep cap_kill+eip".parse().unwrap();
    assert!(fc.effective);
    assert_eq!(
        fc.to_string(),
        "cap_net_raw+ep cap_kill+eip"
            .parse::<CapState>()
            .unwrap()
            .to_string()
    );
    assert_eq!(
        "cap_net_raw=p cap_kill=eip".parse::<FileCaps>(),
        Err(ParseFileCapsError::PartialEffective {
            missing: CapSet::from(Cap::NET_RAW)
        })
    );
    assert_eq!(
        "cap_net_raw=ep cap_kill=i".parse::<FileCaps>(),
        Err(ParseFileCapsError::PartialEffective {
            missing: CapSet::from(Cap::KILL)
        })
    );
    assert!(matches!(
        "cap_net_raw=x".parse::<FileCaps>(),
        Err(ParseFileCapsError::Syntax(_))
    ));
    assert_eq!(FileCaps::empty().to_string(), "=");
    assert_eq!(
        FileCaps::from_state(&"=e".parse().unwrap()).map(|f| f.effective),
        Ok(true)
    );
}

#[test]
fn unprivileged_calls_on_plain_files() {
    let dir = tmpdir("plain");
    let f = new_file(&dir, "f");
    assert_eq!(FileCaps::get_for_file(&f).unwrap(), None);
    let file = std::fs::File::open(&f).unwrap();
    assert_eq!(FileCaps::get_for_fd(&file).unwrap(), None);
    let missing = FileCaps::get_for_file(dir.join("missing")).unwrap_err();
    assert_eq!(missing.code(), Some(libc::ENOENT));
    // rootid u32::MAX is refused before any system call: the path does not even exist.
    let bad = FileCaps {
        rootid: Some(u32::MAX),
        ..FileCaps::empty()
    };
    let e = bad.set_for_file(dir.join("missing")).unwrap_err();
    assert!(
        matches!(&e, capscope::Error::Path { source, .. }
            if matches!(**source, capscope::Error::InvalidInput { .. })),
        "{e}"
    );
    assert!(e
        .to_string()
        .starts_with(&format!("{}: ", dir.join("missing").display())));
    assert!(matches!(
        bad.set_for_fd(&file).unwrap_err(),
        capscope::Error::InvalidInput { .. }
    ));
}

/// A file system without extended attributes answers `getxattr` with `EOPNOTSUPP` (procfs
/// here; NFS, vfat and some FUSE file systems in the field), which `execve` reads as no file
/// capabilities: so does capscope.
#[test]
fn a_file_system_without_xattrs_means_no_file_capabilities() {
    let p = Path::new("/proc/version");
    // SAFETY: a valid C path and name, a null buffer of size 0 (asks the size).
    let rc = unsafe {
        libc::getxattr(
            c"/proc/version".as_ptr(),
            c"security.capability".as_ptr(),
            std::ptr::null_mut(),
            0,
        )
    };
    let errno = std::io::Error::last_os_error().raw_os_error();
    assert_eq!((rc, errno), (-1, Some(libc::EOPNOTSUPP)), "procfs changed");
    assert_eq!(FileCaps::get_for_file(p).unwrap(), None);
    let file = std::fs::File::open(p).unwrap();
    assert_eq!(FileCaps::get_for_fd(&file).unwrap(), None);
}

#[test]
fn we_write_getcap_and_libc_read() {
    let dir = tmpdir("write");
    let cases = samples(40);
    let paths: Vec<PathBuf> = (0..cases.len())
        .map(|k| new_file(&dir, &format!("f{k}")))
        .collect();
    let target = new_file(&dir, "target");
    let link = dir.join("link");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let (c2, p2, t2, l2) = (cases.clone(), paths.clone(), target.clone(), link.clone());
    assert_pass(privileged(move || -> Verdict {
        for (k, (fc, path)) in c2.iter().zip(&p2).enumerate() {
            if k % 2 == 0 {
                check!(fc.set_for_file(path));
            } else {
                let f = check!(std::fs::File::open(path));
                check!(fc.set_for_fd(&f));
            }
        }
        // A path setter never writes through a symlink, nor on the link itself (which ext4
        // would store): it refuses, as setcap does.
        let on_link = c2[1].set_for_file(&l2);
        ensure!(on_link.is_err(), "a symlink was accepted");
        ensure!(
            check!(FileCaps::get_for_file(&t2)).is_none(),
            "the symlink was followed"
        );
        ensure!(check!(FileCaps::get_for_file(&l2)).is_none());
        Ok(())
    }));
    assert_eq!(raw_xattr(&target), None);
    let rootid = expected_rootid();
    for (fc, path) in cases.iter().zip(&paths) {
        let want = FileCaps { rootid, ..*fc };
        assert_eq!(
            FileCaps::get_for_file(path).unwrap(),
            Some(want),
            "{path:?}"
        );
        assert_eq!(raw_xattr(path), Some(want.to_bytes()), "{path:?}");
        assert_eq!(getcap(path, false), format!("{} {fc}", path.display()));
        let n = match rootid {
            Some(id) => format!(" [rootid={id}]"),
            None => String::new(),
        };
        assert_eq!(getcap(path, true), format!("{} {fc}{n}", path.display()));
    }
    // Removal, by path and by descriptor.
    let p2 = paths.clone();
    assert_pass(privileged(move || -> Verdict {
        ensure!(check!(FileCaps::remove_for_file(&p2[0])));
        let f = check!(std::fs::File::open(&p2[1]));
        ensure!(check!(FileCaps::remove_for_fd(&f)));
        ensure!(
            !check!(FileCaps::remove_for_file(&p2[0])),
            "removing twice reports nothing removed"
        );
        Ok(())
    }));
    for p in &paths[..2] {
        assert_eq!(FileCaps::get_for_file(p).unwrap(), None);
        assert_eq!(getcap(p, false), "");
    }
}

#[test]
fn root_writes_explicit_rootid_or_userns_gets_one() {
    // As root: an explicit revision 3 rootid is stored as given. As a normal user: the kernel
    // turns what is written inside the namespace into revision 3 with the caller's uid.
    let dir = tmpdir("rootid");
    let f = new_file(&dir, "f");
    let fc: FileCaps = "cap_chown,cap_net_raw=ep".parse().unwrap();
    let (asked, want) = if is_privileged() {
        (Some(1000), Some(1000))
    } else {
        (None, expected_rootid())
    };
    let f2 = f.clone();
    assert_pass(privileged(move || -> Verdict {
        check!(FileCaps {
            rootid: asked,
            ..fc
        }
        .set_for_file(&f2));
        // Read inside: the kernel shows the namespace's own root as revision 2.
        let inside = check!(FileCaps::get_for_file(&f2));
        ensure!(
            inside.map(|x| x.permitted) == Some(fc.permitted),
            "{inside:?}"
        );
        Ok(())
    }));
    let got = FileCaps::get_for_file(&f).unwrap().unwrap();
    assert_eq!(got, FileCaps { rootid: want, ..fc });
    let raw = raw_xattr(&f).unwrap();
    assert_eq!((raw.len(), raw[3]), (24, 3), "revision 3 expected: {raw:?}");
    assert_eq!(
        getcap(&f, true),
        format!(
            "{} cap_chown,cap_net_raw=ep [rootid={}]",
            f.display(),
            want.unwrap()
        )
    );
}

#[test]
fn user_namespace_writes_revision_3_in_every_mode() {
    // In a child: become a non-root uid (1000 when we are root, ourselves otherwise), enter a
    // new user namespace mapping its root to that uid, and set capabilities there.
    let dir = tmpdir("userns");
    let f = new_file(&dir, "f");
    // SAFETY: no preconditions.
    let euid = unsafe { libc::geteuid() };
    let uid = if euid == 0 { 1000 } else { euid };
    let c = std::ffi::CString::new(f.as_os_str().as_bytes()).unwrap();
    // SAFETY: c is a valid path; chowning our own new file.
    let rc = unsafe { libc::chown(c.as_ptr(), uid, uid) };
    assert_eq!(rc, 0, "chown: {}", std::io::Error::last_os_error());
    let fc: FileCaps = "cap_net_bind_service=ep cap_kill+eip".parse().unwrap();
    let f2 = f.clone();
    assert_pass(in_child(move || -> Verdict {
        // SAFETY: single-threaded child; plain credential calls, results checked.
        unsafe {
            if libc::geteuid() == 0 {
                ensure!(libc::setgroups(0, std::ptr::null()) == 0);
                ensure!(libc::setresgid(uid, uid, uid) == 0);
                ensure!(libc::setresuid(uid, uid, uid) == 0);
                // Changing uid made the process non-dumpable, which hides /proc/self from it.
                ensure!(libc::prctl(libc::PR_SET_DUMPABLE, 1, 0, 0, 0) == 0);
            }
            ensure!(
                libc::unshare(libc::CLONE_NEWUSER) == 0,
                "unshare: {}",
                std::io::Error::last_os_error()
            );
        }
        check!(std::fs::write("/proc/self/setgroups", "deny"));
        check!(std::fs::write("/proc/self/uid_map", format!("0 {uid} 1")));
        check!(std::fs::write("/proc/self/gid_map", format!("0 {uid} 1")));
        check!(fc.set_for_file(&f2));
        Ok(())
    }));
    assert_eq!(
        FileCaps::get_for_file(&f).unwrap(),
        Some(FileCaps {
            rootid: Some(uid),
            ..fc
        })
    );
    assert_eq!(
        raw_xattr(&f).unwrap(),
        FileCaps {
            rootid: Some(uid),
            ..fc
        }
        .to_bytes()
    );
    assert_eq!(
        getcap(&f, true),
        format!("{} {fc} [rootid={uid}]", f.display())
    );
}

#[test]
fn setcap_writes_we_read_byte_for_byte() {
    let dir = tmpdir("setcap");
    let mut texts: Vec<String> = [
        "cap_net_raw=ep",
        "cap_chown,cap_kill=eip",
        "=",
        "cap_sys_admin=i",
        "all=ep",
        "=ep cap_chown-ep",
        "41=ep",
        "cap_setfcap+p cap_bpf+i",
        "63=i cap_chown=p",
        "CAP_NET_ADMIN=pe",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    texts.extend(samples(30).iter().map(FileCaps::to_string));
    let rootid = expected_rootid();
    for (k, text) in texts.iter().enumerate() {
        let f = new_file(&dir, &format!("s{k}"));
        let (ok, _, err) = run(privileged_cmd("setcap").arg(text).arg(&f));
        assert!(ok, "setcap {text:?} failed: {err}");
        let raw = raw_xattr(&f).unwrap_or_else(|| panic!("setcap {text:?} wrote nothing"));
        let ours = FileCaps::from_bytes(&raw).unwrap();
        let meant: FileCaps = text.parse().unwrap();
        assert_eq!(ours, FileCaps { rootid, ..meant }, "setcap {text:?}");
        assert_eq!(
            ours.to_bytes(),
            raw,
            "re-serialised bytes differ for {text:?}"
        );
        assert_eq!(FileCaps::get_for_file(&f).unwrap(), Some(ours));
    }
    // What setcap refuses, we refuse.
    for text in [
        "cap_chown=p cap_kill=eip",
        "cap_chown+e cap_kill+p",
        "cap_chown=x",
        "=+e",
        "010=p",
    ] {
        let f = new_file(&dir, "refused");
        let (ok, _, _) = run(privileged_cmd("setcap").arg(text).arg(&f));
        let ours = text.parse::<FileCaps>();
        if text == "010=p" {
            assert!(
                ok && ours.is_err(),
                "capscope refuses octal numbers that setcap reads"
            );
        } else {
            assert!(
                !ok && ours.is_err(),
                "{text:?}: setcap ok={ok}, ours={ours:?}"
            );
        }
    }
}

#[test]
fn capsh_accepts_our_state_text() {
    // capsh parses our text with cap_from_text, applies it and prints cap_to_text of the
    // result: it must print our text back. It runs as root of a new user namespace, where it
    // holds every capability up to the kernel's last one.
    let last = capscope::kernel::last_supported().unwrap();
    let all = CapSet::up_to(last).bits();
    let mut r = Rng(0x5eed_ca95);
    for k in 0..30 {
        let p = if k == 0 { all } else { r.next_u64() & all };
        let e = if k == 1 { p } else { r.next_u64() & p };
        let i = r.next_u64() & all;
        let s = CapState {
            effective: CapSet::from_bits(e),
            permitted: CapSet::from_bits(p),
            inheritable: CapSet::from_bits(i),
        };
        let text = s.text_for(last).to_string();
        let (ok, out, err) = run(Command::new(tool("unshare"))
            .args(["--user", "--map-root-user"])
            .arg(tool("capsh"))
            .arg(format!("--caps={text}"))
            .arg("--print"));
        assert!(ok, "capsh --caps={text:?} failed: {err}");
        let current = out
            .lines()
            .find_map(|l| l.strip_prefix("Current: "))
            .expect("capsh prints Current:");
        assert_eq!(current, text);
    }
}

proptest! {
    #[test]
    fn bytes_round_trip(effective: bool, p: u64, i: u64, rootid: Option<u32>) {
        let fc = FileCaps { effective, permitted: CapSet::from_bits(p), inheritable: CapSet::from_bits(i), rootid };
        let bytes = fc.to_bytes();
        prop_assert_eq!(bytes.len(), if rootid.is_some() { 24 } else { 20 });
        prop_assert_eq!(FileCaps::from_bytes(&bytes), Ok(fc));
    }

    #[test]
    fn text_round_trip(effective: bool, p: u64, i: u64) {
        let fc = FileCaps { effective, permitted: CapSet::from_bits(p), inheritable: CapSet::from_bits(i), rootid: None };
        let back: FileCaps = fc.to_string().parse().unwrap();
        // With nothing permitted or inheritable, the effective flag has nothing to show.
        let want = FileCaps { effective: effective && (p | i) != 0, ..fc };
        prop_assert_eq!(back, want);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
        if let Ok(fc) = FileCaps::from_bytes(&bytes) {
            prop_assert_eq!(FileCaps::from_bytes(&fc.to_bytes()), Ok(fc));
        }
    }
}

#[test]
fn path_setters_refuse_symlinks_and_special_files_and_follow_parents() {
    let dir = tmpdir("links");
    let target = new_file(&dir, "target");
    let link = dir.join("link");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let sub = dir.join("sub");
    std::fs::create_dir(&sub).unwrap();
    let inner = new_file(&sub, "f");
    let sublink = dir.join("sublink");
    std::os::unix::fs::symlink(&sub, &sublink).unwrap();
    let fifo = dir.join("fifo");
    let c = std::ffi::CString::new(fifo.as_os_str().as_bytes()).unwrap();
    // SAFETY: c is a valid path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    let fc: FileCaps = "cap_net_raw=ep".parse().unwrap();
    let (t, l, s, sl, ff) = (
        target.clone(),
        link.clone(),
        sub.clone(),
        sublink.clone(),
        fifo.clone(),
    );
    assert_pass(privileged(move || -> Verdict {
        for (path, what) in [
            (&l, "symbolic link"),
            (&s, "directory"),
            (&ff, "FIFO"),
            (&sl, "symbolic link"),
        ] {
            let e = match fc.set_for_file(path) {
                Ok(()) => return Err(format!("{path:?} was accepted")),
                Err(e) => e,
            };
            let text = e.to_string();
            ensure!(
                text.starts_with(&format!("{}: ", path.display())) && text.contains(what),
                "{text}"
            );
            ensure!(matches!(
                &e,
                capscope::Error::Path { path: p, .. } if p == path
            ));
            let e = check!(FileCaps::remove_for_file(path)
                .map(|_| ())
                .err()
                .ok_or("accepted"));
            ensure!(e.to_string().contains(what), "{e}");
        }
        // A symlink among the parents is followed: sublink/f is sub/f.
        check!(fc.set_for_file(sl.join("f")));
        ensure!(check!(FileCaps::get_for_file(s.join("f"))).is_some());
        ensure!(check!(FileCaps::remove_for_file(sl.join("f"))));
        check!(fc.set_for_file(sl.join("f")));
        // The regular file itself still works, and a trailing "/." is not a file.
        check!(fc.set_for_file(&t));
        ensure!(fc.set_for_file(t.join(".")).is_err());
        Ok(())
    }));
    // Nothing was written on the link, on the directory, on the FIFO or through the link.
    for p in [&link, &sub, &fifo, &sublink] {
        assert_eq!(raw_xattr(p), None, "{p:?}");
    }
    let want = FileCaps {
        rootid: expected_rootid(),
        ..fc
    };
    assert_eq!(raw_xattr(&inner), Some(want.to_bytes()));
    assert_eq!(raw_xattr(&target), Some(want.to_bytes()));
    // Errors of the getters name the path too.
    let missing = dir.join("missing");
    let e = FileCaps::get_for_file(&missing).unwrap_err();
    assert_eq!(e.code(), Some(libc::ENOENT));
    assert!(
        e.to_string()
            .starts_with(&format!("{}: ", missing.display())),
        "{e}"
    );
    assert_eq!(e.op(), Some(capscope::Op::GetFileCaps));
    assert!(
        std::error::Error::source(&e).is_none(),
        "the message is not repeated as a source"
    );
}

#[test]
fn path_setters_work_without_procfs() {
    // In a mount namespace where /proc is hidden under a tmpfs, the setters fall back to
    // opening the file itself, and still refuse a symlink.
    let dir = tmpdir("noproc");
    let f = new_file(&dir, "f");
    let link = dir.join("link");
    std::os::unix::fs::symlink(&f, &link).unwrap();
    let fc: FileCaps = "cap_kill,cap_chown=ep".parse().unwrap();
    let (f2, l2) = (f.clone(), link.clone());
    assert_pass(privileged(move || -> Verdict {
        // SAFETY: unshare and mount with valid C strings; the forked child is single-threaded.
        unsafe {
            ensure!(
                libc::unshare(libc::CLONE_NEWNS) == 0,
                "unshare(CLONE_NEWNS): {}",
                std::io::Error::last_os_error()
            );
            ensure!(
                libc::mount(
                    c"none".as_ptr(),
                    c"/".as_ptr(),
                    std::ptr::null(),
                    libc::MS_REC | libc::MS_PRIVATE,
                    std::ptr::null()
                ) == 0
            );
            ensure!(
                libc::mount(
                    c"none".as_ptr(),
                    c"/proc".as_ptr(),
                    c"tmpfs".as_ptr(),
                    0,
                    std::ptr::null()
                ) == 0,
                "mount tmpfs on /proc: {}",
                std::io::Error::last_os_error()
            );
        }
        ensure!(!Path::new("/proc/self").exists(), "/proc is still there");
        check!(fc.set_for_file(&f2));
        ensure!(fc.set_for_file(&l2).is_err());
        ensure!(check!(FileCaps::remove_for_file(&f2)));
        check!(fc.set_for_file(&f2));
        Ok(())
    }));
    let want = FileCaps {
        rootid: expected_rootid(),
        ..fc
    };
    assert_eq!(raw_xattr(&f), Some(want.to_bytes()));
    assert_eq!(raw_xattr(&link), None);
}
