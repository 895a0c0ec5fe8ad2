//! Prints the calling thread's full capability state, as `capsh --print` does: the
//! `Current:` line is libcap's text (`cap_to_text`), byte for byte what capsh prints.
//!
//! ```text
//! cargo run -p capscope-examples --example inspect
//! ```

use capscope::{kernel, CapSet, FullCapState, Secbits};

/// Every capability, named (capsh names them all).
fn list(set: CapSet) -> String {
    capscope_examples::list(set, usize::MAX)
}

/// The `Uid:`/`Gid:`/`Groups:` lines of this thread's status: real, effective, saved, fs.
fn ids(status: &str, field: &str) -> String {
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .map(|v| v.split_whitespace().collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "?".to_owned())
}

fn flag(bits: Secbits, flag: Secbits, lock: Secbits) -> String {
    let on = if bits.contains(flag) { "yes" } else { "no" };
    let locked = if bits.contains(lock) {
        "locked"
    } else {
        "unlocked"
    };
    format!("{on} ({locked})")
}

fn main() -> Result<(), capscope::Error> {
    let s = FullCapState::get_current()?;
    let bits = s.securebits.expect("get_current reads securebits");
    // As capsh: libcap adapts the text to the running kernel's last capability.
    println!("Current: {}", s.caps.text_for(kernel::last_supported()?));
    println!("Thread:         {}", capscope::current_tid());
    println!("Effective:      {}", list(s.caps.effective));
    println!("Permitted:      {}", list(s.caps.permitted));
    println!("Inheritable:    {}", list(s.caps.inheritable));
    println!("Ambient set:    {}", list(s.ambient));
    println!("Bounding set:   {}", list(s.bounding));
    println!("Securebits:     {:#o}/{:#x}", bits.bits(), bits.bits());
    println!(
        " secure-noroot:           {}",
        flag(bits, Secbits::NOROOT, Secbits::NOROOT_LOCKED)
    );
    println!(
        " secure-no-suid-fixup:    {}",
        flag(
            bits,
            Secbits::NO_SETUID_FIXUP,
            Secbits::NO_SETUID_FIXUP_LOCKED
        )
    );
    println!(
        " secure-keep-caps:        {}",
        flag(bits, Secbits::KEEP_CAPS, Secbits::KEEP_CAPS_LOCKED)
    );
    println!(
        " secure-no-ambient-raise: {}",
        flag(
            bits,
            Secbits::NO_CAP_AMBIENT_RAISE,
            Secbits::NO_CAP_AMBIENT_RAISE_LOCKED
        )
    );
    println!(
        " secure-exec-restrict-file:    {}",
        flag(
            bits,
            Secbits::EXEC_RESTRICT_FILE,
            Secbits::EXEC_RESTRICT_FILE_LOCKED
        )
    );
    println!(
        " secure-exec-deny-interactive: {}",
        flag(
            bits,
            Secbits::EXEC_DENY_INTERACTIVE,
            Secbits::EXEC_DENY_INTERACTIVE_LOCKED
        )
    );
    println!("no_new_privs:   {}", u8::from(s.no_new_privs));
    println!("keepcaps:       {}", u8::from(s.keepcaps.unwrap_or(false)));
    let status = std::fs::read_to_string("/proc/thread-self/status").unwrap_or_default();
    println!("uid (r e s fs): {}", ids(&status, "Uid:"));
    println!("gid (r e s fs): {}", ids(&status, "Gid:"));
    println!("groups:         {}", ids(&status, "Groups:"));
    println!(
        "Kernel's last capability: {}",
        kernel::last_supported()?.as_u8()
    );
    Ok(())
}
