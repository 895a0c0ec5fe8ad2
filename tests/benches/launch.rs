//! Spawn-to-exit of `/bin/true` with a declared privilege state (`capscope::launch`), against a
//! plain `std::process::Command`, `Command` with an empty `pre_exec` hook (which makes std
//! `fork` instead of using its faster `vfork`-style spawn: the floor of any `pre_exec`
//! launcher), `setpriv` and `capsh` doing the same change, in one run.
//!
//! Run: `cargo bench -p capscope-tests --bench launch`. The goal: the declared state costs at
//! most 1.2x a plain `Command`, and less than either tool (each is one more `execve` of a
//! dynamically linked program, plus its own work).
//!
//! As root the declared state is a normal user's helper: uid and gid 65534, no supplementary
//! groups, `CAP_NET_RAW` ambient, the bounding set cut to `CAP_NET_RAW`, no_new_privs. As a
//! normal user (who can change none of that) it is no_new_privs and an emptied inheritable
//! set, and the tools do the same.
//!
//! The interleaved run printed at the end also times, as root, the state's id change alone and
//! its bounding-set cut alone (the kernel drops one capability per `prctl`, each a commit of
//! new credentials): where the child's time goes.

use std::os::unix::process::CommandExt as _;
use std::process::{Command, Stdio};

use capscope::launch::{CommandExt, Launch};
use capscope::{Cap, CapSet};
use criterion::{criterion_group, criterion_main, Criterion};

fn tool(name: &str) -> String {
    ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]
        .iter()
        .map(|d| format!("{d}/{name}"))
        .find(|p| std::path::Path::new(p).is_file())
        .unwrap_or_else(|| panic!("{name} not found: install util-linux and libcap2-bin"))
}

fn run(cmd: &mut Command) {
    let status = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "{cmd:?}: {status:?}");
}

fn bench(c: &mut Criterion) {
    let root = capscope_tests::is_privileged();
    let last = capscope::kernel::last_supported().unwrap();
    let drop_all_but_raw: Vec<String> = (CapSet::up_to(last) - Cap::NET_RAW)
        .iter()
        .map(|c| c.to_string())
        .collect();
    let (state, setpriv, capsh): (Launch, Vec<String>, Vec<String>) = if root {
        (
            Launch::new()
                .uid(65534)
                .gid(65534)
                .clear_groups()
                .ambient(Cap::NET_RAW)
                .bounding_keep(Cap::NET_RAW)
                .no_new_privs(),
            [
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                "--inh-caps=+net_raw",
                "--ambient-caps=+net_raw",
                "--bounding-set=-all,+net_raw",
                "--nnp",
                "--",
                "/bin/true",
            ]
            .map(String::from)
            .to_vec(),
            vec![
                format!("--drop={}", drop_all_but_raw.join(",")),
                "--inh=cap_net_raw".into(),
                "--gid=65534".into(),
                "--groups=65534".into(),
                "--cap-uid=65534".into(),
                "--addamb=cap_net_raw".into(),
                "--no-new-privs".into(),
                "--shell=/bin/true".into(),
                "--".into(),
            ],
        )
    } else {
        (
            Launch::new().inheritable(CapSet::empty()).no_new_privs(),
            ["--inh-caps=-all", "--nnp", "--", "/bin/true"]
                .map(String::from)
                .to_vec(),
            ["--inh=", "--no-new-privs", "--shell=/bin/true", "--"]
                .map(String::from)
                .to_vec(),
        )
    };
    let plan = state.plan().unwrap();
    let (setpriv_path, capsh_path) = (tool("setpriv"), tool("capsh"));
    // Each alternative once, so that a broken one fails before it is timed.
    run(Command::new("/bin/true").declare(&plan));
    run(Command::new(&setpriv_path).args(&setpriv));
    run(Command::new(&capsh_path).args(&capsh));

    let mut g = c.benchmark_group(format!(
        "spawn-to-exit /bin/true ({})",
        if root {
            "root: a normal user's helper"
        } else {
            "normal user: nnp"
        }
    ));
    g.bench_function("Command", |b| {
        b.iter(|| run(&mut Command::new("/bin/true")))
    });
    g.bench_function("Command + empty pre_exec", |b| {
        b.iter(|| {
            let mut cmd = Command::new("/bin/true");
            // SAFETY: the hook does nothing.
            unsafe { cmd.pre_exec(|| Ok(())) };
            run(&mut cmd);
        })
    });
    g.bench_function("Command + declared state", |b| {
        b.iter(|| run(Command::new("/bin/true").declare(&plan)))
    });
    g.bench_function("setpriv", |b| {
        b.iter(|| run(Command::new(&setpriv_path).args(&setpriv)))
    });
    g.bench_function("capsh", |b| {
        b.iter(|| run(Command::new(&capsh_path).args(&capsh)))
    });
    g.finish();
    let mut plain = || run(&mut Command::new("/bin/true"));
    let mut empty = || {
        let mut cmd = Command::new("/bin/true");
        // SAFETY: the hook does nothing.
        unsafe { cmd.pre_exec(|| Ok(())) };
        run(&mut cmd);
    };
    let mut declared = || run(Command::new("/bin/true").declare(&plan));
    let mut with_setpriv = || run(Command::new(&setpriv_path).args(&setpriv));
    let mut with_capsh = || run(Command::new(&capsh_path).args(&capsh));
    let mut alternatives: Vec<(&str, &mut dyn FnMut())> = vec![
        ("Command", &mut plain),
        ("Command + empty pre_exec", &mut empty),
        ("Command + declared state", &mut declared),
    ];
    // As root, the declared state's parts alone: where the child's time goes.
    let (ids, bounding) = (
        Launch::new().uid(65534).gid(65534).clear_groups().plan(),
        Launch::new().bounding_keep(Cap::NET_RAW).plan(),
    );
    let (mut ids_only, mut bounding_only);
    if root {
        let (ids, bounding) = (ids.unwrap(), bounding.unwrap());
        ids_only = move || run(Command::new("/bin/true").declare(&ids));
        bounding_only = move || run(Command::new("/bin/true").declare(&bounding));
        alternatives.push(("  its ids alone", &mut ids_only));
        alternatives.push(("  its bounding cut alone", &mut bounding_only));
    }
    alternatives.push(("setpriv", &mut with_setpriv));
    alternatives.push(("capsh", &mut with_capsh));
    ratios(&mut alternatives);
}

/// The alternatives interleaved round by round (so that a machine whose load changes during
/// the run slows them all alike), then each one's median over the rounds, and its ratio to
/// plain `Command`'s (the first): the ratios the goal is about. `LAUNCH_BENCH_ROUNDS` sets the
/// number of rounds (300).
fn ratios(alternatives: &mut [(&str, &mut dyn FnMut())]) {
    let rounds: usize = std::env::var("LAUNCH_BENCH_ROUNDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(300);
    let mut times = vec![Vec::with_capacity(rounds); alternatives.len()];
    for _ in 0..rounds {
        for (i, (_, f)) in alternatives.iter_mut().enumerate() {
            let start = std::time::Instant::now();
            f();
            times[i].push(start.elapsed());
        }
    }
    let medians: Vec<_> = times
        .iter_mut()
        .map(|t| {
            t.sort_unstable();
            t[t.len() / 2]
        })
        .collect();
    println!("\ninterleaved, {rounds} rounds: median spawn-to-exit, and its ratio to Command");
    for ((name, _), m) in alternatives.iter().zip(&medians) {
        println!(
            "  {name:<26} {:>9.1} us  {:.2}x",
            m.as_secs_f64() * 1e6,
            m.as_secs_f64() / medians[0].as_secs_f64()
        );
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
