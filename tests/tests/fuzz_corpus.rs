//! Replays the committed cargo-fuzz corpora (`fuzz/corpus/<target>/`) through the same checks
//! the fuzz targets run, as ordinary tests.

#[path = "../../fuzz/checks.rs"]
mod checks;

use std::path::PathBuf;

fn replay(target: &str, check: fn(&[u8])) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let entries =
        std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("cannot read the corpus {dir:?}: {e}"));
    let mut n = 0;
    for entry in entries {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {path:?}: {e}"));
        if let Err(p) = std::panic::catch_unwind(|| check(&data)) {
            std::panic::resume_unwind(Box::new(format!(
                "{target}: {path:?} fails: {:?}",
                p.downcast_ref::<String>()
            )));
        }
        n += 1;
    }
    assert!(n >= 10, "the {target} corpus has only {n} inputs");
}

#[test]
fn text_corpus() {
    replay("text", checks::text);
}

#[test]
fn cap_name_corpus() {
    replay("cap_name", checks::cap_name);
}

#[test]
fn xattr_corpus() {
    replay("xattr", checks::xattr);
}
