//! [`Secbits`]: the securebits flags, as data (reading and setting them: `thread/securebits.rs`).
//!
//! # References
//!
//! capabilities(7) ("The securebits flags")

bitflags::bitflags! {
    /// The securebits flags. Bits the library does not name are kept (`from_bits_retain`,
    /// and a read-modify-write never clears them).
    ///
    /// # Examples
    ///
    /// ```
    /// use capscope::Secbits;
    /// let b = Secbits::from_bits_retain(1 << 20 | 1);
    /// assert!(b.contains(Secbits::NOROOT));
    /// assert_eq!((b | Secbits::KEEP_CAPS).bits(), 1 << 20 | 1 | 1 << 4);
    /// assert_eq!(Secbits::EXEC_DENY_INTERACTIVE_LOCKED.bits(), 1 << 11);
    /// ```
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
    pub struct Secbits: u32 {
        /// `SECBIT_NOROOT`: uid 0 gets no capabilities from `execve`.
        const NOROOT = 1 << 0;
        /// `SECBIT_NOROOT_LOCKED`: `NOROOT` cannot change any more.
        const NOROOT_LOCKED = 1 << 1;
        /// `SECBIT_NO_SETUID_FIXUP`: uid changes between 0 and non-0 leave capabilities alone.
        const NO_SETUID_FIXUP = 1 << 2;
        /// `SECBIT_NO_SETUID_FIXUP_LOCKED`: `NO_SETUID_FIXUP` cannot change any more.
        const NO_SETUID_FIXUP_LOCKED = 1 << 3;
        /// `SECBIT_KEEP_CAPS`: keep the permitted set when all uids become non-zero.
        const KEEP_CAPS = 1 << 4;
        /// `SECBIT_KEEP_CAPS_LOCKED`: `KEEP_CAPS` cannot change any more.
        const KEEP_CAPS_LOCKED = 1 << 5;
        /// `SECBIT_NO_CAP_AMBIENT_RAISE`: the ambient set cannot be raised.
        const NO_CAP_AMBIENT_RAISE = 1 << 6;
        /// `SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED`: `NO_CAP_AMBIENT_RAISE` cannot change any more.
        const NO_CAP_AMBIENT_RAISE_LOCKED = 1 << 7;
        /// `SECBIT_EXEC_RESTRICT_FILE` (Linux 6.14): script interpreters must check
        /// `execveat(AT_EXECVE_CHECK)` before running a file.
        const EXEC_RESTRICT_FILE = 1 << 8;
        /// `SECBIT_EXEC_RESTRICT_FILE_LOCKED` (Linux 6.14).
        const EXEC_RESTRICT_FILE_LOCKED = 1 << 9;
        /// `SECBIT_EXEC_DENY_INTERACTIVE` (Linux 6.14): interpreters must refuse interactive
        /// input.
        const EXEC_DENY_INTERACTIVE = 1 << 10;
        /// `SECBIT_EXEC_DENY_INTERACTIVE_LOCKED` (Linux 6.14).
        const EXEC_DENY_INTERACTIVE_LOCKED = 1 << 11;

        // Keep every bit, named or not.
        const _ = !0;
    }
}

impl Secbits {
    /// The lock bits (each flag's `_LOCKED` companion).
    pub const ALL_LOCKS: Secbits = Secbits::NOROOT_LOCKED
        .union(Secbits::NO_SETUID_FIXUP_LOCKED)
        .union(Secbits::KEEP_CAPS_LOCKED)
        .union(Secbits::NO_CAP_AMBIENT_RAISE_LOCKED)
        .union(Secbits::EXEC_RESTRICT_FILE_LOCKED)
        .union(Secbits::EXEC_DENY_INTERACTIVE_LOCKED);
}
