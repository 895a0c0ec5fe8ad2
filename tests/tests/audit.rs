//! Audit events (capscope's `tracing` feature): every raise, restore, refusal, drop,
//! containment of a thread and process-wide change emits an event under `capscope::audit`,
//! captured here by a subscriber of the test's own.

#![cfg(feature = "audit")]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use capscope::drop_after::DropOptions;
use capscope::{Cap, CapState, RaiseGuard};
use capscope_tests::{assert_pass, check, ensure, privileged};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

type Fields = BTreeMap<String, String>;

/// Records every event of `capscope::audit` with its fields.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<Fields>>>);

struct Visitor<'a>(&'a mut Fields);

impl Visit for Visitor<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

impl Subscriber for Capture {
    fn enabled(&self, m: &Metadata<'_>) -> bool {
        m.target() == "capscope::audit"
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, e: &Event<'_>) {
        let mut f = Fields::new();
        f.insert("level".into(), e.metadata().level().to_string());
        e.record(&mut Visitor(&mut f));
        self.0.lock().unwrap().push(f);
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

impl Capture {
    fn install() -> Capture {
        let c = Capture::default();
        tracing::subscriber::set_global_default(c.clone()).expect("first subscriber of the child");
        c
    }

    fn events(&self, kind: &str) -> Vec<Fields> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|f| f.get("event").map(String::as_str) == Some(kind))
            .cloned()
            .collect()
    }
}

#[capscope::requires_caps(net_raw)]
fn audited() -> capscope::Result<()> {
    std::thread::sleep(std::time::Duration::from_millis(2));
    Ok(())
}

#[test]
fn raise_restore_refuse_contain_drop_and_process_events() {
    assert_pass(privileged(|| {
        let cap = Capture::install();
        let s = check!(CapState::get_current());
        check!(CapState {
            effective: s.effective - Cap::NET_RAW,
            ..s
        }
        .set_current());
        let me = capscope::current_tid().to_string();

        check!(audited());
        let raise = cap.events("raise");
        ensure!(raise.len() == 1, "{raise:?}");
        ensure!(raise[0]["function"].ends_with("::audited"), "{raise:?}");
        ensure!(raise[0]["caps"] == "cap_net_raw" && raise[0]["raised"] == "cap_net_raw");
        ensure!(raise[0]["tid"] == me);
        let restore = cap.events("restore");
        ensure!(restore.len() == 1, "{restore:?}");
        ensure!(restore[0]["lowered"] == "cap_net_raw");
        let held: u64 = restore[0]["held_us"].parse().unwrap();
        ensure!(held >= 2_000, "held {held} µs for a 2 ms scope");

        // A thread born inside a scope.
        let g = check!(RaiseGuard::raise(Cap::NET_RAW));
        let child = std::thread::spawn(capscope::current_tid).join().unwrap();
        drop(g);
        let contain = cap.events("contain");
        ensure!(
            contain
                .iter()
                .any(|e| e["tid"] == child.to_string() && e["lowered"] == "cap_net_raw"),
            "{contain:?}"
        );

        // A refusal.
        check!(CapState {
            effective: s.effective - Cap::NET_RAW,
            permitted: s.permitted - Cap::NET_RAW,
            ..s
        }
        .set_current());
        ensure!(audited().is_err());
        let refuse = cap.events("refuse");
        ensure!(
            refuse.len() == 1 && refuse[0]["missing"] == "cap_net_raw",
            "{refuse:?}"
        );
        ensure!(refuse[0]["level"] == "WARN");

        // A process-wide drop with a peer.
        let peer = std::thread::spawn(|| std::thread::sleep(std::time::Duration::from_millis(200)));
        check!(capscope::process::drop_all(
            &DropOptions::new().keep(Cap::CHOWN)
        ));
        let process = cap.events("process");
        ensure!(
            process
                .iter()
                .any(|e| e["op"] == "process::drop_all" && e["threads"] == "2"),
            "{process:?}"
        );
        let drop = cap.events("drop");
        ensure!(
            drop.iter()
                .any(|e| e["keep"] == "cap_chown" && e["threads"] == "2"),
            "{drop:?}"
        );
        peer.join().unwrap();
        Ok(())
    }));
}
