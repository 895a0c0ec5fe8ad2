//! The link-time manifest: every `#[requires_caps]` and `#[drop_caps_after]` function of this
//! test binary is listed with what its attribute declares and where it is; the records are
//! plain bytes that read back the same; `needs`, `excess` and `restrict` follow from them; the
//! renderings hold what the records say (JSON checked by parsing it). The renderings of a built
//! program's file, through `capscope manifest`, are tested in `examples/tests/cli_manifest.rs`.

use capscope::manifest::{
    entries, excess, needs, required, restrict, Entry, Format, Kind, Manifest, RECORD_SIZE,
};
use capscope::{capset, drop_caps_after, requires_caps, Cap, CapSet, CapState};
use capscope_tests::{assert_pass, check, ensure, privileged};

#[requires_caps(net_bind_service)]
fn bind_http() -> capscope::Result<()> {
    Ok(())
}

#[requires_caps(net_raw, chown, exclusive)]
fn raw_and_chown() {}

mod nested {
    pub(crate) struct S;
    impl S {
        #[capscope::requires_caps(kill)]
        pub(crate) async fn method(&self) {}
    }
}

#[drop_caps_after(
    keep(net_bind_service),
    bounding,
    no_new_privs,
    uid = 65534,
    gid = 65533
)]
fn init() -> capscope::Result<()> {
    Ok(())
}

#[drop_caps_after(user = "nobody", all_threads)]
fn become_nobody() -> capscope::Result<()> {
    Ok(())
}

/// A path longer than the record's 240 bytes: its end is kept, and it is marked.
mod first_module_whose_name_is_long_enough_to_matter_when_nested {
    pub(crate) mod second_module_whose_name_is_long_enough_to_matter_when_nested {
        pub(crate) mod third_module_whose_name_is_long_enough_to_matter_when_nested {
            pub(crate) mod fourth_module_whose_name_is_long_enough_to_matter_when_nested {
                #[capscope::requires_caps(sys_time)]
                pub(crate) fn deep_function_é() {}
            }
        }
    }
}

fn entry(suffix: &str) -> &'static Entry {
    entries()
        .iter()
        .find(|e| e.function().ends_with(suffix))
        .unwrap_or_else(|| panic!("{suffix} is not listed: {:#?}", entries()))
}

#[test]
fn lists_every_annotated_function_of_the_binary() {
    // Referenced so that they are compiled in; the manifest does not need them to run.
    let _ = (
        bind_http,
        raw_and_chown,
        nested::S::method,
        init,
        become_nobody,
    );
    assert_eq!(entries().len(), 6, "{:#?}", entries());
    let b = entry("manifest::bind_http");
    assert_eq!(b.kind(), Kind::RequiresCaps);
    assert_eq!(b.caps(), CapSet::from(Cap::NET_BIND_SERVICE));
    assert!(!b.is_exclusive() && !b.is_truncated());
    assert!(b.file().ends_with("manifest.rs"), "{}", b.file());
    assert_eq!(b.line(), 13);
    assert_eq!(
        b.to_string(),
        format!(
            "#[requires_caps(cap_net_bind_service)] manifest::bind_http at {}:13",
            b.file()
        )
    );
    let r = entry("manifest::raw_and_chown");
    assert_eq!(r.caps(), capset![Cap::NET_RAW, Cap::CHOWN]);
    assert!(r.is_exclusive());
    let m = entry("manifest::nested::method");
    assert_eq!(m.caps(), CapSet::from(Cap::KILL));

    let i = entry("manifest::init");
    assert_eq!(i.kind(), Kind::DropCapsAfter);
    assert_eq!(i.caps(), CapSet::from(Cap::NET_BIND_SERVICE));
    assert!(i.drops_bounding() && i.sets_no_new_privs() && !i.is_all_threads());
    assert_eq!(
        (i.uid(), i.gid(), i.user()),
        (Some(65534), Some(65533), None)
    );
    assert_eq!(i.needs(), capset![Cap::SETPCAP, Cap::SETUID, Cap::SETGID]);
    assert!(i
        .to_string()
        .starts_with("#[drop_caps_after(keep(cap_net_bind_service), bounding, no_new_privs, uid = 65534, gid = 65533)] manifest::init at "));
    let n = entry("manifest::become_nobody");
    assert_eq!((n.uid(), n.gid(), n.user()), (None, None, Some("nobody")));
    assert!(n.is_all_threads() && n.caps().is_empty());
    assert_eq!(n.needs(), capset![Cap::SETUID, Cap::SETGID]);

    assert_eq!(
        required(),
        capset![
            Cap::NET_BIND_SERVICE,
            Cap::NET_RAW,
            Cap::CHOWN,
            Cap::KILL,
            Cap::SYS_TIME
        ]
    );
    assert_eq!(
        needs(),
        required() | capset![Cap::SETPCAP, Cap::SETUID, Cap::SETGID]
    );
}

#[test]
fn an_overlong_path_keeps_its_end_and_is_marked() {
    let d = entry("::deep_function_é");
    assert!(d.is_truncated());
    assert!(
        d.function().len() <= 240 && d.function().len() > 200,
        "{}",
        d.function()
    );
    assert!(
        d.to_string()
            .starts_with("#[requires_caps(cap_sys_time)] …"),
        "{d}"
    );
    let full: String = ["first", "second", "third", "fourth"]
        .iter()
        .map(|w| format!("::{w}_module_whose_name_is_long_enough_to_matter_when_nested"))
        .collect();
    let full = format!("manifest{full}::deep_function_é");
    assert!(full.ends_with(d.function()) && full.len() > 240);
}

#[test]
fn records_are_plain_bytes_that_read_back_the_same() {
    for e in entries() {
        let bytes = e.to_bytes();
        assert_eq!(&bytes[..8], b"CAPSCOPE");
        assert_eq!(Entry::from_bytes(&bytes).as_ref(), Ok(e));
    }
    let all: Vec<u8> = entries().iter().flat_map(Entry::to_bytes).collect();
    assert_eq!(Manifest::from_section(&all), Ok(Manifest::current()));
    // Damaged records are errors, never a panic or a wrong entry.
    let good = entry("manifest::bind_http").to_bytes();
    let damaged = |at: usize, value: u8| {
        let mut b = good;
        b[at] = value;
        Entry::from_bytes(&b).map_err(|e| e.to_string())
    };
    assert!(damaged(0, b'X').unwrap_err().contains("magic"));
    assert!(damaged(8, 2).unwrap_err().contains("version 2"));
    assert!(damaged(10, 3).unwrap_err().contains("kind 3"));
    assert!(damaged(11, 128).unwrap_err().contains("flags"));
    assert!(damaged(14, 241).unwrap_err().contains("length"));
    assert!(damaged(40, 0xff).unwrap_err().contains("UTF-8"));
    assert!(damaged(13, 1).unwrap_err().contains("user"));
    assert!(damaged(18, 1).unwrap_err().contains("reserved"));
    assert!(Manifest::from_section(&all[..RECORD_SIZE + 1])
        .unwrap_err()
        .to_string()
        .contains("whole number"));
}

#[test]
fn the_json_rendering_holds_every_record() {
    let m = Manifest::current();
    let json = m.render(Format::Json, "/opt/my \"app\"");
    let v: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
    assert_eq!(v["program"], "/opt/my \"app\"");
    let list = v["entries"].as_array().expect("entries");
    assert_eq!(list.len(), entries().len());
    for (j, e) in list.iter().zip(m.entries()) {
        assert_eq!(j["function"], e.function());
        assert_eq!(j["file"], e.file());
        assert_eq!(j["line"], e.line());
        assert_eq!(j["kind"], e.kind().name());
        let caps = match e.kind() {
            Kind::RequiresCaps => &j["caps"],
            Kind::DropCapsAfter => &j["keep"],
        };
        let caps: CapSet = caps
            .as_array()
            .expect("a list")
            .iter()
            .map(|c| {
                c.as_str()
                    .expect("a name")
                    .parse::<Cap>()
                    .expect("a capability")
            })
            .collect();
        assert_eq!(caps, e.caps());
    }
    let init = list
        .iter()
        .find(|j| j["function"] == "manifest::init")
        .expect("init");
    assert_eq!(init["uid"], 65534);
    assert_eq!(init["user"], serde_json::Value::Null);
    assert_eq!(init["bounding"], true);
    let needs_json: CapSet = v["needs"]
        .as_array()
        .expect("needs")
        .iter()
        .map(|c| c.as_str().unwrap().parse::<Cap>().unwrap())
        .collect();
    assert_eq!(needs_json, needs());
    assert_eq!(v["no_new_privs"], true);
}

#[test]
fn the_text_rendering_is_one_line_per_function_then_the_needs() {
    let text = Manifest::current().render(Format::Text, "x");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), entries().len() + 1, "{text}");
    for e in entries() {
        assert!(lines.contains(&e.to_string().as_str()), "{e} in {text}");
    }
    assert_eq!(lines.last(), Some(&format!("needs: {}", needs()).as_str()));
}

#[test]
fn excess_is_what_is_permitted_beyond_the_needs() {
    assert_pass(privileged(|| {
        let permitted = check!(CapState::get_current()).permitted;
        ensure!(check!(excess()) == permitted - needs());
        check!(restrict(&capscope::drop_after::DropOptions::new()));
        ensure!(check!(excess()).is_empty(), "{:?}", check!(excess()));
        Ok(())
    }));
}

#[test]
fn restrict_drops_every_other_capability() {
    assert_pass(privileged(|| {
        let before = check!(CapState::get_current());
        ensure!(
            before.permitted.is_superset(needs()),
            "the child lacks {:?}",
            needs() - before.permitted
        );
        check!(restrict(&capscope::drop_after::DropOptions::new()));
        let after = check!(CapState::get_current());
        ensure!(
            after.permitted == needs(),
            "permitted: {:?}",
            after.permitted
        );
        ensure!(
            after.effective.is_empty() && after.inheritable.is_empty(),
            "the effective set is left as scopes expect it (empty outside them): {after:?}"
        );
        // The functions still work.
        check!(bind_http());
        Ok(())
    }));
}

#[test]
fn restrict_with_bounding_also_limits_the_bounding_set() {
    assert_pass(privileged(|| {
        check!(restrict(
            &capscope::drop_after::DropOptions::new().bounding()
        ));
        let full = check!(capscope_tests::state::full());
        ensure!(
            full.bounding.is_subset(needs()),
            "bounding: {:?}",
            full.bounding
        );
        ensure!(
            full.caps.permitted == needs(),
            "permitted: {:?}",
            full.caps.permitted
        );
        ensure!(full.ambient.is_empty());
        Ok(())
    }));
}
