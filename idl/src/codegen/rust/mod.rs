//! The Rust back end: IR → `quote!` tokens → prettyplease.
//!
//! Each package becomes a module and each type a module inside it named after the type, as in
//! AOSP's Rust back end: `android.os.IFoo` is `android::os::IFoo::IFoo` (the trait), with
//! `IFooProxy` and `IFooStub` beside it. Paths between types are relative (`super::...`), so the
//! output may be `include!`d into any module of a crate that can name the runtime: by default
//! `::afbus_binder` (a crate that depends on `afbus-binder`); [`RustOptions::runtime_crate`]
//! names it otherwise (`::afbus::binder` for a crate that depends on the `afbus` facade alone).

mod derive;
mod interface;
mod items;
mod names;
mod support;
mod wire;

use proc_macro2::{Group, TokenStream, TokenTree};
use quote::quote;

use crate::diagnostics::{Diagnostic, FileId, Span};
use crate::ir::{Dir, Ir, Ty, TyRef, TypeId, TypeKind};
use wire::Ctx;

pub use names::snake_case;

/// The phrase every refusal of this back end contains.
pub const UNSUPPORTED: &str = "not supported by the Rust back end";

/// The path generated code names the runtime by unless [`RustOptions`] say otherwise.
pub const DEFAULT_RUNTIME_CRATE: &str = "::afbus_binder";

/// How the Rust back end writes its output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RustOptions {
    /// The path of the afbus binder runtime as the including crate names it: `::afbus_binder`
    /// (the default) for a crate that depends on `afbus-binder`, `::afbus::binder` for one that
    /// depends on the `afbus` facade only.
    pub runtime_crate: String,
    /// Also generate each interface's async client and server traits (`IFooAsync`,
    /// `IFooAsyncServer`), for the runtime's `tokio` feature.
    pub async_api: bool,
    /// With `async_api`: compile the async items only with this cargo feature of the including
    /// crate (a library offering async as an option); `None`: always.
    pub async_feature: Option<String>,
}

impl Default for RustOptions {
    fn default() -> Self {
        RustOptions {
            runtime_crate: DEFAULT_RUNTIME_CRATE.to_owned(),
            async_api: false,
            async_feature: None,
        }
    }
}

/// Generates one formatted Rust file for every type in `ir`, or the reasons it cannot.
pub fn generate(ir: &Ir) -> Result<String, Vec<Diagnostic>> {
    generate_with(ir, &RustOptions::default())
}

/// As [`generate`], with `options`.
pub fn generate_with(ir: &Ir, options: &RustOptions) -> Result<String, Vec<Diagnostic>> {
    let problems = check(ir);
    if !problems.is_empty() {
        return Err(problems);
    }
    let caps = derive::capabilities(ir);
    let mut root = Node::default();
    for (i, def) in ir.types.iter().enumerate() {
        let id = TypeId(i);
        let module = names::module_path(ir, id);
        let ctx = Ctx {
            ir,
            module: module.clone(),
        };
        let items = match &def.kind {
            TypeKind::Interface(iface) => {
                let mut items = interface::interface(&ctx, def, iface);
                if options.async_api {
                    let cfg = options
                        .async_feature
                        .as_ref()
                        .map(|f| quote!(#[cfg(feature = #f)]));
                    items.extend(interface::async_interface(&ctx, def, iface, cfg));
                }
                items
            }
            TypeKind::Parcelable(s) => items::parcelable(&ctx, def, s, caps[i]),
            TypeKind::Union(s) => items::union(&ctx, def, s, caps[i]),
            TypeKind::Enum(e) => items::enumeration(def, e),
            TypeKind::Unstructured { .. } => continue,
        };
        root.insert(&module, items, names::doc_attrs(def.doc.as_deref()));
    }
    let mut tokens = root.render_children(true);
    if support::needs_parcelable_holder(ir) {
        tokens.extend(allow_lints());
        tokens.extend(support::module());
    }
    if options.runtime_crate != DEFAULT_RUNTIME_CRATE {
        let root = match syn::parse_str::<syn::Path>(&options.runtime_crate) {
            Ok(path) => quote!(#path),
            Err(e) => {
                let span = Span {
                    file: FileId(0),
                    line: 1,
                    col: 1,
                    len: 1,
                };
                return Err(vec![Diagnostic::error(
                    span,
                    format!(
                        "the runtime crate path {:?} is not a path: {e}",
                        options.runtime_crate
                    ),
                )]);
            }
        };
        tokens = rebase(tokens, &root);
    }
    match syn::parse2::<syn::File>(tokens) {
        Ok(file) => Ok(prettyplease::unparse(&file)),
        Err(e) => {
            let span = ir.types.first().map_or(
                Span {
                    file: FileId(0),
                    line: 1,
                    col: 1,
                    len: 1,
                },
                |t| t.span,
            );
            Err(vec![Diagnostic::error(
                span,
                format!("internal error: the generated Rust does not parse: {e}"),
            )])
        }
    }
}

/// Replaces every path root `::afbus_binder` in `tokens` (the back end writes no other) by
/// `root`.
fn rebase(tokens: TokenStream, root: &TokenStream) -> TokenStream {
    let tts: Vec<TokenTree> = tokens.into_iter().collect();
    let mut out = Vec::with_capacity(tts.len());
    let mut i = 0;
    while i < tts.len() {
        let is_root = matches!(
            (&tts[i], tts.get(i + 1), tts.get(i + 2)),
            (TokenTree::Punct(a), Some(TokenTree::Punct(b)), Some(TokenTree::Ident(name)))
                if a.as_char() == ':' && b.as_char() == ':' && name == "afbus_binder"
        );
        if is_root {
            out.extend(root.clone());
            i += 3;
            continue;
        }
        match &tts[i] {
            TokenTree::Group(g) => {
                let mut inner = Group::new(g.delimiter(), rebase(g.stream(), root));
                inner.set_span(g.span());
                out.push(TokenTree::Group(inner));
            }
            other => out.push(other.clone()),
        }
        i += 1;
    }
    out.into_iter().collect()
}

/// A module of the output and the modules inside it, in first-seen order.
#[derive(Default)]
struct Node {
    doc: TokenStream,
    items: TokenStream,
    children: Vec<(String, Node)>,
}

impl Node {
    fn insert(&mut self, path: &[String], items: TokenStream, doc: TokenStream) {
        let Some((first, rest)) = path.split_first() else {
            self.items.extend(items);
            self.doc = doc;
            return;
        };
        let index = match self.children.iter().position(|(n, _)| n == first) {
            Some(i) => i,
            None => {
                self.children.push((first.clone(), Node::default()));
                self.children.len() - 1
            }
        };
        self.children[index].1.insert(rest, items, doc);
    }

    /// The modules inside this one; `outermost` marks the top level, which carries the lint
    /// allowances.
    fn render_children(&self, outermost: bool) -> TokenStream {
        let allow = outermost.then(allow_lints);
        let children = self.children.iter().map(|(name, node)| {
            let name = names::ident(name);
            let doc = &node.doc;
            let items = &node.items;
            let inner = node.render_children(false);
            quote! {
                #doc
                #allow
                pub mod #name {
                    #items
                    #inner
                }
            }
        });
        quote!(#(#children)*)
    }
}

/// The lint allowances the outermost generated modules carry for everything inside: names
/// follow AIDL's style rather than Rust's, and not every generated item is used.
fn allow_lints() -> TokenStream {
    quote! {
        #[allow(
            non_snake_case, non_camel_case_types, non_upper_case_globals, unused_mut,
            unused_variables, dead_code, missing_docs, clippy::all, clippy::pedantic,
            rustdoc::all
        )]
    }
}

/// The value an `out` argument starts with in the stub.
fn default_value(ctx: &Ctx<'_>, t: &TyRef) -> TokenStream {
    match (&t.ty, t.nullable) {
        (Ty::Array(_, Some(n)), false) => {
            let n = proc_macro2::Literal::usize_unsuffixed(*n);
            let el = ctx.ir.element(&t.ty).unwrap_or_else(|| t.clone());
            let inner = default_value(ctx, &el);
            quote!((0..#n).map(|_| #inner).collect())
        }
        _ => quote!(::std::default::Default::default()),
    }
}

/// Everything in `ir` this back end cannot express.
fn check(ir: &Ir) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for def in &ir.types {
        match &def.kind {
            TypeKind::Unstructured { rust_type, .. } => match rust_type {
                None => out.push(Diagnostic::error(
                    def.span,
                    format!(
                        "unstructured parcelable `{}` is {UNSUPPORTED} without a `rust_type` clause",
                        def.qualified_name()
                    ),
                ).note("add `rust_type \"path::to::Type\"` naming a type that implements afbus_binder::Parcelable")),
                Some(path) if path.parse::<TokenStream>().ok().and_then(|t| syn::parse2::<syn::Type>(t).ok()).is_none() => {
                    out.push(Diagnostic::error(def.span, format!("`rust_type \"{path}\"` is not a Rust type")));
                }
                Some(_) => {}
            },
            TypeKind::Interface(i) => {
                for (n, m) in i.methods.iter().enumerate() {
                    let rust = snake_case(&m.name);
                    if let Some(other) = i.methods[..n].iter().find(|o| snake_case(&o.name) == rust) {
                        out.push(Diagnostic::error(
                            m.span,
                            format!("methods `{}` and `{}` have the same Rust name `{rust}`; this is {UNSUPPORTED}", other.name, m.name),
                        ));
                    }
                    check_ty(&m.ret, &mut out);
                    for a in &m.args {
                        check_ty(&a.ty, &mut out);
                        let handle = !a.ty.nullable
                            && matches!(&a.ty.ty, Ty::IBinder | Ty::ParcelFileDescriptor)
                            || matches!(&a.ty.ty, Ty::Defined(d, _) if matches!(ir.get(*d).kind, TypeKind::Interface(_)) && !a.ty.nullable);
                        if a.dir != Dir::In && handle {
                            out.push(Diagnostic::error(
                                a.ty.span,
                                format!("a non-@nullable `out`/`inout` binder or file descriptor is {UNSUPPORTED}: it has no initial value"),
                            ));
                        }
                    }
                }
            }
            TypeKind::Parcelable(s) | TypeKind::Union(s) => {
                for f in &s.fields {
                    check_ty(&f.ty, &mut out);
                }
            }
            TypeKind::Enum(_) => {}
        }
    }
    out
}

fn check_ty(t: &TyRef, out: &mut Vec<Diagnostic>) {
    let what = match &t.ty {
        Ty::Map => Some("`Map` (Java only)"),
        Ty::FileDescriptor => {
            Some("`FileDescriptor` (Java and C++ only; use ParcelFileDescriptor)")
        }
        Ty::CharSequence => Some("`CharSequence` (Java only)"),
        Ty::List(e) | Ty::Array(e, _) => {
            check_ty(e, out);
            None
        }
        Ty::Defined(_, args) => {
            for a in args {
                check_ty(a, out);
            }
            None
        }
        _ => None,
    };
    if let Some(what) = what {
        out.push(Diagnostic::error(
            t.span,
            format!("{what} is {UNSUPPORTED}"),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::snake_case;

    #[test]
    fn snake_case_follows_word_boundaries() {
        assert_eq!(snake_case("RepeatInt"), "repeat_int");
        assert_eq!(snake_case("getURLFor"), "get_url_for");
        assert_eq!(snake_case("foo"), "foo");
        assert_eq!(snake_case("GetUnionTags"), "get_union_tags");
        assert_eq!(snake_case("take2Values"), "take2_values");
    }
}
