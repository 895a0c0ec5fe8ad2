//! The expansions of `#[requires_caps]` and `#[drop_caps_after]`, on one skeleton.
//!
//! ```text
//! #[outer attributes]  #[doc = "# Capabilities ..."]
//! VIS SIGNATURE {
//!     #![inner attributes of the body]
//!     <manifest record>
//!     let __capscope_scope = match <enter the scope> {
//!         Ok(scope) => scope,
//!         Err(e) => return <the error, or a panic, by the return type>,
//!     };
//!     { BODY }
//! }
//! ```
//!
//! Rules: every path is absolute (`<crate>::__private::...`, `::core::...`, where `<crate>` is
//! `::capscope` or the path given with `crate = ...`) so user items named `core`, `Result` or
//! `capscope` cannot capture them; locals have mixed-site hygiene; the body is inlined in its
//! own block after the scope is entered (no closure), so `return`, `?`, `self` and lifetimes
//! behave exactly as written and the scope ends on every way out. The body's braces get a
//! span of the expansion at the body's location, so rustc's `unused_braces` does not take them
//! for the user's (and `cargo fix` does not remove them). On an argument error the function is
//! still emitted, with the error.

use proc_macro2::{Delimiter, Group, Span, TokenStream};
use quote::{quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::visit_mut::VisitMut;
use syn::{AttrStyle, Ident, ItemFn, ReturnType, Type};

use crate::args::{CapArg, DropArgs, OnMissing, RequiresArgs};

/// The function as written plus `error`: what we emit when we cannot expand.
fn with_error(item: TokenStream, error: &syn::Error) -> TokenStream {
    let error = error.to_compile_error();
    quote! { #item #error }
}

/// Parses the annotated item as a function with a body.
fn parse_fn(item: &TokenStream, attr: &str) -> Result<ItemFn, syn::Error> {
    syn::parse2::<ItemFn>(item.clone()).map_err(|e| {
        syn::Error::new(
            e.span(),
            format!("#[{attr}] applies to a function with a body: {e}"),
        )
    })
}

/// The return type with every `impl Trait` replaced by `_`, so that it can be written in the
/// body (`Result<impl Display, E>` becomes `Result<_, E>`); `None` when nothing of it can be
/// named there: `()`, `!`, or an `impl Trait` as a whole.
fn nameable_output(output: &ReturnType) -> Option<Type> {
    struct Infer;
    impl VisitMut for Infer {
        fn visit_type_mut(&mut self, ty: &mut Type) {
            if let Type::ImplTrait(it) = ty {
                *ty = Type::Infer(syn::TypeInfer {
                    underscore_token: syn::Token![_](it.span()),
                });
            } else {
                syn::visit_mut::visit_type_mut(self, ty);
            }
        }
    }
    let ReturnType::Type(_, ty) = output else {
        return None;
    };
    let mut bare = &**ty;
    loop {
        match bare {
            Type::Paren(p) => bare = &p.elem,
            Type::Group(g) => bare = &g.elem,
            _ => break,
        }
    }
    if matches!(bare, Type::Never(_) | Type::ImplTrait(_)) {
        return None;
    }
    let mut ty = (**ty).clone();
    Infer.visit_type_mut(&mut ty);
    Some(ty)
}

/// How a call ends when its scope cannot be entered (`err`, a `capscope::Error`): an expression
/// of the function's return type (or `!`).
///
/// Without `on_missing`, the declared return type decides, not its spelling: a `Result` (under
/// any alias) gets `Err(From::from(err))`, anything else a panic. The choice is made by method
/// resolution on `Ret<ReturnType>`: an inherent method exists for `Ret<Result<T, E>>` only, and
/// otherwise auto-deref finds the panicking one.
fn on_missing(
    krate: &TokenStream,
    mode: Option<OnMissing>,
    output: &ReturnType,
    err: &Ident,
) -> Fail {
    match (mode, nameable_output(output)) {
        (Some(OnMissing::Panic), _) | (None, None) => {
            Fail::Diverge(quote! { #krate::__private::missing(#err) })
        }
        (Some(OnMissing::Error), _) => Fail::Return(quote! {
            ::core::result::Result::Err(::core::convert::From::from(#err))
        }),
        // Spanned at the return type: a `Result` whose error type lacks
        // `From<capscope::Error>` is reported there.
        (None, Some(ty)) => Fail::Return(quote_spanned! {ty.span()=>
            #krate::__private::Ret::<#ty>::new().on_missing(#err)
        }),
    }
}

/// How a call ends when its scope cannot be entered.
enum Fail {
    /// `return` this expression (of the function's return type).
    Return(TokenStream),
    /// Evaluate this expression, of type `!`.
    Diverge(TokenStream),
}

/// `let local = match enter { Ok(x) => x, Err(e) => <fail> };`
fn bind(local: &Ident, enter: &TokenStream, fail: &Fail, err: &Ident) -> TokenStream {
    let fail = match fail {
        Fail::Return(value) => quote! { return #value },
        Fail::Diverge(never) => never.clone(),
    };
    quote! {
        let #local = match #enter {
            ::core::result::Result::Ok(__capscope_ok) => __capscope_ok,
            ::core::result::Result::Err(#err) => #fail,
        };
    }
}

/// The body as a block whose braces are the expansion's (at the body's location), so that
/// `unused_braces` does not fire on a one-line body.
fn body_block(block: &syn::Block) -> TokenStream {
    let stmts = &block.stmts;
    let mut group = Group::new(Delimiter::Brace, quote! { #(#stmts)* });
    group.set_span(Span::mixed_site().located_at(block.brace_token.span.join()));
    group.into_token_stream()
}

/// `CapSet::empty().with(Cap::NET_RAW)...` (a constant expression).
fn capset_expr(krate: &TokenStream, caps: &[CapArg]) -> TokenStream {
    let consts = caps.iter().map(|c| {
        let name = c.const_name();
        quote_spanned! {c.span=> .with(#krate::__private::Cap::#name) }
    });
    quote! { #krate::__private::CapSet::empty() #(#consts)* }
}

/// `` `cap_a`, `cap_b` `` in capability order (Markdown).
fn cap_list(caps: &[CapArg]) -> String {
    let mut names: Vec<(u8, &str)> = caps.iter().map(|c| (c.num, c.name)).collect();
    names.sort_unstable();
    names
        .iter()
        .map(|(_, n)| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What one attribute puts into the common skeleton.
struct Expansion {
    /// The paragraph added to the function's rustdoc, under a heading `# Capabilities`.
    doc: String,
    /// Items that come first in the body (the manifest record).
    prologue: TokenStream,
    /// Enters the scope and runs the body: the new body, after the inner attributes.
    body: TokenStream,
}

/// The skeleton: the function as written (outer attributes, visibility, signature), the
/// rustdoc section, then the body: the inner attributes first (they must come first in a block),
/// the prologue, and the scope around the original body.
fn emit(func: ItemFn, e: Expansion) -> TokenStream {
    let (inner, outer): (Vec<_>, Vec<_>) = func
        .attrs
        .into_iter()
        .partition(|a| matches!(a.style, AttrStyle::Inner(_)));
    let (vis, sig, doc) = (&func.vis, &func.sig, format!(" {}", e.doc));
    let (prologue, body) = (&e.prologue, &e.body);
    quote! {
        #(#outer)*
        #[doc = ""]
        #[doc = " # Capabilities"]
        #[doc = ""]
        #[doc = #doc]
        #vis #sig {
            #(#inner)*
            #prologue
            #body
        }
    }
}

/// The static that puts the function's manifest record (the constant expression `entry`) into
/// the program's link-time registry.
fn record(krate: &TokenStream, entry: &TokenStream) -> TokenStream {
    quote! {
        #[#krate::__private::linkme::distributed_slice(#krate::__private::CAPSCOPE_MANIFEST)]
        #[linkme(crate = #krate::__private::linkme)]
        static __CAPSCOPE_MANIFEST_ENTRY: #krate::__private::Entry = #entry;
    }
}

/// The function's path at run time: `module::path::name`.
fn fn_path(func: &ItemFn) -> TokenStream {
    let name = func.sig.ident.to_string();
    quote! { ::core::concat!(::core::module_path!(), "::", #name) }
}

fn ident(name: &str) -> Ident {
    Ident::new(name, Span::mixed_site())
}

/// What the rustdoc says happens when the scope cannot be entered.
fn failure_doc(mode: Option<OnMissing>, output: &ReturnType) -> &'static str {
    match (mode, nameable_output(output)) {
        (Some(OnMissing::Error), _) => "returns the error (converted with `From`)",
        (Some(OnMissing::Panic), _) | (None, None) => "panics",
        (None, Some(_)) => {
            "returns the error (converted with `From`) when its return type is a `Result`, and \
             panics otherwise"
        }
    }
}

/// `#[requires_caps(...)]`.
pub(crate) fn requires_caps(attr: TokenStream, item: TokenStream) -> TokenStream {
    let func = match parse_fn(&item, "requires_caps") {
        Ok(f) => f,
        Err(e) => return with_error(item, &e),
    };
    let args = match syn::parse2::<RequiresArgs>(attr) {
        Ok(a) => a,
        Err(e) => return with_error(item, &e),
    };
    if let Some(c) = &func.sig.constness {
        let e = syn::Error::new(
            c.span(),
            "#[requires_caps] cannot apply to a `const fn`: raising capabilities is a system call, \
             which cannot run at compile time",
        );
        return with_error(item, &e);
    }
    if func.sig.ident == "main" && func.sig.receiver().is_none() {
        let e = syn::Error::new(
            func.sig.ident.span(),
            "#[requires_caps] cannot apply to `main`: a scope around `main` is the whole program \
             (with `#[tokio::main]`, the whole runtime: every task and every thread it starts), \
             so nothing would run without the capabilities; annotate the functions that need \
             them, and lower the effective set at start-up with \
             `capscope::manifest::restrict` (if this is not the program's entry point, rename it)",
        );
        return with_error(item, &e);
    }
    let krate = &args.krate;
    let caps = capset_expr(krate, &args.caps);
    let exclusive = args.exclusive;
    let raise_mode = if exclusive {
        quote! { #krate::__private::RaiseMode::Exclusive }
    } else {
        quote! { #krate::__private::RaiseMode::Add }
    };
    let name = fn_path(&func);
    let (caps_doc, during) = (
        cap_list(&args.caps),
        if func.sig.asyncness.is_some() {
            "each poll of the call"
        } else {
            "the call"
        },
    );
    let doc = format!(
        "{}, and restores the set after (`#[requires_caps]`). If one is missing from the \
         permitted set, the body does not run and the function {}.",
        if exclusive {
            format!("Makes the calling thread's effective set exactly {caps_doc} for {during}")
        } else {
            format!("Raises {caps_doc} into the calling thread's effective set for {during}")
        },
        failure_doc(args.on_missing, &func.sig.output),
    );
    let err = ident("__capscope_err");
    let fail = on_missing(krate, args.on_missing, &func.sig.output, &err);
    let block = &func.block;
    let body = if func.sig.asyncness.is_some() {
        let ret = match nameable_output(&func.sig.output) {
            Some(ty) => ty.into_token_stream(),
            None if matches!(func.sig.output, ReturnType::Default) => quote! { () },
            None => quote! { _ },
        };
        let fut = quote! {
            #krate::__private::RaisedFuture::new(
                #caps, #raise_mode, #name,
                #krate::__private::async_body::<#ret, _>(async move #block),
            ).await
        };
        let value = ident("__capscope_value");
        let bound = bind(&value, &fut, &fail, &err);
        quote! { #bound #value }
    } else {
        let enter = quote! { #krate::__private::enter(#caps, #raise_mode, #name) };
        let bound = bind(&ident("__capscope_guard"), &enter, &fail, &err);
        let block = body_block(block);
        quote! { #bound #block }
    };
    let prologue = record(
        krate,
        &quote! {
            #krate::__private::requires_entry(
                #name, #caps, #exclusive, ::core::file!(), ::core::line!(),
            )
        },
    );
    emit(
        func,
        Expansion {
            doc,
            prologue,
            body,
        },
    )
}

/// `#[drop_caps_after(...)]`.
pub(crate) fn drop_caps_after(attr: TokenStream, item: TokenStream) -> TokenStream {
    let func = match parse_fn(&item, "drop_caps_after") {
        Ok(f) => f,
        Err(e) => return with_error(item, &e),
    };
    let args = match syn::parse2::<DropArgs>(attr) {
        Ok(a) => a,
        Err(e) => return with_error(item, &e),
    };
    if let Some(a) = &func.sig.asyncness {
        let e = syn::Error::new(
            a.span(),
            "#[drop_caps_after] cannot apply to an `async fn`: its polls may run on any thread, \
             and the drop must happen on the thread that owns the capabilities; call a sync \
             #[drop_caps_after] function before starting the runtime",
        );
        return with_error(item, &e);
    }
    if let Some(c) = &func.sig.constness {
        let e = syn::Error::new(c.span(), "#[drop_caps_after] cannot apply to a `const fn`");
        return with_error(item, &e);
    }
    let krate = &args.krate;
    let keep = capset_expr(krate, &args.keep);
    let (bounding, nnp, all) = (args.bounding, args.no_new_privs, args.all_threads);
    let some = |v: Option<TokenStream>| match v {
        Some(v) => quote! { ::core::option::Option::Some(#v) },
        None => quote! { ::core::option::Option::None },
    };
    let uid = some(args.uid.map(|n| quote! { #n }));
    let gid = some(args.gid.map(|n| quote! { #n }));
    let user = some(args.user.as_ref().map(|n| quote! { #n }));
    let name = fn_path(&func);
    let options = quote! {
        const __CAPSCOPE_DROP_OPTIONS: #krate::__private::DropOptions =
            #krate::__private::drop_options(#keep, #bounding, #nnp, #all, #uid, #gid, #user);
    };
    let record = record(
        krate,
        &quote! {
            #krate::__private::drop_entry(
                #name, &__CAPSCOPE_DROP_OPTIONS, ::core::file!(), ::core::line!(),
            )
        },
    );
    let enter = quote! {
        #krate::__private::DropAfter::new(__CAPSCOPE_DROP_OPTIONS, #name)
    };
    let err = ident("__capscope_err");
    let fail = on_missing(krate, args.on_missing, &func.sig.output, &err);
    let bound = bind(&ident("__capscope_drop"), &enter, &fail, &err);
    let block = body_block(&func.block);
    let doc = drop_doc(&args, failure_doc(args.on_missing, &func.sig.output));
    emit(
        func,
        Expansion {
            doc,
            prologue: quote! { #options #record },
            body: quote! { #bound #block },
        },
    )
}

/// The rustdoc section of a `#[drop_caps_after]` function: what it guarantees, option by
/// option.
fn drop_doc(args: &DropArgs, on_refusal: &str) -> String {
    let whose = if args.all_threads {
        "every thread's"
    } else {
        "the calling thread's"
    };
    let mut doc = format!(
        "When this function returns or unwinds, {whose} capabilities are dropped for good \
         (`#[drop_caps_after]`)"
    );
    match (args.uid, args.gid, &args.user) {
        (_, _, Some(user)) => doc.push_str(&format!(
            ": first the real, effective, saved and filesystem uid and gid become those of user \
             `{user}` (from /etc/passwd, looked up before the body runs) and the \
             supplementary groups are cleared; then the"
        )),
        (None, None, None) => doc.push_str(": the"),
        (uid, gid, None) => {
            let ids: Vec<String> = [("uid", uid), ("gid", gid)]
                .iter()
                .filter_map(|(what, id)| id.map(|n| format!("{what} {n}")))
                .collect();
            doc.push_str(&format!(
                ": first the real, effective, saved and filesystem ids become {} and the \
                 supplementary groups are cleared; then the",
                ids.join(" and ")
            ));
        }
    }
    doc.push_str(" ambient set is cleared, the effective, permitted and inheritable sets emptied");
    if !args.keep.is_empty() {
        doc.push_str(&format!(
            " (but for {} kept in the permitted set)",
            cap_list(&args.keep)
        ));
    }
    if args.bounding {
        doc.push_str(", every capability not kept dropped from the bounding set");
    }
    if args.no_new_privs {
        doc.push_str(", no_new_privs set (`execve` grants no privilege)");
    }
    doc.push_str(", all read back; a failure aborts the process. ");
    if args.all_threads {
        doc.push_str("Every thread of the process is changed and verified. ");
    }
    let mut refusals = Vec::new();
    if !args.all_threads {
        refusals.push("other threads live");
    }
    if args.bounding || args.uid.is_some() || args.gid.is_some() || args.user.is_some() {
        refusals.push("a capability the drop needs is not permitted");
    }
    if args.user.is_some() {
        refusals.push("the user is unknown");
    }
    if !refusals.is_empty() {
        doc.push_str(&format!(
            "If {} when it is called, the body does not run, nothing changes, and the function \
             {on_refusal}. ",
            join_or(&refusals)
        ));
    }
    let stays_root = args.user.is_none() && args.uid.is_none_or(|u| u == 0);
    if stays_root && !args.bounding && !args.no_new_privs {
        doc.push_str(
            "A process that stays uid 0 gets every capability back on `execve` (`uid`, \
             `bounding` or `no_new_privs` prevent it).",
        );
    }
    doc
}

/// `a`, `a or b`, `a, b or c`.
fn join_or(items: &[&str]) -> String {
    match items.split_last() {
        Some((last, [])) => (*last).to_owned(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}
