//! A small `getcap`: prints each file's capabilities in libcap's text, as `getcap -n` does
//! (one system call per file: `lgetxattr`, never following a symlink). With `--text TEXT`,
//! parses TEXT as libcap's capability state text and prints it back the way libcap would
//! (`--repeat N` does that N times, with no system call).
//!
//! ```text
//! cargo run -p capscope-examples --example getcap -- /usr/bin/ping
//! cargo run -p capscope-examples --example getcap -- --text 'cap_chown+ep cap_kill=i'
//! ```

use capscope::{CapState, FileCaps};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--text" {
            let text = args.next().ok_or("--text needs a text")?;
            let repeat: usize = match args.next() {
                Some(flag) if flag == "--repeat" => {
                    args.next().ok_or("--repeat needs a count")?.parse()?
                }
                Some(other) => return Err(format!("unexpected argument {other:?}").into()),
                None => 1,
            };
            let mut out = String::new();
            for _ in 0..repeat {
                let state: CapState = std::hint::black_box(text.as_str()).parse()?;
                out = state.to_string();
            }
            println!("{out}");
            continue;
        }
        if let Some(fc) = FileCaps::get_for_file(&arg)? {
            match fc.rootid {
                Some(id) => println!("{arg} {fc} [rootid={id}]"),
                None => println!("{arg} {fc}"),
            }
        }
    }
    Ok(())
}
