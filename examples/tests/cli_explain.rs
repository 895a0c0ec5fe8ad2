//! `capscope explain`: every spelling of every capability gives the same line, whose number
//! and name agree with libcap's (`capsh --explain=N`); unknown names suggest the nearest one.

mod common;

use capscope::Cap;
use common::{capscope, libcap, run};

#[test]
fn every_spelling_of_every_capability() {
    let mut args = Vec::new();
    for c in Cap::known() {
        let k = c.kernel_name().unwrap();
        args.extend([
            c.as_u8().to_string(),
            k.to_owned(),
            k.to_ascii_lowercase(),
            format!("cap_{}", k.to_ascii_lowercase()),
            format!("CAP_{k}"),
        ]);
    }
    let r = run(capscope().arg("explain").args(&args));
    assert_eq!(r.status, Some(0), "{r:?}");
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), args.len());
    for (c, group) in Cap::known().zip(lines.chunks(5)) {
        let want = format!(
            "{} {} CAP_{}: {}",
            c.as_u8(),
            c.name().unwrap(),
            c.kernel_name().unwrap(),
            c.description().unwrap()
        );
        for l in group {
            assert!(l.starts_with(&want), "{l:?} is not {want:?}");
        }
    }
    assert!(
        r.stdout.contains("\n13 cap_net_raw CAP_NET_RAW: "),
        "{}",
        r.stdout
    );
}

#[test]
fn numbers_and_names_agree_with_libcap() {
    for n in 0..64u8 {
        let theirs = run(libcap("capsh").arg(format!("--explain={n}")));
        let first = theirs.stdout.lines().next().unwrap_or_default().to_owned();
        let ours = run(capscope().args(["explain", &n.to_string()]));
        assert_eq!(ours.status, Some(0));
        let name = first.split(" (").next().unwrap();
        if name == "<unsupported>" {
            assert!(ours.stdout.contains("(no name"), "{n}: {ours:?}");
        } else {
            assert!(
                ours.stdout.starts_with(&format!(
                    "{n} {name} CAP_{}: ",
                    name[4..].to_ascii_uppercase()
                )),
                "{n}: capsh says {first:?}, capscope {:?}",
                ours.stdout
            );
        }
    }
}

#[test]
fn unknown_names_suggest_and_fail() {
    let r = run(capscope().args(["explain", "net_rwa", "kill", "frobnicate", "64"]));
    assert_eq!(r.status, Some(1));
    assert!(
        r.stderr.contains("\"net_rwa\" is not a capability"),
        "{r:?}"
    );
    assert!(r.stderr.contains("did you mean cap_net_raw?"), "{r:?}");
    assert!(r.stderr.contains("\"frobnicate\""), "{r:?}");
    assert!(r.stdout.starts_with("5 cap_kill CAP_KILL: "), "{r:?}");
    let r = run(capscope().arg("explain"));
    assert_eq!(r.status, Some(1));
    assert!(r.stderr.starts_with("usage: capscope explain"), "{r:?}");
}

#[test]
fn top_level_usage() {
    let r = run(&mut capscope());
    assert_eq!(r.status, Some(1));
    assert!(
        r.stderr.contains("getcap") && r.stderr.contains("explain"),
        "{r:?}"
    );
    let r = run(capscope().arg("--help"));
    assert_eq!(r.status, Some(0));
    assert!(r.stdout.starts_with("usage: capscope COMMAND"), "{r:?}");
    let r = run(capscope().arg("frobnicate"));
    assert_eq!(r.status, Some(1));
    assert!(r.stderr.contains("unknown command \"frobnicate\""), "{r:?}");
}
