//! Parsing the arguments of `#[requires_caps(...)]` and `#[drop_caps_after(...)]`.
//!
//! Capability names are read as libcap reads them: ASCII case-insensitive, with or without the
//! `cap_` prefix. Every mistake is a spanned error; all of them are reported at once.

use proc_macro2::Span;
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::{Ident, Lit, Token};

use crate::caps::CAPS;

/// What to do when a capability is missing from the permitted set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OnMissing {
    Error,
    Panic,
}

/// A capability named in the arguments.
#[derive(Clone, Debug)]
pub(crate) struct CapArg {
    /// Its number.
    pub(crate) num: u8,
    /// Its libcap name, `cap_net_raw`.
    pub(crate) name: &'static str,
    /// Where the user wrote it.
    pub(crate) span: Span,
}

impl CapArg {
    /// The `Cap` constant: `NET_RAW`.
    pub(crate) fn const_name(&self) -> Ident {
        let bare = &self.name["cap_".len()..];
        Ident::new(&bare.to_ascii_uppercase(), self.span)
    }
}

/// `#[requires_caps(...)]`.
#[derive(Debug)]
pub(crate) struct RequiresArgs {
    pub(crate) caps: Vec<CapArg>,
    pub(crate) exclusive: bool,
    pub(crate) on_missing: Option<OnMissing>,
}

/// `#[drop_caps_after(...)]`.
#[derive(Debug, Default)]
pub(crate) struct DropArgs {
    pub(crate) keep: Vec<CapArg>,
    pub(crate) bounding: bool,
    pub(crate) no_new_privs: bool,
    pub(crate) all_threads: bool,
}

/// Collects every error, to report them together.
#[derive(Default)]
struct Errors(Option<syn::Error>);

impl Errors {
    fn push(&mut self, e: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(e),
            None => self.0 = Some(e),
        }
    }

    fn finish<T>(self, value: T) -> syn::Result<T> {
        match self.0 {
            Some(e) => Err(e),
            None => Ok(value),
        }
    }
}

/// The capability of this name (`net_raw`, `CAP_NET_RAW`, `Net_Raw` ...), if any.
pub(crate) fn lookup(name: &str) -> Option<(&'static str, u8)> {
    if !name.is_ascii() {
        return None;
    }
    let lower = name.to_ascii_lowercase();
    let bare = lower.strip_prefix("cap_").unwrap_or(&lower);
    CAPS.iter()
        .find(|r| &r.name["cap_".len()..] == bare)
        .map(|r| (r.name, r.num))
}

/// Levenshtein distance, for suggestions.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The closest of `candidates` to `name`, if it is close enough to be a likely typo.
pub(crate) fn suggest<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let lower = name.to_ascii_lowercase();
    let bare = lower.strip_prefix("cap_").unwrap_or(&lower);
    let (best, d) = candidates
        .into_iter()
        .map(|c| (c, distance(bare, c)))
        .min_by_key(|&(_, d)| d)?;
    (d <= (bare.len() / 3).max(2)).then_some(best)
}

fn bare_names() -> impl Iterator<Item = &'static str> {
    CAPS.iter().map(|r| &r.name["cap_".len()..])
}

fn unknown_cap(ident: &Ident, options: &[&'static str]) -> syn::Error {
    let name = ident.to_string();
    let hint = match suggest(&name, bare_names().chain(options.iter().copied())) {
        Some(s) => format!("; did you mean `{s}`?"),
        None => {
            "; capability names are those of capabilities(7), such as `net_bind_service`".to_owned()
        }
    };
    syn::Error::new(ident.span(), format!("unknown capability `{name}`{hint}"))
}

/// Parses one capability name (or reports why not) into `caps`.
fn parse_cap(
    input: ParseStream<'_>,
    caps: &mut Vec<CapArg>,
    errors: &mut Errors,
    options: &[&'static str],
) -> syn::Result<()> {
    if input.peek(Lit) {
        let lit: Lit = input.parse()?;
        let msg = match &lit {
            Lit::Str(s) => match lookup(&s.value()) {
                Some((full, _)) => format!(
                    "capability names are written without quotes: `{}`",
                    &full["cap_".len()..]
                ),
                None => "capability names are written without quotes, such as `net_bind_service`"
                    .to_owned(),
            },
            _ => "capabilities are named, not numbered: write a name such as `net_bind_service`"
                .to_owned(),
        };
        errors.push(syn::Error::new(lit.span(), msg));
        return Ok(());
    }
    let ident = Ident::parse_any(input)?;
    if input.peek(Token![=]) || input.peek(syn::token::Paren) {
        let msg = if options.is_empty() {
            "`keep(...)` takes capability names only".to_owned()
        } else if ident == "exclusive" {
            "`exclusive` takes no value: write `exclusive` alone".to_owned()
        } else {
            format!("unknown option `{ident}`; expected capability names, `exclusive` or `on_missing = error | panic`")
        };
        errors.push(syn::Error::new(ident.span(), msg));
        skip_value(input)?;
        return Ok(());
    }
    match lookup(&ident.to_string()) {
        Some((name, num)) => {
            if let Some(first) = caps.iter().find(|c| c.num == num) {
                let mut e = syn::Error::new(
                    ident.span(),
                    format!("duplicate capability `{}`", &name["cap_".len()..]),
                );
                e.combine(syn::Error::new(first.span, "first named here"));
                errors.push(e);
            } else {
                caps.push(CapArg {
                    num,
                    name,
                    span: ident.span(),
                });
            }
        }
        None => errors.push(unknown_cap(&ident, options)),
    }
    Ok(())
}

/// Skips `= value` or `(...)` after an option reported as wrong.
fn skip_value(input: ParseStream<'_>) -> syn::Result<()> {
    if input.peek(Token![=]) {
        input.parse::<Token![=]>()?;
        input.parse::<syn::Expr>()?;
    } else if input.peek(syn::token::Paren) {
        let content;
        syn::parenthesized!(content in input);
        content.parse::<proc_macro2::TokenStream>()?;
    }
    Ok(())
}

fn comma(input: ParseStream<'_>) -> syn::Result<()> {
    if !input.is_empty() {
        input.parse::<Token![,]>()?;
    }
    Ok(())
}

fn flag(ident: &Ident, seen: &mut bool, errors: &mut Errors) {
    if *seen {
        errors.push(syn::Error::new(
            ident.span(),
            format!("duplicate option `{ident}`"),
        ));
    }
    *seen = true;
}

impl Parse for RequiresArgs {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        const OPTIONS: &[&str] = &["exclusive", "on_missing"];
        let mut errors = Errors::default();
        let mut args = RequiresArgs {
            caps: Vec::new(),
            exclusive: false,
            on_missing: None,
        };
        while !input.is_empty() {
            if input.peek(Ident::peek_any) {
                let fork = input.fork();
                let ident = Ident::parse_any(&fork)?;
                if ident == "exclusive" && (fork.is_empty() || fork.peek(Token![,])) {
                    input.parse::<Ident>()?;
                    flag(&ident, &mut args.exclusive, &mut errors);
                    comma(input)?;
                    continue;
                }
                if ident == "on_missing" {
                    input.parse::<Ident>()?;
                    input.parse::<Token![=]>()?;
                    let value = Ident::parse_any(input)?;
                    let mode = if value == "error" {
                        Some(OnMissing::Error)
                    } else if value == "panic" {
                        Some(OnMissing::Panic)
                    } else {
                        errors.push(syn::Error::new(value.span(), "expected `error` or `panic`"));
                        None
                    };
                    if args.on_missing.is_some() {
                        errors.push(syn::Error::new(
                            ident.span(),
                            "duplicate option `on_missing`",
                        ));
                    }
                    args.on_missing = args.on_missing.or(mode);
                    comma(input)?;
                    continue;
                }
            }
            parse_cap(input, &mut args.caps, &mut errors, OPTIONS)?;
            comma(input)?;
        }
        if args.caps.is_empty() && errors.0.is_none() {
            errors.push(syn::Error::new(
                Span::call_site(),
                "#[requires_caps] needs at least one capability, such as #[requires_caps(net_bind_service)]",
            ));
        }
        errors.finish(args)
    }
}

impl Parse for DropArgs {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        const OPTIONS: &[&str] = &["keep", "bounding", "no_new_privs", "all_threads"];
        let mut errors = Errors::default();
        let mut args = DropArgs::default();
        let mut seen_keep = false;
        while !input.is_empty() {
            let ident = Ident::parse_any(input)?;
            if ident == "keep" && input.peek(syn::token::Paren) {
                flag(&ident, &mut seen_keep, &mut errors);
                let content;
                syn::parenthesized!(content in input);
                if content.is_empty() {
                    errors.push(syn::Error::new(
                        ident.span(),
                        "`keep()` needs at least one capability",
                    ));
                }
                while !content.is_empty() {
                    parse_cap(&content, &mut args.keep, &mut errors, &[])?;
                    comma(&content)?;
                }
            } else if ident == "keep" {
                errors.push(syn::Error::new(
                    ident.span(),
                    "`keep` takes a list of capabilities in parentheses: `keep(net_bind_service)`",
                ));
                skip_value(input)?;
            } else if (ident == "bounding" || ident == "no_new_privs" || ident == "all_threads")
                && (input.peek(Token![=]) || input.peek(syn::token::Paren))
            {
                errors.push(syn::Error::new(
                    ident.span(),
                    format!("`{ident}` takes no value: write `{ident}` alone"),
                ));
                skip_value(input)?;
            } else if ident == "bounding" {
                flag(&ident, &mut args.bounding, &mut errors);
            } else if ident == "no_new_privs" {
                flag(&ident, &mut args.no_new_privs, &mut errors);
            } else if ident == "all_threads" {
                flag(&ident, &mut args.all_threads, &mut errors);
            } else {
                let hint = match suggest(&ident.to_string(), OPTIONS.iter().copied()) {
                    Some(s) => format!("; did you mean `{s}`?"),
                    None => String::new(),
                };
                errors.push(syn::Error::new(
                    ident.span(),
                    format!(
                        "unknown option `{ident}` of #[drop_caps_after]; expected `keep(...)`, \
                         `bounding`, `no_new_privs` or `all_threads`{hint}"
                    ),
                ));
                skip_value(input)?;
            }
            comma(input)?;
        }
        errors.finish(args)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_in_any_ascii_case_with_or_without_prefix() {
        assert_eq!(lookup("net_raw"), Some(("cap_net_raw", 13)));
        assert_eq!(lookup("CAP_NET_RAW"), Some(("cap_net_raw", 13)));
        assert_eq!(lookup("Cap_Net_Raw"), Some(("cap_net_raw", 13)));
        assert_eq!(lookup("net_raww"), None);
        assert_eq!(lookup("cap_ſys_admin"), None);
    }

    #[test]
    fn suggestions_are_close_names_only() {
        assert_eq!(
            suggest("net_bind_servce", bare_names()),
            Some("net_bind_service")
        );
        assert_eq!(suggest("CAP_SYS_ADMN", bare_names()), Some("sys_admin"));
        assert_eq!(suggest("frobnicate_everything", bare_names()), None);
        assert_eq!(distance("kitten", "sitting"), 3);
    }

    #[test]
    fn parses_options_and_reports_every_error() {
        let a: RequiresArgs =
            syn::parse_str("net_raw, CAP_CHOWN, exclusive, on_missing = panic").unwrap();
        assert_eq!(a.caps.iter().map(|c| c.num).collect::<Vec<_>>(), [13, 0]);
        assert!(a.exclusive);
        assert_eq!(a.on_missing, Some(OnMissing::Panic));
        let e = syn::parse_str::<RequiresArgs>("net_raw, net_raw, bogus").unwrap_err();
        assert_eq!(
            e.into_iter().count(),
            3,
            "duplicate (+ first named here) and unknown"
        );
        assert!(syn::parse_str::<RequiresArgs>("").is_err());
        assert!(syn::parse_str::<RequiresArgs>("\"net_raw\"").is_err());
        let d: DropArgs = syn::parse_str("keep(net_bind_service), bounding, no_new_privs").unwrap();
        assert_eq!(d.keep.len(), 1);
        assert!(d.bounding && d.no_new_privs && !d.all_threads);
        let t: DropArgs = syn::parse_str("all_threads").unwrap();
        assert!(t.all_threads && !t.bounding);
        assert!(syn::parse_str::<DropArgs>("all_threads, all_threads").is_err());
        assert!(syn::parse_str::<DropArgs>("all_threads = true").is_err());
        assert!(syn::parse_str::<DropArgs>("boundng").is_err());
    }
}
