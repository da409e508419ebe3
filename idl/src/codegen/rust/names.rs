//! Rust names for AIDL names: keywords become raw identifiers, methods become snake_case, and
//! paths between generated modules are relative so that the output can be `include!`d
//! anywhere.

use proc_macro2::{Ident, Span, TokenStream};
use quote::quote;

use crate::ir::{Ir, TypeId, TypeKind};

/// Rust keywords, strict and reserved, that need `r#` to be used as names.
const KEYWORDS: &[&str] = &[
    "as", "break", "const", "continue", "else", "enum", "extern", "false", "fn", "for", "if",
    "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return", "static",
    "struct", "trait", "true", "type", "unsafe", "use", "where", "while", "async", "await", "dyn",
    "abstract", "become", "box", "do", "final", "macro", "override", "priv", "typeof", "unsized",
    "virtual", "yield", "try", "gen",
];

/// Keywords that cannot be raw identifiers; they get a trailing underscore.
const NOT_RAW: &[&str] = &["self", "Self", "super", "crate", "_"];

/// An identifier for `name`, escaped if it is a keyword.
pub fn ident(name: &str) -> Ident {
    if NOT_RAW.contains(&name) {
        Ident::new(&format!("{name}_"), Span::call_site())
    } else if KEYWORDS.contains(&name) {
        Ident::new_raw(name, Span::call_site())
    } else {
        Ident::new(name, Span::call_site())
    }
}

/// `getFooBar` and `GetFooBar` → `get_foo_bar`; `URLLoader` → `url_loader`.
pub fn snake_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() {
            let prev = i.checked_sub(1).map(|p| chars[p]);
            let next = chars.get(i + 1);
            let boundary = prev.is_some_and(|p| p.is_ascii_lowercase() || p.is_ascii_digit())
                || (prev.is_some_and(|p| p.is_ascii_uppercase())
                    && next.is_some_and(|n| n.is_ascii_lowercase()));
            if boundary && !out.ends_with('_') {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// The module path of a type: its package, then the types from the outermost down.
pub fn module_path(ir: &Ir, t: TypeId) -> Vec<String> {
    let def = ir.get(t);
    def.package.iter().chain(&def.path).cloned().collect()
}

/// A path from module `from` to the module of `t`: up to the deepest common ancestor, then
/// down, so that the output works wherever it is included.
pub fn path_to_module(ir: &Ir, from: &[String], t: TypeId) -> TokenStream {
    let target = module_path(ir, t);
    let common = from.iter().zip(&target).take_while(|(a, b)| a == b).count();
    let ups = from.len() - common;
    let downs: Vec<_> = target[common..].iter().map(|p| ident(p)).collect();
    match (ups, downs.is_empty()) {
        (0, true) => quote!(self),
        (0, false) => quote!(self::#(#downs)::*),
        _ => {
            let supers = (0..ups).map(|_| quote!(super));
            quote!(#(#supers)::* #(::#downs)*)
        }
    }
}

/// A path from module `from` to the main item of `t`: the struct or enum, or for an
/// interface its proxy type.
pub fn path_to_type(ir: &Ir, from: &[String], t: TypeId) -> TokenStream {
    let module = path_to_module(ir, from, t);
    let name = ir.get(t).name().to_string();
    let item = match ir.get(t).kind {
        TypeKind::Interface(_) => ident(&format!("{name}Proxy")),
        _ => ident(&name),
    };
    quote!(#module::#item)
}

/// Doc comment text as `#[doc]` attributes. Lines are unindented so that rustdoc does not
/// take AIDL prose for Rust code blocks, and fences are marked `text`.
pub fn doc_attrs(doc: Option<&str>) -> TokenStream {
    let Some(doc) = doc else {
        return TokenStream::new();
    };
    let mut open = false;
    let lines = doc.lines().map(|l| {
        let l = l.trim();
        let l = if l.starts_with("```") {
            open = !open;
            if open {
                "```text".to_string()
            } else {
                "```".to_string()
            }
        } else {
            l.to_string()
        };
        format!(" {l}")
    });
    let mut lines: Vec<String> = lines.collect();
    if open {
        lines.push(" ```".to_string());
    }
    quote!(#(#[doc = #lines])*)
}
