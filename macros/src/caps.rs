//! The capability table (`caps.in`, the one place capscope's capabilities are listed): the
//! names the attributes accept, and the table handed to the runtime by `__cap_table!`.

use proc_macro2::{Ident, Literal, Span, TokenStream};
use quote::quote;

/// One row of the table.
pub(crate) struct Row {
    pub(crate) num: u8,
    /// The kernel constant without `CAP_`: `NET_RAW`.
    pub(crate) kernel: &'static str,
    /// libcap's name: `cap_net_raw`.
    pub(crate) name: &'static str,
    /// One line: what the capability allows.
    pub(crate) desc: &'static str,
}

macro_rules! cap_table {
    ($($num:literal $kernel:ident $name:literal $desc:literal;)*) => {
        /// Every capability the library names, in kernel order.
        pub(crate) const CAPS: &[Row] = &[$(Row {
            num: $num,
            kernel: stringify!($kernel),
            name: $name,
            desc: $desc,
        }),*];
    };
}
include!("caps.in");

/// `__cap_table!(callback)` expands to `callback! { 0 CHOWN "cap_chown" "..."; ... }`.
pub(crate) fn expand(input: TokenStream) -> TokenStream {
    let callback: syn::Path = match syn::parse2(input) {
        Ok(p) => p,
        Err(e) => return e.to_compile_error(),
    };
    let rows = CAPS.iter().map(|r| {
        let num = Literal::u8_unsuffixed(r.num);
        let kernel = Ident::new(r.kernel, Span::call_site());
        let (name, desc) = (r.name, r.desc);
        quote! { #num #kernel #name #desc; }
    });
    quote! { #callback! { #(#rows)* } }
}
