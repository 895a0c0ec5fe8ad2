//! The link-time capability manifest: every function of the program annotated with
//! `#[requires_caps]` or `#[drop_caps_after]`, what its attribute declares, and where it is.
//!
//! Each expansion of the two attributes puts one [`Entry`] into the program, in a link-time
//! registry (a [`linkme`] distributed slice, the ELF section [`SECTION`]), so the final program
//! holds, without running anything, every capability its code may ever raise. At run time:
//! [`entries`], [`required`] (what the scopes raise), [`needs`] (that, plus what the drops need
//! to run), [`excess`] (permitted capabilities nothing needs: a start-up audit), [`restrict`]
//! (drop everything else at start-up) and [`render`] (the grants a deployment needs, for
//! `setcap`, systemd, Docker, Compose or Kubernetes: [`Format`]). Without running the program:
//! `capscope manifest PROGRAM --format ...` reads the same records from its file (each is
//! plain data: see [`Entry`]) and prints the same renderings.
//!
//! # What the manifest covers
//!
//! Exactly the functions annotated with the attributes, in every crate linked into the
//! program, whether they are ever called or not (the linker keeps the section: it is marked
//! retained). Not covered: guards made directly ([`RaiseGuard`](crate::RaiseGuard),
//! [`with_caps`](crate::with_caps), [`RaisedFuture`](crate::future::RaisedFuture)), whose
//! capabilities are values known only at run time; drops made with
//! [`drop_all`](crate::drop_after::drop_all) or [`DropAfter`](crate::drop_after::DropAfter);
//! and capabilities the program uses without raising them (already effective). A program that
//! uses those must add their capabilities to what it grants, and [`restrict`] would drop them:
//! use [`restrict_to`] then.
//!
//! # Examples
//!
//! ```
//! use capscope::manifest::{self, Format, Kind};
//!
//! for entry in manifest::entries() {
//!     // `#[requires_caps(cap_net_raw)] server::ping at src/main.rs:12`
//!     println!("{entry}");
//!     if entry.kind() == Kind::RequiresCaps {
//!         assert!(entry.caps().is_subset(manifest::required()));
//!     }
//! }
//! // The systemd directives this program needs.
//! print!("{}", manifest::render(Format::Systemd));
//! ```
//!
//! # References
//!
//! capabilities(7), setcap(8), systemd.exec(5) (`CapabilityBoundingSet=`,
//! `AmbientCapabilities=`, `NoNewPrivileges=`)

mod entry;
mod render;
#[cfg(feature = "serde")]
mod serde;

pub use entry::{Entry, Kind, ParseEntryError, RECORD_SIZE, SECTION};
pub use render::{Format, ParseFormatError};

use crate::drop_after::DropOptions;
use crate::error::Result;
use crate::process::Report;
use crate::{CapSet, CapState};

/// Every annotated function linked into the program, in no particular order.
#[must_use]
pub fn entries() -> &'static [Entry] {
    &crate::scope::private::CAPSCOPE_MANIFEST
}

/// The union of the capabilities that the `#[requires_caps]` functions raise: all the program
/// may raise.
///
/// # Examples
///
/// ```
/// use capscope::manifest::{entries, required, Kind};
///
/// let caps = required();
/// assert!(entries().iter().filter(|e| e.kind() == Kind::RequiresCaps).all(|e| e.caps().is_subset(caps)));
/// ```
#[must_use]
pub fn required() -> CapSet {
    Manifest::of(entries()).required()
}

/// What the program needs in its permitted set at start-up: [`required`], plus what its
/// `#[drop_caps_after]` functions need to run (`cap_setpcap` for `bounding`, `cap_setuid` and
/// `cap_setgid` to change ids): see [`Entry::needs`]. What the deployment renderings grant.
///
/// # Examples
///
/// ```
/// assert!(capscope::manifest::needs().is_superset(capscope::manifest::required()));
/// ```
#[must_use]
pub fn needs() -> CapSet {
    Manifest::of(entries()).needs()
}

/// The calling thread's permitted capabilities that no annotated function needs (permitted
/// minus [`needs`]): a start-up audit, to warn when the program was given more than it
/// declares (then [`restrict`] drops them).
///
/// # Errors
///
/// When `capget` fails.
///
/// # Examples
///
/// A warning in the logs at start-up:
///
/// ```
/// let extra = capscope::manifest::excess()?;
/// if !extra.is_empty() {
///     // warning: permitted capabilities no #[requires_caps] function needs: cap_sys_admin,cap_kill
///     eprintln!("warning: permitted capabilities no #[requires_caps] function needs: {extra}");
/// }
/// assert!((extra & capscope::manifest::needs()).is_empty());
/// # Ok::<(), capscope::Error>(())
/// ```
pub fn excess() -> Result<CapSet> {
    Ok(CapState::get_current()?.permitted - needs())
}

/// The running program's manifest in `format` ([`Manifest::render`]), naming the program by
/// its executable's path (`/proc/self/exe`; `argv[0]` when that cannot be read).
///
/// # Examples
///
/// ```
/// use capscope::manifest::{self, Format};
///
/// // At start-up, in the logs: what to grant this program in its systemd unit.
/// for line in manifest::render(Format::Systemd).lines() {
///     println!("capability manifest: {line}");
/// }
/// ```
#[must_use]
pub fn render(format: Format) -> String {
    let program = std::env::current_exe()
        .map(|p| p.to_string_lossy().into_owned())
        .or_else(|_| std::env::args().next().ok_or(()))
        .unwrap_or_default();
    Manifest::current().render(format, &program)
}

/// Drops every capability that the annotated functions do not need ([`needs`]), for good: the
/// permitted set keeps only [`needs`] (plus what `opts` keeps), the effective and inheritable
/// sets are emptied (scopes raise what they need when they run), the ambient set is cleared,
/// and with [`DropOptions::bounding`] the bounding set keeps only the same capabilities. It is
/// [`drop_all`](crate::drop_after::drop_all) with the manifest's capabilities kept, applied to
/// **every thread** of the process (through [`process::drop_all`](crate::process::drop_all),
/// each thread verified), so it can be called in `main` after a runtime started its threads.
///
/// What it keeps is what the manifest covers (see the [module docs](self)): a program that also
/// raises capabilities with guards made directly should use [`restrict_to`].
///
/// # Errors
///
/// As [`process::drop_all`](crate::process::drop_all): [`Error::Refused`](crate::Error::Refused)
/// before any change when a needed capability is not permitted (`bounding` needs
/// `CAP_SETPCAP`) or when other threads live and no `/proc` of the process's PID namespace
/// can list them.
///
/// # Thread scope
///
/// Every thread of the process.
///
/// # Examples
///
/// ```no_run
/// use capscope::drop_after::DropOptions;
///
/// fn main() -> capscope::Result<()> {
///     capscope::manifest::restrict(&DropOptions::new().bounding())?;
///     // From here on, only the capabilities of #[requires_caps] functions can be raised.
///     Ok(())
/// }
/// ```
///
/// # References
///
/// capset(2), prctl(2) (`PR_CAPBSET_DROP`)
pub fn restrict(opts: &DropOptions) -> Result<Report> {
    restrict_to(needs(), opts)
}

/// [`restrict`] keeping `keep` instead of the manifest's capabilities (plus what `opts` keeps).
///
/// # Errors
///
/// As [`restrict`].
///
/// # Thread scope
///
/// Every thread of the process.
///
/// # Examples
///
/// ```no_run
/// use capscope::{drop_after::DropOptions, manifest, Cap};
/// manifest::restrict_to(Cap::NET_BIND_SERVICE.into(), &DropOptions::new())?;
/// # Ok::<(), capscope::Error>(())
/// ```
pub fn restrict_to(keep: CapSet, opts: &DropOptions) -> Result<Report> {
    crate::process::drop_all(&opts.keep(keep))
}

/// A program's manifest: the running program's ([`Manifest::current`]) or one read from a
/// program's file ([`Manifest::from_section`]), in a stable order (by file, line, function).
///
/// # Examples
///
/// ```
/// use capscope::manifest::{Format, Manifest};
///
/// let here = Manifest::current();
/// // What `capscope manifest` reads from a file: the section's bytes.
/// let bytes: Vec<u8> = here.entries().iter().flat_map(|e| e.to_bytes()).collect();
/// let read = Manifest::from_section(&bytes)?;
/// assert_eq!(read, here);
/// assert_eq!(read.render(Format::Json, "p"), here.render(Format::Json, "p"));
/// # Ok::<(), capscope::manifest::ParseEntryError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Manifest {
    entries: Vec<Entry>,
}

impl Manifest {
    /// The manifest of these entries, sorted.
    fn of(entries: &[Entry]) -> Manifest {
        let mut entries = entries.to_vec();
        entries.sort_by(|a, b| {
            (a.file(), a.line(), a.function(), a.kind()).cmp(&(
                b.file(),
                b.line(),
                b.function(),
                b.kind(),
            ))
        });
        Manifest { entries }
    }

    /// The running program's manifest: [`entries`].
    #[must_use]
    pub fn current() -> Manifest {
        Manifest::of(entries())
    }

    /// The manifest held in the bytes of a program's [`SECTION`]: records of [`RECORD_SIZE`]
    /// bytes one after the other.
    ///
    /// # Errors
    ///
    /// [`ParseEntryError`] when the length is not a whole number of records, or a record is not
    /// one ([`Entry::from_bytes`]).
    pub fn from_section(bytes: &[u8]) -> std::result::Result<Manifest, ParseEntryError> {
        if bytes.len() % RECORD_SIZE != 0 {
            return Err(ParseEntryError::section(bytes.len()));
        }
        let entries = bytes
            .chunks_exact(RECORD_SIZE)
            .map(Entry::from_bytes)
            .collect::<std::result::Result<Vec<_>, _>>()?;
        Ok(Manifest::of(&entries))
    }

    /// The entries, by file, line and function.
    #[must_use]
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// As [`required`]: what the `#[requires_caps]` functions raise.
    #[must_use]
    pub fn required(&self) -> CapSet {
        self.entries
            .iter()
            .filter(|e| e.kind() == Kind::RequiresCaps)
            .fold(CapSet::empty(), |acc, e| acc | e.caps())
    }

    /// As [`needs`]: [`required`](Self::required) plus what the drops need.
    #[must_use]
    pub fn needs(&self) -> CapSet {
        self.entries
            .iter()
            .fold(CapSet::empty(), |acc, e| acc | e.needs())
    }

    /// Whether a `#[drop_caps_after(no_new_privs)]` function exists: the program declares
    /// that it never needs `execve` to grant privileges.
    #[must_use]
    pub fn no_new_privs(&self) -> bool {
        self.entries.iter().any(Entry::sets_no_new_privs)
    }
}
