//! The manifest rendered for people and for the tools that deploy a program: one
//! implementation, used by [`Manifest::render`] at run time and by `capscope manifest` on a
//! program's file.

use std::fmt::{self, Write as _};
use std::str::FromStr;

use super::{Kind, Manifest};
use crate::{Cap, CapSet};

/// A rendering of a [`Manifest`] ([`Manifest::render`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// One line per annotated function (its attribute, path, file and line), then
    /// `needs: CAPS`.
    Text,
    /// A JSON object: `program`, `entries` (each with its `kind`, `function`, `file`, `line`
    /// and its attribute's arguments), `required`, `needs`, `no_new_privs`.
    Json,
    /// The `setcap` command that grants the needed capabilities as permitted file
    /// capabilities (`setcap cap_net_bind_service+p PROGRAM`), or removes them all
    /// (`setcap -r PROGRAM`) when nothing is needed.
    Setcap,
    /// systemd unit directives, one `KEY=VALUE` per line: `CapabilityBoundingSet=`,
    /// `AmbientCapabilities=` (both the needed capabilities, `CAP_NET_BIND_SERVICE` ...) and
    /// `NoNewPrivileges=yes` when a `#[drop_caps_after(no_new_privs)]` exists.
    Systemd,
    /// `docker run` flags on one line: `--cap-drop=ALL`, a `--cap-add=` per needed capability,
    /// `--security-opt=no-new-privileges` when declared.
    Docker,
    /// A Docker Compose service fragment (YAML): `cap_drop`, `cap_add`, `security_opt`.
    Compose,
    /// A Kubernetes container `securityContext` (YAML): `capabilities.drop: [ALL]`,
    /// `capabilities.add`, and `allowPrivilegeEscalation: false` when no_new_privs is declared
    /// (except with `CAP_SYS_ADMIN`, which Kubernetes refuses it with: a comment says so).
    K8s,
}

impl Format {
    /// Every format, in the order of the list above.
    pub const ALL: [Format; 7] = [
        Format::Text,
        Format::Json,
        Format::Setcap,
        Format::Systemd,
        Format::Docker,
        Format::Compose,
        Format::K8s,
    ];

    /// Its name, as `FromStr` reads it: `text`, `json`, `setcap`, `systemd`, `docker`,
    /// `compose`, `k8s`.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Format::Text => "text",
            Format::Json => "json",
            Format::Setcap => "setcap",
            Format::Systemd => "systemd",
            Format::Docker => "docker",
            Format::Compose => "compose",
            Format::K8s => "k8s",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Format {
    type Err = ParseFormatError;

    /// A format's [`name`](Format::name) (`kubernetes` is `k8s` too).
    fn from_str(s: &str) -> Result<Format, ParseFormatError> {
        if s == "kubernetes" {
            return Ok(Format::K8s);
        }
        Format::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| ParseFormatError(s.to_owned()))
    }
}

/// A name that is not a [`Format`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseFormatError(String);

impl fmt::Display for ParseFormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} is not a manifest format: expected text, json, setcap, systemd, docker, \
             compose or k8s",
            self.0
        )
    }
}

impl std::error::Error for ParseFormatError {}

/// `"..."` with JSON's escapes.
fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A JSON array of the libcap names of `caps`.
fn json_caps(caps: CapSet) -> String {
    let names: Vec<String> = caps.iter().map(|c| json_str(&c.to_string())).collect();
    format!("[{}]", names.join(", "))
}

fn json_opt<T: fmt::Display>(v: Option<T>) -> String {
    v.map_or_else(|| "null".to_owned(), |v| v.to_string())
}

/// The kernel's name without `CAP_` (`NET_BIND_SERVICE`), as Docker and Kubernetes write it;
/// the number for a capability newer than the library.
fn bare(cap: Cap) -> String {
    cap.kernel_name()
        .map_or_else(|| cap.as_u8().to_string(), str::to_owned)
}

/// `s` as one word of a POSIX shell command.
fn shell_word(s: &str) -> String {
    let plain = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+,:=@%".contains(&b));
    if plain {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

impl Manifest {
    /// The manifest in `format`; `program` is the program's path, for the formats that name
    /// it (`json`, `setcap`). Each format says what it holds: see [`Format`].
    ///
    /// The deployment formats grant [`needs`](Manifest::needs): what the annotated functions
    /// raise, plus what their drops need to run. They fit a program that starts as root (in
    /// its container, or as its systemd service's `User=`); a program started as another user
    /// gets the capabilities from `AmbientCapabilities=` (systemd) or from file capabilities
    /// (the `setcap` line).
    ///
    /// # Examples
    ///
    /// ```
    /// use capscope::manifest::{Format, Manifest};
    ///
    /// let m = Manifest::current();
    /// let unit = m.render(Format::Systemd, "/usr/bin/server");
    /// assert!(unit.lines().all(|l| l.contains('=')));
    /// assert!(m.render(Format::Setcap, "/usr/bin/server").starts_with("setcap "));
    /// ```
    #[must_use]
    pub fn render(&self, format: Format, program: &str) -> String {
        match format {
            Format::Text => self.text(),
            Format::Json => self.json(program),
            Format::Setcap => self.setcap(program),
            Format::Systemd => self.systemd(),
            Format::Docker => self.docker(),
            Format::Compose => self.compose(),
            Format::K8s => self.k8s(),
        }
    }

    fn text(&self) -> String {
        let mut out = String::new();
        for e in self.entries() {
            let _ = writeln!(out, "{e}");
        }
        let needs = self.needs();
        if needs.is_empty() {
            out.push_str("needs: (none)\n");
        } else {
            let _ = writeln!(out, "needs: {needs}");
        }
        out
    }

    fn json(&self, program: &str) -> String {
        let mut out = String::from("{\n");
        let _ = writeln!(out, "  \"program\": {},", json_str(program));
        out.push_str("  \"entries\": [");
        for (i, e) in self.entries().iter().enumerate() {
            out.push_str(if i == 0 { "\n" } else { ",\n" });
            let _ = write!(
                out,
                "    {{\"kind\": {}, \"function\": {}, \"file\": {}, \"line\": {}, ",
                json_str(e.kind().name()),
                json_str(e.function()),
                json_str(e.file()),
                e.line()
            );
            match e.kind() {
                Kind::RequiresCaps => {
                    let _ = write!(
                        out,
                        "\"caps\": {}, \"exclusive\": {}, ",
                        json_caps(e.caps()),
                        e.is_exclusive()
                    );
                }
                Kind::DropCapsAfter => {
                    let _ = write!(
                        out,
                        "\"keep\": {}, \"bounding\": {}, \"no_new_privs\": {}, \
                         \"all_threads\": {}, \"uid\": {}, \"gid\": {}, \"user\": {}, ",
                        json_caps(e.caps()),
                        e.drops_bounding(),
                        e.sets_no_new_privs(),
                        e.is_all_threads(),
                        json_opt(e.uid()),
                        json_opt(e.gid()),
                        e.user().map_or_else(|| "null".to_owned(), json_str)
                    );
                }
            }
            let cut: Vec<String> = e.truncated_fields().map(json_str).collect();
            let _ = write!(out, "\"truncated\": [{}]}}", cut.join(", "));
        }
        if !self.entries().is_empty() {
            out.push_str("\n  ");
        }
        out.push_str("],\n");
        let _ = writeln!(out, "  \"required\": {},", json_caps(self.required()));
        let _ = writeln!(out, "  \"needs\": {},", json_caps(self.needs()));
        let _ = writeln!(out, "  \"no_new_privs\": {}", self.no_new_privs());
        out.push_str("}\n");
        out
    }

    fn setcap(&self, program: &str) -> String {
        let needs = self.needs();
        if needs.is_empty() {
            format!("setcap -r {}\n", shell_word(program))
        } else {
            format!("setcap {needs}+p {}\n", shell_word(program))
        }
    }

    fn systemd(&self) -> String {
        let caps: Vec<String> = self
            .needs()
            .iter()
            .map(|c| format!("CAP_{}", bare(c)))
            .collect();
        let caps = caps.join(" ");
        let mut out = format!("CapabilityBoundingSet={caps}\nAmbientCapabilities={caps}\n");
        if self.no_new_privs() {
            out.push_str("NoNewPrivileges=yes\n");
        }
        out
    }

    fn docker(&self) -> String {
        let mut words = vec!["--cap-drop=ALL".to_owned()];
        words.extend(
            self.needs()
                .iter()
                .map(|c| format!("--cap-add={}", bare(c))),
        );
        if self.no_new_privs() {
            words.push("--security-opt=no-new-privileges".to_owned());
        }
        words.join(" ") + "\n"
    }

    fn compose(&self) -> String {
        let mut out = String::from("cap_drop:\n  - ALL\n");
        let needs = self.needs();
        if !needs.is_empty() {
            out.push_str("cap_add:\n");
            for c in needs {
                let _ = writeln!(out, "  - {}", bare(c));
            }
        }
        if self.no_new_privs() {
            out.push_str("security_opt:\n  - no-new-privileges:true\n");
        }
        out
    }

    fn k8s(&self) -> String {
        let needs = self.needs();
        let mut out = String::from("securityContext:\n");
        if self.no_new_privs() {
            if needs.has(Cap::SYS_ADMIN) {
                out.push_str(
                    "  # allowPrivilegeEscalation: false (no_new_privs) is refused by Kubernetes \
                     with CAP_SYS_ADMIN;\n  # the program sets no_new_privs itself when its \
                     #[drop_caps_after(no_new_privs)] function ends.\n",
                );
            } else {
                out.push_str("  allowPrivilegeEscalation: false\n");
            }
        }
        out.push_str("  capabilities:\n    drop:\n      - ALL\n");
        if !needs.is_empty() {
            out.push_str("    add:\n");
            for c in needs {
                let _ = writeln!(out, "      - {}", bare(c));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_escape_what_json_requires() {
        assert_eq!(json_str("a\"b\\c\nd\u{1}é"), "\"a\\\"b\\\\c\\nd\\u0001é\"");
    }

    #[test]
    fn shell_words_are_quoted_when_needed() {
        assert_eq!(shell_word("/usr/bin/x"), "/usr/bin/x");
        assert_eq!(shell_word("/a b/it's"), "'/a b/it'\\''s'");
        assert_eq!(shell_word(""), "''");
    }
}
