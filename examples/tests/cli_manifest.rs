//! `capscope manifest` on built programs, read from their files without running them: the
//! quickstart example and the `service` example (five annotated functions, one never named,
//! and a program that never reads its own manifest). The JSON rendering is compared, parsed,
//! with a golden file (`tests/golden/*.json`); every other format is parsed (YAML with a YAML
//! parser) and checked against it; the `setcap` line is run with libcap's setcap and read back;
//! the systemd directives are loaded by `systemd-analyze verify` when it is installed; `strip`
//! keeps the manifest. Files that hold no manifest are clear errors.

mod common;

use std::path::{Path, PathBuf};

use capscope::{Cap, CapSet, FileCaps};
use common::{capscope, privileged, run, tmpdir, tool, Ran};
use serde_json::Value;
use yaml_rust2::{Yaml, YamlLoader};

/// The programs whose manifests are checked, with their golden file.
const PROGRAMS: [&str; 2] = ["quickstart", "service"];

fn program(name: &str) -> PathBuf {
    common::example(name)
}

fn manifest(format: &str, program: &Path) -> Ran {
    let r = run(capscope()
        .args(["manifest", "--format", format])
        .arg(program));
    assert_eq!(r.status, Some(0), "{format}: {r:?}");
    assert!(r.stderr.is_empty(), "{format}: {r:?}");
    r
}

/// What the JSON rendering says: (needs, no_new_privs), after comparing it with the golden
/// file.
fn checked_json(name: &str, program: &Path) -> (CapSet, bool) {
    let json: Value = serde_json::from_str(&manifest("json", program).stdout).expect("JSON");
    assert_eq!(json["program"], program.to_string_lossy().as_ref());
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/golden/{name}.json"));
    let mut want: Value = serde_json::from_str(&std::fs::read_to_string(&golden).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", golden.display()));
    want["program"] = json["program"].clone();
    assert_eq!(
        json,
        want,
        "{name}: the manifest differs from {} (update it if the example changed)",
        golden.display()
    );
    let caps = |v: &Value| -> CapSet {
        v.as_array()
            .expect("a list of capabilities")
            .iter()
            .map(|c| c.as_str().unwrap().parse::<Cap>().unwrap())
            .collect()
    };
    let entries = json["entries"].as_array().unwrap();
    let required: CapSet = entries
        .iter()
        .filter(|e| e["kind"] == "requires_caps")
        .map(|e| caps(&e["caps"]))
        .fold(CapSet::empty(), |a, b| a | b);
    assert_eq!(caps(&json["required"]), required);
    let needs = caps(&json["needs"]);
    assert!(needs.is_superset(required));
    let nnp = json["no_new_privs"].as_bool().unwrap();
    assert_eq!(nnp, entries.iter().any(|e| e["no_new_privs"] == true));
    (needs, nnp)
}

/// `NET_BIND_SERVICE` (Docker's and Kubernetes' spelling) as a capability.
fn bare(name: &str) -> Cap {
    format!("CAP_{name}")
        .parse()
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn yaml(text: &str) -> Yaml {
    let mut docs = YamlLoader::load_from_str(text).unwrap_or_else(|e| panic!("{e}:\n{text}"));
    assert_eq!(docs.len(), 1, "{text}");
    docs.remove(0)
}

fn yaml_caps(list: &Yaml) -> CapSet {
    match list {
        Yaml::BadValue => CapSet::empty(),
        l => l
            .as_vec()
            .unwrap_or_else(|| panic!("not a list: {l:?}"))
            .iter()
            .map(|c| bare(c.as_str().expect("a name")))
            .collect(),
    }
}

fn strings(list: &Yaml) -> Vec<&str> {
    list.as_vec()
        .map(|v| v.iter().filter_map(Yaml::as_str).collect())
        .unwrap_or_default()
}

#[test]
fn text_lists_each_function_then_the_needs() {
    for name in PROGRAMS {
        let bin = program(name);
        let (needs, _) = checked_json(name, &bin);
        let json: Value = serde_json::from_str(&manifest("json", &bin).stdout).unwrap();
        let text = manifest("text", &bin).stdout;
        let lines: Vec<&str> = text.lines().collect();
        let entries = json["entries"].as_array().unwrap();
        assert_eq!(lines.len(), entries.len() + 1, "{text}");
        for (line, e) in lines.iter().zip(entries) {
            let kind = e["kind"].as_str().unwrap();
            let place = format!(
                "] {} at {}:{}",
                e["function"].as_str().unwrap(),
                e["file"].as_str().unwrap(),
                e["line"]
            );
            assert!(
                line.starts_with(&format!("#[{kind}")) && line.ends_with(&place),
                "{line} for {e}"
            );
        }
        let last = lines.last().unwrap().strip_prefix("needs: ").expect(&text);
        assert_eq!(last.parse::<CapSet>().unwrap(), needs, "{text}");
    }
}

#[test]
fn the_service_lists_a_function_nothing_names_and_every_option() {
    let bin = program("service");
    let json: Value = serde_json::from_str(&manifest("json", &bin).stdout).unwrap();
    let names: Vec<&str> = json["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["function"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "service::bind",
            "service::probe",
            "service::adjust_clock",
            "service::init",
            "service::read_any_file"
        ]
    );
    let init = &json["entries"][3];
    assert_eq!(init["user"], "nobody");
    assert_eq!(init["bounding"], true);
    // The drop needs cap_setpcap (bounding), cap_setuid and cap_setgid (user).
    let needs = checked_json("service", &bin).0;
    for c in [Cap::SETPCAP, Cap::SETUID, Cap::SETGID, Cap::DAC_READ_SEARCH] {
        assert!(needs.has(c), "{c} missing from {needs:?}");
    }
}

#[test]
fn setcap_grants_the_needs_as_permitted_and_libcap_applies_it() {
    for name in PROGRAMS {
        let bin = program(name);
        let (needs, _) = checked_json(name, &bin);
        let line = manifest("setcap", &bin).stdout;
        let words: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(words.len(), 3, "{line}");
        assert_eq!(words[0], "setcap");
        assert_eq!(words[2], bin.to_string_lossy(), "{line}");
        let caps = words[1].strip_suffix("+p").expect(&line);
        assert_eq!(caps.parse::<CapSet>().unwrap(), needs);

        // Run it, with libcap's setcap, on a copy of the program.
        let dir = tmpdir("manifest-setcap");
        let copy = dir.join(name);
        std::fs::copy(&bin, &copy).unwrap();
        let r = run(privileged(&tool("setcap")).arg(words[1]).arg(&copy));
        assert_eq!(r.status, Some(0), "{r:?}");
        let fc = FileCaps::get_for_file(&copy)
            .expect("getxattr")
            .expect("file capabilities");
        assert_eq!(fc.permitted, needs);
        assert!(fc.inheritable.is_empty() && !fc.effective, "{fc:?}");
    }
}

#[test]
fn systemd_directives_parse_and_systemd_loads_them() {
    let analyze = ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"]
        .iter()
        .map(Path::new)
        .find(|p| p.is_file());
    if analyze.is_none() {
        eprintln!("systemd-analyze is not installed: the directives are parsed only");
    }
    for name in PROGRAMS {
        let bin = program(name);
        let (needs, nnp) = checked_json(name, &bin);
        let text = manifest("systemd", &bin).stdout;
        let mut keys = Vec::new();
        for line in text.lines() {
            let (key, value) = line.split_once('=').expect(line);
            keys.push(key);
            match key {
                "CapabilityBoundingSet" | "AmbientCapabilities" => {
                    let caps: CapSet = value
                        .split(' ')
                        .filter(|w| !w.is_empty())
                        .map(|w| w.parse::<Cap>().unwrap())
                        .collect();
                    assert_eq!(caps, needs, "{line}");
                    assert!(value.split(' ').all(|w| w.starts_with("CAP_")), "{line}");
                }
                "NoNewPrivileges" => assert_eq!(value, "yes"),
                _ => panic!("unexpected directive {line}"),
            }
        }
        let mut want = vec!["CapabilityBoundingSet", "AmbientCapabilities"];
        if nnp {
            want.push("NoNewPrivileges");
        }
        assert_eq!(keys, want, "{text}");

        if let Some(analyze) = analyze {
            let dir = tmpdir("manifest-systemd");
            let unit = dir.join(format!("capscope-{name}.service"));
            std::fs::write(
                &unit,
                format!(
                    "[Unit]\nDescription=capscope manifest test\n\n[Service]\nExecStart={}\n{text}",
                    bin.display()
                ),
            )
            .unwrap();
            let r = run(std::process::Command::new(analyze)
                .args(["verify", "--man=no"])
                .arg(&unit));
            assert_eq!(r.status, Some(0), "{r:?}");
            assert!(
                r.stdout.is_empty() && r.stderr.is_empty(),
                "systemd-analyze complained about\n{text}\n{r:?}"
            );
        }
    }
}

#[test]
fn docker_flags_drop_all_and_add_the_needs() {
    for name in PROGRAMS {
        let bin = program(name);
        let (needs, nnp) = checked_json(name, &bin);
        let line = manifest("docker", &bin).stdout;
        assert_eq!(line.lines().count(), 1, "{line}");
        let words: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(words[0], "--cap-drop=ALL");
        let added: CapSet = words
            .iter()
            .filter_map(|w| w.strip_prefix("--cap-add="))
            .map(bare)
            .collect();
        assert_eq!(added, needs, "{line}");
        assert_eq!(
            words.contains(&"--security-opt=no-new-privileges"),
            nnp,
            "{line}"
        );
        let known = words.iter().all(|w| {
            *w == "--cap-drop=ALL"
                || w.starts_with("--cap-add=")
                || *w == "--security-opt=no-new-privileges"
        });
        assert!(known, "{line}");
    }
}

#[test]
fn compose_and_kubernetes_fragments_are_yaml_that_says_the_same() {
    for name in PROGRAMS {
        let bin = program(name);
        let (needs, nnp) = checked_json(name, &bin);

        let compose = yaml(&manifest("compose", &bin).stdout);
        assert_eq!(strings(&compose["cap_drop"]), ["ALL"]);
        assert_eq!(yaml_caps(&compose["cap_add"]), needs);
        let opts = strings(&compose["security_opt"]);
        assert_eq!(opts == ["no-new-privileges:true"], nnp, "{opts:?}");
        assert_eq!(opts.is_empty(), !nnp, "{opts:?}");

        let k8s = yaml(&manifest("k8s", &bin).stdout);
        let ctx = &k8s["securityContext"];
        assert_eq!(strings(&ctx["capabilities"]["drop"]), ["ALL"]);
        assert_eq!(yaml_caps(&ctx["capabilities"]["add"]), needs);
        let escalation = ctx["allowPrivilegeEscalation"].as_bool();
        assert_eq!(escalation, nnp.then_some(false), "{ctx:?}");
        assert_eq!(
            manifest("kubernetes", &bin).stdout,
            manifest("k8s", &bin).stdout
        );
    }
}

#[test]
fn a_stripped_program_keeps_its_manifest() {
    let bin = program("service");
    let dir = tmpdir("manifest-strip");
    let copy = dir.join("service");
    let r = run(std::process::Command::new(tool("strip"))
        .arg("-o")
        .arg(&copy)
        .arg(&bin));
    assert_eq!(r.status, Some(0), "{r:?}");
    let json = |p: &Path| {
        let mut v: Value = serde_json::from_str(&manifest("json", p).stdout).unwrap();
        v["program"] = Value::Null;
        v
    };
    assert_eq!(json(&copy), json(&bin));
}

/// A path that is not UTF-8 is opened as given (only its display is lossy).
#[test]
fn a_program_path_that_is_not_utf8_is_read() {
    use std::os::unix::ffi::OsStrExt;
    let bin = program("service");
    let dir = tmpdir("manifest-bytes");
    let copy = dir.join(std::ffi::OsStr::from_bytes(b"serv\xffice"));
    std::fs::copy(&bin, &copy).unwrap();
    let r = manifest("text", &copy);
    assert_eq!(r.stdout, manifest("text", &bin).stdout);
    let r = manifest("setcap", &copy);
    assert!(r.stdout.contains("serv\u{fffd}ice"), "{r:?}");
}

#[test]
fn files_without_a_manifest_are_clear_errors() {
    // The capscope command is linked with capscope but has no annotated function: its
    // manifest is empty, and says so.
    let cli = PathBuf::from(env!("CARGO_BIN_EXE_capscope"));
    assert_eq!(manifest("text", &cli).stdout, "needs: (none)\n");
    assert_eq!(
        manifest("setcap", &cli).stdout,
        format!("setcap -r {}\n", cli.display())
    );
    let dir = tmpdir("manifest-errors");
    let text = dir.join("notes.txt");
    std::fs::write(&text, "not a program\n").unwrap();
    for (path, want) in [
        (
            Path::new("/bin/sh"),
            "no capscope manifest (no section linkme_CAPSCOPE_MANIFEST)",
        ),
        (text.as_path(), "not an ELF program"),
        (Path::new("/nonexistent/program"), "/nonexistent/program: "),
    ] {
        let r = run(capscope().arg("manifest").arg(path));
        assert_eq!(r.status, Some(1), "{r:?}");
        assert!(r.stdout.is_empty(), "{r:?}");
        assert!(
            r.stderr.starts_with("capscope manifest: ") && r.stderr.contains(want),
            "{r:?}"
        );
    }
    let bin = program("quickstart");
    let r = run(capscope().args(["manifest", "--format", "yaml"]).arg(&bin));
    assert_eq!(r.status, Some(1));
    assert!(
        r.stderr.contains("\"yaml\" is not a manifest format"),
        "{r:?}"
    );
    let r = run(capscope().args(["manifest"]));
    assert_eq!(r.status, Some(1));
    assert!(r.stderr.starts_with("usage: capscope manifest"), "{r:?}");
    let r = run(capscope().args(["manifest", "-h"]));
    assert_eq!(r.status, Some(0));
    assert!(r.stdout.starts_with("usage: capscope manifest"), "{r:?}");
    // The other spellings of the option.
    assert_eq!(
        run(capscope().args(["manifest", "--format=json"]).arg(&bin)).stdout,
        run(capscope().args(["manifest", "-f", "json"]).arg(&bin)).stdout
    );
}
