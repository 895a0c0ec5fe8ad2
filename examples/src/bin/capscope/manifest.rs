//! `capscope manifest [--format FORMAT] PROGRAM`: the capability manifest of a built program,
//! read from its file without running it.
//!
//! Every `#[requires_caps]` and `#[drop_caps_after]` function puts a record into the program's
//! ELF section `linkme_CAPSCOPE_MANIFEST` (see `capscope::manifest::Entry` for the layout).
//! This reads the section with the `object` crate and prints it with capscope's own renderings
//! (`capscope::manifest::Format`), the same the running program gets from
//! `Manifest::render`:
//!
//! ```text
//! $ capscope manifest target/release/server
//! #[requires_caps(cap_net_bind_service)] server::bind at src/main.rs:10
//! #[drop_caps_after(no_new_privs)] server::init at src/main.rs:16
//! needs: cap_net_bind_service
//! $ capscope manifest --format systemd target/release/server
//! CapabilityBoundingSet=CAP_NET_BIND_SERVICE
//! AmbientCapabilities=CAP_NET_BIND_SERVICE
//! NoNewPrivileges=yes
//! ```
//!
//! A file that is not an ELF object, or a program without the section (not built with
//! capscope), is an error with exit status 1. A program built with capscope but without an
//! annotated function has an empty manifest (`needs: (none)`).

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;

use capscope::manifest::{Format, Manifest, SECTION};
use object::{Object, ObjectSection};

use crate::out::stdout;

/// The usage line.
pub(crate) const USAGE: &str = "usage: capscope manifest [--format FORMAT] PROGRAM\n\n\
    \tprints the capability manifest of a built program (its #[requires_caps] and\n\
    \t#[drop_caps_after] functions), read from its file without running it;\n\
    \tFORMAT: text (the default), json, setcap, systemd, docker, compose, k8s\n";

/// The manifest of the program at `path`.
fn read(path: &std::path::Path) -> Result<Manifest, String> {
    let data = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let file = object::File::parse(&*data)
        .map_err(|e| format!("{}: not an ELF program ({e})", path.display()))?;
    let section = file.section_by_name(SECTION).ok_or_else(|| {
        format!(
            "{}: no capscope manifest (no section {SECTION}): the program has no \
             #[requires_caps] or #[drop_caps_after] function, or was not built with capscope",
            path.display()
        )
    })?;
    let bytes = section
        .data()
        .map_err(|e| format!("{}: cannot read section {SECTION}: {e}", path.display()))?;
    Manifest::from_section(bytes).map_err(|e| format!("{}: {e}", path.display()))
}

/// Runs `manifest` with `args`; returns the exit status.
pub(crate) fn run(args: &[OsString]) -> i32 {
    let mut format = Format::Text;
    let mut program = None;
    let mut args = args.iter();
    while let Some(raw) = args.next() {
        let a = raw.to_string_lossy();
        let value = match a.as_ref() {
            "-h" | "--help" => {
                print!("{USAGE}");
                return 0;
            }
            "-f" | "--format" => match args.next() {
                Some(v) => v.to_string_lossy().into_owned(),
                None => {
                    eprint!("capscope manifest: {a} needs a FORMAT\n\n{USAGE}");
                    return 1;
                }
            },
            _ => match a.strip_prefix("--format=") {
                Some(v) => v.to_owned(),
                None if a.starts_with('-') && a.len() > 1 => {
                    eprint!("capscope manifest: unknown option {a:?}\n\n{USAGE}");
                    return 1;
                }
                None if program.is_some() => {
                    eprint!("capscope manifest: one PROGRAM only\n\n{USAGE}");
                    return 1;
                }
                None => {
                    // The path as given (it need not be UTF-8); lossy only where it is shown.
                    program = Some(PathBuf::from(raw));
                    continue;
                }
            },
        };
        match value.parse() {
            Ok(f) => format = f,
            Err(e) => {
                eprintln!("capscope manifest: {e}");
                return 1;
            }
        }
    }
    let Some(program) = program else {
        eprint!("{USAGE}");
        return 1;
    };
    match read(&program) {
        Ok(manifest) => {
            let mut out = stdout();
            let shown = program.to_string_lossy();
            let _ = out.write_all(manifest.render(format, &shown).as_bytes());
            i32::from(out.flush().is_err())
        }
        Err(e) => {
            eprintln!("capscope manifest: {e}");
            1
        }
    }
}
