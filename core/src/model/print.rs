//! A [`FullCapState`] as `capsh --print` prints it: the capability lines (`Current:`,
//! `Bounding set =`, `Ambient set =`, `Current IAB:`, `Securebits:` and the `secure-*`
//! lines), and libcap's IAB text on its own.
//!
//! What `capsh --print` prints after these lines (uids, gids, groups and the guessed mode)
//! does not depend on the capability state alone; the `capscope print` command adds them.

use std::fmt;

use crate::{Cap, CapSet, FullCapState, Secbits};

/// A [`FullCapState`] as the capability lines of `capsh --print`: see
/// [`FullCapState::print_for`].
#[derive(Debug, Clone, Copy)]
pub struct PrintText<'a> {
    state: &'a FullCapState,
    last: Cap,
}

/// A thread's inheritable, ambient and bounding sets in libcap's IAB text
/// (`cap_iab_to_text`): see [`FullCapState::iab_for`].
#[derive(Debug, Clone, Copy)]
pub struct IabText {
    inheritable: CapSet,
    ambient: CapSet,
    bounding: CapSet,
    last: Cap,
}

impl FullCapState {
    /// The capability lines of `capsh --print` (libcap 2.66), byte for byte, as capsh prints
    /// them on a kernel whose last capability is `last`
    /// ([`kernel::last_supported`](crate::kernel::last_supported) for the running one). Each
    /// line ends with a newline:
    ///
    /// ```text
    /// Current: cap_net_raw=ep
    /// Bounding set =cap_chown,cap_dac_override,...
    /// Ambient set =
    /// Current IAB: !cap_sys_module
    /// Securebits: 00/0x0/1'b0 (no-new-privs=0)
    ///  secure-noroot: no (unlocked)
    ///  secure-no-suid-fixup: no (unlocked)
    ///  secure-keep-caps: no (unlocked)
    ///  secure-no-ambient-raise: no (unlocked)
    /// ```
    ///
    /// `Current:` is libcap's text of the three sets ([`CapState::text_for`](crate::CapState::text_for)).
    /// The bounding and ambient lines list every capability of the set, by libcap name or, for
    /// capabilities libcap 2.66 does not name (41 and up), by number; a state read from the
    /// kernel has none above `last`. `Current IAB:` is [`iab_for`](Self::iab_for).
    ///
    /// `/proc` does not show securebits, so a state read from it (securebits `None`) prints
    /// `Securebits: unknown (not shown in /proc) (no-new-privs=N)` and no `secure-*` lines;
    /// capsh, which always reads its own securebits, never prints that line. Where capsh
    /// finds no ambient support (Linux before 4.3) it prints `Ambient set = <unsupported>`
    /// and no `secure-no-ambient-raise` line; capscope needs ambient support to read a state,
    /// so this never prints them.
    ///
    /// # Examples
    ///
    /// ```
    /// use capscope::{Cap, CapSet, CapState, FullCapState, Secbits};
    ///
    /// let s = FullCapState {
    ///     caps: "cap_net_raw=eip".parse()?,
    ///     ambient: CapSet::from(Cap::NET_RAW),
    ///     bounding: CapSet::from(Cap::NET_RAW) | Cap::CHOWN,
    ///     securebits: Some(Secbits::KEEP_CAPS),
    ///     no_new_privs: true,
    ///     keepcaps: Some(true),
    /// };
    /// let older_kernel = Cap::from_u8(37).unwrap(); // Linux 5.4: up to cap_audit_read
    /// let text = s.print_for(older_kernel).to_string();
    /// let lines: Vec<&str> = text.lines().collect();
    /// assert_eq!(lines[0], "Current: cap_net_raw=eip");
    /// assert_eq!(lines[1], "Bounding set =cap_chown,cap_net_raw");
    /// assert_eq!(lines[2], "Ambient set =cap_net_raw");
    /// assert!(lines[3].starts_with("Current IAB: !cap_dac_override,"));
    /// assert!(lines[3].ends_with(",!cap_audit_read")); // nothing above the kernel's last
    /// assert_eq!(lines[4], "Securebits: 020/0x10/5'b10000 (no-new-privs=1)");
    /// assert_eq!(lines[7], " secure-keep-caps: yes (unlocked)");
    /// assert_eq!(lines.len(), 9);
    /// # Ok::<(), capscope::ParseStateError>(())
    /// ```
    ///
    /// # References
    ///
    /// capsh(1) (`--print`), cap_to_text(3), cap_iab(3), capabilities(7)
    #[must_use]
    pub fn print_for(&self, last: Cap) -> PrintText<'_> {
        PrintText { state: self, last }
    }

    /// The inheritable, ambient and bounding sets in libcap's IAB text, as `cap_iab_to_text`
    /// writes it on a kernel whose last capability is `last`: for each capability up to
    /// `last` that is inheritable, ambient or missing from the bounding set, in order and
    /// separated by commas, its name prefixed with `!` when it is missing from the bounding
    /// set, then `^` when it is ambient, or else `%` when it is both inheritable and
    /// missing from the bounding set. Empty when no capability is any of these.
    ///
    /// This is the `Current IAB:` line of `capsh --print` and the bracketed part of
    /// `getpcaps --iab`.
    ///
    /// # Examples
    ///
    /// ```
    /// use capscope::{Cap, CapSet, CapState, FullCapState};
    ///
    /// let mut s = FullCapState {
    ///     caps: CapState::empty(),
    ///     ambient: CapSet::empty(),
    ///     bounding: CapSet::up_to(Cap::LAST_KNOWN),
    ///     securebits: None,
    ///     no_new_privs: false,
    ///     keepcaps: None,
    /// };
    /// assert_eq!(s.iab_for(Cap::LAST_KNOWN).to_string(), "");
    /// s.caps.inheritable = Cap::CHOWN | Cap::KILL;
    /// s.caps.permitted = CapSet::from(Cap::KILL);
    /// s.ambient = CapSet::from(Cap::KILL);
    /// s.bounding = s.bounding - Cap::CHOWN - Cap::SYS_ADMIN;
    /// assert_eq!(s.iab_for(Cap::LAST_KNOWN).to_string(), "!%cap_chown,^cap_kill,!cap_sys_admin");
    /// ```
    ///
    /// # References
    ///
    /// cap_iab(3)
    #[doc(alias = "cap_iab_to_text")]
    #[must_use]
    pub fn iab_for(&self, last: Cap) -> IabText {
        IabText {
            inheritable: self.caps.inheritable,
            ambient: self.ambient,
            bounding: self.bounding,
            last,
        }
    }
}

impl fmt::Display for IabText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for c in CapSet::up_to(self.last) {
            let (i, a, nb) = (
                self.inheritable.has(c),
                self.ambient.has(c),
                !self.bounding.has(c),
            );
            if !(i || a || nb) {
                continue;
            }
            if !first {
                f.write_str(",")?;
            }
            first = false;
            if nb {
                f.write_str("!")?;
            }
            if a {
                f.write_str("^")?;
            } else if nb && i {
                f.write_str("%")?;
            }
            fmt::Display::fmt(&c, f)?;
        }
        Ok(())
    }
}

fn yes_no(bits: Secbits, flag: Secbits) -> &'static str {
    if bits.contains(flag) {
        "yes"
    } else {
        "no"
    }
}

fn locked(bits: Secbits, lock: Secbits) -> &'static str {
    if bits.contains(lock) {
        "locked"
    } else {
        "unlocked"
    }
}

impl fmt::Display for PrintText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.state;
        writeln!(f, "Current: {}", s.caps.text_for(self.last))?;
        writeln!(f, "Bounding set ={}", s.bounding)?;
        writeln!(f, "Ambient set ={}", s.ambient)?;
        writeln!(f, "Current IAB: {}", s.iab_for(self.last))?;
        let nnp = u8::from(s.no_new_privs);
        let Some(bits) = s.securebits else {
            return writeln!(
                f,
                "Securebits: unknown (not shown in /proc) (no-new-privs={nnp})"
            );
        };
        let raw = bits.bits();
        let binary = format!("{raw:b}");
        writeln!(
            f,
            "Securebits: 0{raw:o}/0x{raw:x}/{}'b{binary} (no-new-privs={nnp})",
            binary.len()
        )?;
        for (name, flag, lock) in [
            ("noroot", Secbits::NOROOT, Secbits::NOROOT_LOCKED),
            (
                "no-suid-fixup",
                Secbits::NO_SETUID_FIXUP,
                Secbits::NO_SETUID_FIXUP_LOCKED,
            ),
            ("keep-caps", Secbits::KEEP_CAPS, Secbits::KEEP_CAPS_LOCKED),
            (
                "no-ambient-raise",
                Secbits::NO_CAP_AMBIENT_RAISE,
                Secbits::NO_CAP_AMBIENT_RAISE_LOCKED,
            ),
        ] {
            writeln!(
                f,
                " secure-{name}: {} ({})",
                yes_no(bits, flag),
                locked(bits, lock)
            )?;
        }
        Ok(())
    }
}

impl fmt::Display for FullCapState {
    /// The capability lines of `capsh --print`, each ending with a newline, as capsh prints
    /// them on a kernel whose last capability is [`Cap::LAST_KNOWN`]: see
    /// [`print_for`](FullCapState::print_for), which takes the kernel's last capability.
    ///
    /// ```
    /// let me = capscope::FullCapState::get_current()?;
    /// let text = me.to_string();
    /// assert!(text.starts_with("Current: ") && text.contains("\nSecurebits: "));
    /// # Ok::<(), capscope::Error>(())
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.print_for(Cap::LAST_KNOWN), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CapState;

    fn state() -> FullCapState {
        FullCapState {
            caps: CapState::empty(),
            ambient: CapSet::empty(),
            bounding: CapSet::all_known(),
            securebits: Some(Secbits::empty()),
            no_new_privs: false,
            keepcaps: Some(false),
        }
    }

    #[test]
    fn securebits_lines() {
        let mut s = state();
        let text = s.to_string();
        assert!(
            text.contains("\nSecurebits: 00/0x0/1'b0 (no-new-privs=0)\n"),
            "{text}"
        );
        assert!(
            text.ends_with(" secure-no-ambient-raise: no (unlocked)\n"),
            "{text}"
        );
        s.securebits = Some(Secbits::from_bits_retain(0x2f));
        s.no_new_privs = true;
        let text = s.to_string();
        assert!(text.contains("\nSecurebits: 057/0x2f/6'b101111 (no-new-privs=1)\n"));
        assert!(text.contains("\n secure-noroot: yes (locked)\n"));
        assert!(text.contains("\n secure-keep-caps: no (locked)\n"));
        s.securebits = None;
        let text = s.to_string();
        assert!(text.ends_with("\nSecurebits: unknown (not shown in /proc) (no-new-privs=1)\n"));
        assert_eq!(text.lines().count(), 5);
    }

    #[test]
    fn iab_covers_every_combination() {
        // Capability n gets combination n % 8 of (I, A, not-B).
        let mut s = state();
        s.bounding = CapSet::full();
        for c in Cap::known() {
            let k = c.as_u8() % 8;
            if k & 1 != 0 {
                s.caps.inheritable.add(c);
            }
            if k & 2 != 0 {
                s.ambient.add(c);
            }
            if k & 4 != 0 {
                s.bounding.drop(c);
            }
        }
        let text = s.iab_for(Cap::LAST_KNOWN).to_string();
        let items: Vec<&str> = text.split(',').collect();
        assert_eq!(
            &items[..7],
            [
                "cap_dac_override",
                "^cap_dac_read_search",
                "^cap_fowner",
                "!cap_fsetid",
                "!%cap_kill",
                "!^cap_setgid",
                "!^cap_setuid"
            ]
        );
        assert_eq!(items.len(), 41 - 41 / 8 - 1);
        // Nothing above the kernel's last capability, whatever the sets hold.
        s.bounding = CapSet::empty();
        assert_eq!(
            s.iab_for(Cap::from_u8(2).unwrap()).to_string(),
            "!cap_chown,!%cap_dac_override,!^cap_dac_read_search"
        );
    }
}
