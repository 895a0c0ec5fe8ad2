//! The expansions of `#[requires_caps]` and `#[drop_caps_after]`.
//!
//! Rules: every path is absolute (`::capscope::__private::...`, `::core::...`) so user items
//! named `core`, `Result` or `capscope` cannot capture them; locals are prefixed
//! `__capscope_`; the body is inlined in its own block after the guard is bound (no closure),
//! so `return`, `?`, `self` and lifetimes behave exactly as written and the guard is dropped on
//! every way out. On an argument error the function is still emitted, with the error.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{ItemFn, ReturnType, Type};

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

/// Whether the function returns some `Result` (last path segment named `Result`: std's,
/// `io::Result`, `capscope::Result`, a user alias).
fn returns_result(output: &ReturnType) -> bool {
    match output {
        ReturnType::Type(_, ty) => match &**ty {
            Type::Path(p) => {
                p.qself.is_none() && p.path.segments.last().is_some_and(|s| s.ident == "Result")
            }
            _ => false,
        },
        ReturnType::Default => false,
    }
}

/// Whether a type mentions `impl Trait` (which cannot be written in a turbofish).
fn has_impl_trait(ty: &Type) -> bool {
    struct Finder(bool);
    impl<'ast> syn::visit::Visit<'ast> for Finder {
        fn visit_type_impl_trait(&mut self, _: &'ast syn::TypeImplTrait) {
            self.0 = true;
        }
    }
    let mut f = Finder(false);
    syn::visit::visit_type(&mut f, ty);
    f.0
}

/// `CapSet::empty().with(Cap::NET_RAW)...` (a constant expression).
fn capset_expr(caps: &[CapArg]) -> TokenStream {
    let consts = caps.iter().map(|c| {
        let name = c.const_name();
        quote_spanned! {c.span=> .with(::capscope::__private::Cap::#name) }
    });
    quote! { ::capscope::__private::CapSet::empty() #(#consts)* }
}

fn cap_list(caps: &[CapArg]) -> String {
    let mut names: Vec<(u8, &str)> = caps.iter().map(|c| (c.num, c.name)).collect();
    names.sort_unstable();
    names
        .iter()
        .map(|(_, n)| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Binds `__capscope_guard` from `enter` (a `Result<_, capscope::Error>` expression) either
/// with `?` or by panicking.
fn bind(local: &syn::Ident, enter: &TokenStream, mode: OnMissing) -> TokenStream {
    match mode {
        OnMissing::Error => quote! { let #local = #enter?; },
        OnMissing::Panic => quote! {
            let #local = match #enter {
                ::core::result::Result::Ok(__capscope_ok) => __capscope_ok,
                ::core::result::Result::Err(__capscope_err) => ::capscope::__private::missing(__capscope_err),
            };
        },
    }
}

/// `#[requires_caps(...)]`.
pub(crate) fn requires_caps(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut func = match parse_fn(&item, "requires_caps") {
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
    let mode = args
        .on_missing
        .unwrap_or(if returns_result(&func.sig.output) {
            OnMissing::Error
        } else {
            OnMissing::Panic
        });
    let caps = capset_expr(&args.caps);
    let exclusive = args.exclusive;
    let raise_mode = if exclusive {
        quote! { ::capscope::__private::RaiseMode::Exclusive }
    } else {
        quote! { ::capscope::__private::RaiseMode::Add }
    };
    let fn_name = func.sig.ident.to_string();
    let name = quote! { ::core::concat!(::core::module_path!(), "::", #fn_name) };
    let doc = format!(
        " **Capabilities:** {} `{}` into the calling thread's effective set for the call, and \
         restores the set after (`#[requires_caps]`); {}.",
        if exclusive {
            "makes the effective set exactly"
        } else {
            "raises"
        },
        cap_list(&args.caps).replace('`', ""),
        match mode {
            OnMissing::Error =>
                "if any is missing from the permitted set, returns the error and does not run",
            OnMissing::Panic => "if any is missing from the permitted set, panics and does not run",
        }
    );
    let block = &func.block;
    let guard = syn::Ident::new("__capscope_guard", Span::mixed_site());
    let body = if func.sig.asyncness.is_some() {
        let ret = match &func.sig.output {
            ReturnType::Default => quote! { () },
            ReturnType::Type(_, ty) if has_impl_trait(ty) => quote! { _ },
            ReturnType::Type(_, ty) => quote! { #ty },
        };
        let fut = quote! {
            ::capscope::__private::RaisedFuture::new(
                #caps, #raise_mode, #name,
                ::capscope::__private::async_body::<#ret, _>(async move #block),
            ).await
        };
        let value = syn::Ident::new("__capscope_value", Span::mixed_site());
        let bound = bind(&value, &fut, mode);
        quote! { #bound #value }
    } else {
        let enter = quote! { ::capscope::__private::enter(#caps, #raise_mode, #name) };
        let bound = bind(&guard, &enter, mode);
        quote! { #bound #block }
    };
    let entry = quote! {
        #[::capscope::__private::linkme::distributed_slice(::capscope::__private::MANIFEST)]
        #[linkme(crate = ::capscope::__private::linkme)]
        static __CAPSCOPE_MANIFEST_ENTRY: ::capscope::__private::Entry =
            ::capscope::__private::entry(#name, #caps, #exclusive, ::core::file!(), ::core::line!());
    };
    func.attrs.push(syn::parse_quote! { #[doc = ""] });
    func.attrs.push(syn::parse_quote! { #[doc = #doc] });
    let attrs = &func.attrs;
    let vis = &func.vis;
    let sig = &func.sig;
    quote! {
        #(#attrs)*
        #vis #sig {
            #entry
            #body
        }
    }
}

/// `#[drop_caps_after(...)]`.
pub(crate) fn drop_caps_after(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut func = match parse_fn(&item, "drop_caps_after") {
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
    let mode = if returns_result(&func.sig.output) {
        OnMissing::Error
    } else {
        OnMissing::Panic
    };
    let keep = capset_expr(&args.keep);
    let (bounding, nnp, all) = (args.bounding, args.no_new_privs, args.all_threads);
    let fn_name = func.sig.ident.to_string();
    let name = quote! { ::core::concat!(::core::module_path!(), "::", #fn_name) };
    let enter = quote! {
        ::capscope::__private::DropAfter::new(
            ::capscope::__private::drop_options(#keep, #bounding, #nnp, #all), #name)
    };
    let local = syn::Ident::new("__capscope_drop", Span::mixed_site());
    let bound = bind(&local, &enter, mode);
    let whose = if all {
        "every thread's"
    } else {
        "the calling thread's"
    };
    let mut doc = format!(
        " **Capabilities:** when this function returns or unwinds, {whose} \
         capabilities are dropped for good (`#[drop_caps_after]`): ambient cleared, effective, \
         permitted and inheritable sets emptied"
    );
    if !args.keep.is_empty() {
        doc.push_str(&format!(
            " (but for {} kept in the permitted set)",
            cap_list(&args.keep).replace('`', "")
        ));
    }
    if bounding {
        doc.push_str(", bounding set dropped");
    }
    if nnp {
        doc.push_str(", no_new_privs set");
    }
    if all {
        doc.push_str("; every thread is changed and verified (`capscope::process`).");
    } else {
        doc.push_str("; it refuses to run while the process has other threads.");
    }
    func.attrs.push(syn::parse_quote! { #[doc = ""] });
    func.attrs.push(syn::parse_quote! { #[doc = #doc] });
    let attrs = &func.attrs;
    let vis = &func.vis;
    let sig = &func.sig;
    let block = &func.block;
    quote! {
        #(#attrs)*
        #vis #sig {
            #bound
            #block
        }
    }
}
