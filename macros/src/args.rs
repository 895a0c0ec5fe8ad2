//! Parsing the arguments of `#[requires_caps(...)]` and `#[drop_caps_after(...)]`.
//!
//! Capability names are read as libcap reads them: ASCII case-insensitive, with or without the
//! `cap_` prefix. Every mistake is a spanned error; all of them are reported at once.

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::{Ident, Lit, LitStr, Path, Token};

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
    /// The path of the runtime crate (`crate = ...`), `::capscope` by default.
    pub(crate) krate: TokenStream,
}

/// `#[drop_caps_after(...)]`.
#[derive(Debug)]
pub(crate) struct DropArgs {
    pub(crate) keep: Vec<CapArg>,
    pub(crate) bounding: bool,
    pub(crate) no_new_privs: bool,
    pub(crate) all_threads: bool,
    pub(crate) uid: Option<u32>,
    pub(crate) gid: Option<u32>,
    pub(crate) user: Option<String>,
    pub(crate) on_missing: Option<OnMissing>,
    /// The path of the runtime crate (`crate = ...`), `::capscope` by default.
    pub(crate) krate: TokenStream,
}

/// The options' keywords.
mod kw {
    syn::custom_keyword!(exclusive);
    syn::custom_keyword!(on_missing);
    syn::custom_keyword!(error);
    syn::custom_keyword!(panic);
    syn::custom_keyword!(keep);
    syn::custom_keyword!(bounding);
    syn::custom_keyword!(no_new_privs);
    syn::custom_keyword!(all_threads);
    syn::custom_keyword!(uid);
    syn::custom_keyword!(gid);
    syn::custom_keyword!(user);
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

/// What `parse_cap` says about `name = value` or `name(...)` where a capability was expected.
#[derive(Clone, Copy)]
enum Context {
    /// The arguments of `#[requires_caps]`.
    Requires,
    /// The list of `keep(...)`.
    Keep,
}

/// Parses one capability name (or reports why not) into `caps`.
fn parse_cap(
    input: ParseStream<'_>,
    caps: &mut Vec<CapArg>,
    errors: &mut Errors,
    context: Context,
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
        let msg = match context {
            Context::Keep => "`keep(...)` takes capability names only".to_owned(),
            Context::Requires => format!(
                "unknown option `{ident}`; expected capability names, `exclusive`, \
                 `on_missing = error | panic` or `crate = path`"
            ),
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
        None => {
            let options: &[&str] = match context {
                Context::Requires => &["exclusive", "on_missing"],
                Context::Keep => &[],
            };
            errors.push(unknown_cap(&ident, options));
        }
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

/// A flag option (`exclusive`, `bounding`, ...): set `seen`, or report a duplicate or a value.
fn flag(input: ParseStream<'_>, seen: &mut bool, errors: &mut Errors) -> syn::Result<()> {
    let ident = Ident::parse_any(input)?;
    if input.peek(Token![=]) || input.peek(syn::token::Paren) {
        errors.push(syn::Error::new(
            ident.span(),
            format!("`{ident}` takes no value: write `{ident}` alone"),
        ));
        return skip_value(input);
    }
    if *seen {
        errors.push(syn::Error::new(
            ident.span(),
            format!("duplicate option `{ident}`"),
        ));
    }
    *seen = true;
    Ok(())
}

/// `crate = path` or `crate = "path"`: the path of the runtime crate, for a renamed dependency.
fn parse_crate(
    input: ParseStream<'_>,
    krate: &mut Option<Path>,
    errors: &mut Errors,
) -> syn::Result<()> {
    let token = input.parse::<Token![crate]>()?;
    input.parse::<Token![=]>()?;
    let path = if input.peek(LitStr) {
        let lit: LitStr = input.parse()?;
        match lit.parse::<Path>() {
            Ok(p) => p,
            Err(_) => {
                errors.push(syn::Error::new(
                    lit.span(),
                    "`crate = \"...\"` takes a path, such as `crate = \"my_capscope\"`",
                ));
                return Ok(());
            }
        }
    } else {
        Path::parse_mod_style(input)?
    };
    if krate.is_some() {
        errors.push(syn::Error::new(token.span, "duplicate option `crate`"));
    }
    *krate = Some(path);
    Ok(())
}

/// `uid = N` or `gid = N`: a `u32` literal other than `u32::MAX`.
fn parse_id(input: ParseStream<'_>, id: &mut Option<u32>, errors: &mut Errors) -> syn::Result<()> {
    let ident = Ident::parse_any(input)?;
    if !input.peek(Token![=]) {
        errors.push(syn::Error::new(
            ident.span(),
            format!("`{ident}` takes a number: `{ident} = 65534`"),
        ));
        return skip_value(input);
    }
    input.parse::<Token![=]>()?;
    let value: syn::Expr = input.parse()?;
    let lit = match &value {
        syn::Expr::Lit(syn::ExprLit {
            lit: Lit::Int(lit), ..
        }) if matches!(lit.suffix(), "" | "u32") => lit,
        _ => {
            errors.push(syn::Error::new_spanned(
                &value,
                format!("`{ident}` takes a number: `{ident} = 65534`"),
            ));
            return Ok(());
        }
    };
    match lit.base10_parse::<u32>() {
        Ok(u32::MAX) | Err(_) => errors.push(syn::Error::new(
            lit.span(),
            format!(
                "`{ident}` must be below 4294967295: 4294967295 (-1) means \"unchanged\" to the \
                 kernel, and larger numbers are not ids"
            ),
        )),
        Ok(n) => {
            if id.is_some() {
                errors.push(syn::Error::new(
                    ident.span(),
                    format!("duplicate option `{ident}`"),
                ));
            }
            *id = Some(n);
        }
    }
    Ok(())
}

/// `user = "name"`: a name that can be in `/etc/passwd`.
fn parse_user(
    input: ParseStream<'_>,
    user: &mut Option<(String, Span)>,
    errors: &mut Errors,
) -> syn::Result<()> {
    let ident = Ident::parse_any(input)?;
    if !input.peek(Token![=]) || !input.peek2(LitStr) {
        errors.push(syn::Error::new(
            ident.span(),
            "`user` takes a user name in quotes: `user = \"nobody\"`",
        ));
        return skip_value(input);
    }
    input.parse::<Token![=]>()?;
    let lit: LitStr = input.parse()?;
    let name = lit.value();
    if name.is_empty() || name.contains([':', '\n', '\0']) {
        errors.push(syn::Error::new(
            lit.span(),
            "not a user name of /etc/passwd: it is empty or contains `:`, a newline or NUL",
        ));
    } else if user.is_some() {
        errors.push(syn::Error::new(ident.span(), "duplicate option `user`"));
    } else {
        *user = Some((name, lit.span()));
    }
    Ok(())
}

/// `on_missing = error | panic`.
fn parse_on_missing(
    input: ParseStream<'_>,
    on_missing: &mut Option<OnMissing>,
    errors: &mut Errors,
) -> syn::Result<()> {
    let ident = Ident::parse_any(input)?;
    input.parse::<Token![=]>()?;
    let mode = if input.peek(kw::error) {
        input.parse::<kw::error>()?;
        Some(OnMissing::Error)
    } else if input.peek(kw::panic) {
        input.parse::<kw::panic>()?;
        Some(OnMissing::Panic)
    } else {
        let value: syn::Expr = input.parse()?;
        errors.push(syn::Error::new_spanned(
            value,
            "expected `error` or `panic`",
        ));
        None
    };
    if on_missing.is_some() && mode.is_some() {
        errors.push(syn::Error::new(
            ident.span(),
            "duplicate option `on_missing`",
        ));
    }
    *on_missing = on_missing.or(mode);
    Ok(())
}

impl Parse for RequiresArgs {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut errors = Errors::default();
        let mut caps = Vec::new();
        let (mut exclusive, mut on_missing, mut krate) = (false, None, None);
        while !input.is_empty() {
            if input.peek(Token![crate]) {
                parse_crate(input, &mut krate, &mut errors)?;
            } else if input.peek(kw::exclusive) {
                flag(input, &mut exclusive, &mut errors)?;
            } else if input.peek(kw::on_missing) && input.peek2(Token![=]) {
                parse_on_missing(input, &mut on_missing, &mut errors)?;
            } else {
                parse_cap(input, &mut caps, &mut errors, Context::Requires)?;
            }
            comma(input)?;
        }
        if caps.is_empty() && errors.0.is_none() {
            errors.push(syn::Error::new(
                Span::call_site(),
                "#[requires_caps] needs at least one capability, such as #[requires_caps(net_bind_service)]",
            ));
        }
        errors.finish(RequiresArgs {
            caps,
            exclusive,
            on_missing,
            krate: krate.map_or_else(default_crate, |p| p.into_token_stream()),
        })
    }
}

/// `::capscope`.
fn default_crate() -> TokenStream {
    quote::quote!(::capscope)
}

impl Parse for DropArgs {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        const OPTIONS: &[&str] = &[
            "keep",
            "bounding",
            "no_new_privs",
            "all_threads",
            "uid",
            "gid",
            "user",
            "on_missing",
        ];
        let mut errors = Errors::default();
        let mut keep = Vec::new();
        let (mut bounding, mut no_new_privs, mut all_threads) = (false, false, false);
        let (mut uid, mut gid, mut user, mut krate) = (None, None, None, None);
        let mut on_missing = None;
        let mut seen_keep = false;
        while !input.is_empty() {
            if input.peek(Token![crate]) {
                parse_crate(input, &mut krate, &mut errors)?;
            } else if input.peek(kw::keep) && input.peek2(syn::token::Paren) {
                let ident = Ident::parse_any(input)?;
                if seen_keep {
                    errors.push(syn::Error::new(ident.span(), "duplicate option `keep`"));
                }
                seen_keep = true;
                let content;
                syn::parenthesized!(content in input);
                if content.is_empty() {
                    errors.push(syn::Error::new(
                        ident.span(),
                        "`keep()` needs at least one capability",
                    ));
                }
                while !content.is_empty() {
                    parse_cap(&content, &mut keep, &mut errors, Context::Keep)?;
                    comma(&content)?;
                }
            } else if input.peek(kw::keep) {
                let ident = Ident::parse_any(input)?;
                errors.push(syn::Error::new(
                    ident.span(),
                    "`keep` takes a list of capabilities in parentheses: `keep(net_bind_service)`",
                ));
                skip_value(input)?;
            } else if input.peek(kw::bounding) {
                flag(input, &mut bounding, &mut errors)?;
            } else if input.peek(kw::no_new_privs) {
                flag(input, &mut no_new_privs, &mut errors)?;
            } else if input.peek(kw::all_threads) {
                flag(input, &mut all_threads, &mut errors)?;
            } else if input.peek(kw::uid) {
                parse_id(input, &mut uid, &mut errors)?;
            } else if input.peek(kw::gid) {
                parse_id(input, &mut gid, &mut errors)?;
            } else if input.peek(kw::user) {
                parse_user(input, &mut user, &mut errors)?;
            } else if input.peek(kw::on_missing) && input.peek2(Token![=]) {
                parse_on_missing(input, &mut on_missing, &mut errors)?;
            } else {
                let ident = Ident::parse_any(input)?;
                let hint = match suggest(&ident.to_string(), OPTIONS.iter().copied()) {
                    Some(s) => format!("; did you mean `{s}`?"),
                    None => String::new(),
                };
                errors.push(syn::Error::new(
                    ident.span(),
                    format!(
                        "unknown option `{ident}` of #[drop_caps_after]; expected `keep(...)`, \
                         `bounding`, `no_new_privs`, `all_threads`, `uid = N`, `gid = N`, \
                         `user = \"name\"`, `on_missing = error | panic` or `crate = path`{hint}"
                    ),
                ));
                skip_value(input)?;
            }
            comma(input)?;
        }
        if let Some((_, span)) = &user {
            if uid.is_some() || gid.is_some() {
                errors.push(syn::Error::new(
                    *span,
                    "`user` gives both the uid and the gid (its primary group, from /etc/passwd \
                     when the drop is armed): write `user = \"...\"` or `uid = N, gid = N`, \
                     not both",
                ));
            }
        }
        errors.finish(DropArgs {
            keep,
            bounding,
            no_new_privs,
            all_threads,
            uid,
            gid,
            user: user.map(|(name, _)| name),
            on_missing,
            krate: krate.map_or_else(default_crate, |p| p.into_token_stream()),
        })
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

    #[test]
    fn crate_paths_ids_and_users() {
        let path = |src: &str| {
            syn::parse_str::<RequiresArgs>(src)
                .unwrap()
                .krate
                .to_string()
        };
        assert_eq!(path("net_raw"), ":: capscope");
        assert_eq!(path("net_raw, crate = cs"), "cs");
        assert_eq!(path("crate = \"cs\", net_raw"), "cs");
        assert_eq!(path("net_raw, crate = ::my::capscope"), ":: my :: capscope");
        assert!(syn::parse_str::<RequiresArgs>("net_raw, crate = \"a b\"").is_err());
        assert!(syn::parse_str::<RequiresArgs>("net_raw, crate = cs, crate = cs").is_err());

        let d: DropArgs = syn::parse_str("uid = 65534, gid = 0u32, crate = cs").unwrap();
        assert_eq!((d.uid, d.gid, d.user), (Some(65534), Some(0), None));
        assert_eq!(d.krate.to_string(), "cs");
        let d: DropArgs = syn::parse_str("user = \"www-data\", on_missing = panic").unwrap();
        assert_eq!(d.user.as_deref(), Some("www-data"));
        assert_eq!(d.on_missing, Some(OnMissing::Panic));
        assert_eq!(
            syn::parse_str::<DropArgs>("uid = 4294967294").unwrap().uid,
            Some(u32::MAX - 1)
        );
        for bad in [
            "uid = 4294967295",
            "gid = 4294967296",
            "uid = -1",
            "uid = \"0\"",
            "uid = 1u8",
            "uid",
            "uid = 1, uid = 1",
            "user = \"\"",
            "user = \"a:b\"",
            "user = nobody",
            "user = \"nobody\", gid = 65534",
            "on_missing = ignore",
        ] {
            assert!(
                syn::parse_str::<DropArgs>(bad).is_err(),
                "{bad} was accepted"
            );
        }
    }
}
