//! `#[case]`: marks a function of the conformance suite as a case and registers it, so that
//! defining a case is all it takes to run it everywhere (`cargo test`, `xtism conformance`).
//!
//! ```ignore
//! #[case]
//! fn var_limit(engine: &'static str) { /* asserts */ }
//!
//! #[case(needs = simd)]
//! fn v128_host_functions(engine: &'static str) { /* both branches */ }
//! ```
//!
//! `needs = <capability>` names the field of `xtism::Capabilities` the case depends on; the
//! case checks both branches itself (the capability works where claimed, and the documented
//! fallback holds where it is not) and the report says which branch ran. The attribute
//! expands to the function unchanged plus an `inventory::submit!` of its
//! `xtism_conformance::Case`.

#![forbid(unsafe_code)]

use proc_macro::{Delimiter, Group, Ident, Literal, Punct, Spacing, Span, TokenStream, TokenTree};

/// Registers the function that follows as a conformance case (see the crate docs).
#[proc_macro_attribute]
pub fn case(attr: TokenStream, item: TokenStream) -> TokenStream {
    let needs = match needs(attr) {
        Ok(needs) => needs,
        Err(message) => return error(&message),
    };
    let Some(name) = fn_name(&item) else {
        return error("#[case] goes on a function `fn name(engine: &'static str)`");
    };
    let needs = match needs {
        None => "::core::option::Option::None".to_owned(),
        Some(cap) => format!(
            "::core::option::Option::Some(::xtism_conformance::Needs {{ \
             name: {lit}, has: |caps: &::xtism::Capabilities| caps.{cap} }})",
            lit = Literal::string(&cap.to_string()),
        ),
    };
    let registration = format!(
        "::xtism_conformance::inventory::submit! {{ ::xtism_conformance::Case {{ \
         name: {lit}, module: ::core::module_path!(), needs: {needs}, run: {name} }} }}",
        lit = Literal::string(&name.to_string()),
    );
    let mut out = item;
    out.extend(
        registration
            .parse::<TokenStream>()
            .expect("the registration is valid Rust"),
    );
    out
}

/// The capability named by `needs = <ident>`, if any.
fn needs(attr: TokenStream) -> Result<Option<Ident>, String> {
    let tokens: Vec<TokenTree> = attr.into_iter().collect();
    match tokens.as_slice() {
        [] => Ok(None),
        [
            TokenTree::Ident(key),
            TokenTree::Punct(eq),
            TokenTree::Ident(cap),
        ] if key.to_string() == "needs" && eq.as_char() == '=' => Ok(Some(cap.clone())),
        _ => Err("expected #[case] or #[case(needs = <capability>)]".to_owned()),
    }
}

/// The identifier after `fn`.
fn fn_name(item: &TokenStream) -> Option<Ident> {
    let mut tokens = item.clone().into_iter();
    while let Some(token) = tokens.next() {
        if let TokenTree::Ident(ident) = &token
            && ident.to_string() == "fn"
        {
            return match tokens.next() {
                Some(TokenTree::Ident(name)) => Some(name),
                _ => None,
            };
        }
    }
    None
}

/// `compile_error!(message)`.
fn error(message: &str) -> TokenStream {
    let span = Span::call_site();
    let mut bang = Punct::new('!', Spacing::Alone);
    bang.set_span(span);
    let mut semi = Punct::new(';', Spacing::Alone);
    semi.set_span(span);
    let args = Group::new(
        Delimiter::Parenthesis,
        TokenTree::Literal(Literal::string(message)).into(),
    );
    [
        TokenTree::Ident(Ident::new("compile_error", span)),
        TokenTree::Punct(bang),
        TokenTree::Group(args),
        TokenTree::Punct(semi),
    ]
    .into_iter()
    .collect()
}
