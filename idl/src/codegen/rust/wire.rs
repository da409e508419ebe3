//! Rust types for IR types, and the code that writes a value to a parcel and reads it back.

use proc_macro2::{Literal, TokenStream, TokenTree};
use quote::quote;

use super::names::path_to_type;
use crate::ir::{Ir, Prim, Ty, TyRef, TypeKind};

/// What generated code is being produced for; paths are relative to `module`.
pub struct Ctx<'a> {
    /// The IR.
    pub ir: &'a Ir,
    /// The module the code is in.
    pub module: Vec<String>,
}

/// Where a value lives; fields hold binder objects and fds as `Option`, as AOSP's Rust back
/// end does, so that parcelables have a `Default`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// A method argument, return value or local.
    Value,
    /// A parcelable field or union member.
    Field,
}

fn prim(p: Prim) -> TokenStream {
    match p {
        Prim::Boolean => quote!(bool),
        Prim::Byte => quote!(i8),
        Prim::Char => quote!(u16),
        Prim::Int => quote!(i32),
        Prim::Long => quote!(i64),
        Prim::Float => quote!(f32),
        Prim::Double => quote!(f64),
    }
}

/// Whether the value needs an `Option` in a field although the AIDL type is not `@nullable`.
pub fn field_forces_option(ctx: &Ctx<'_>, t: &TyRef) -> bool {
    !t.nullable && ctx.ir.is_handle(&t.ty)
}

/// Whether a field of this type is boxed: `@nullable(heap=true)`, which lets a type contain
/// itself.
pub fn boxed(t: &TyRef, place: Place) -> bool {
    place == Place::Field && t.nullable && t.heap
}

/// The Rust type that holds a value of `t`.
pub fn rust_type(ctx: &Ctx<'_>, t: &TyRef, place: Place) -> TokenStream {
    let inner = base_type(ctx, &t.ty);
    if boxed(t, place) {
        quote!(::std::option::Option<::std::boxed::Box<#inner>>)
    } else if t.nullable || (place == Place::Field && field_forces_option(ctx, t)) {
        quote!(::std::option::Option<#inner>)
    } else {
        inner
    }
}

/// The Rust type of a non-null value of `ty`.
pub fn base_type(ctx: &Ctx<'_>, ty: &Ty) -> TokenStream {
    match ty {
        Ty::Void => quote!(()),
        Ty::Prim(p) => prim(*p),
        Ty::String => quote!(::std::string::String),
        Ty::IBinder => quote!(::afbus_binder::SpIBinder),
        Ty::ParcelFileDescriptor => quote!(::std::os::fd::OwnedFd),
        Ty::List(_) | Ty::Array(..) => {
            let e = ctx.ir.element(ty).map(|e| rust_type(ctx, &e, Place::Value));
            quote!(::std::vec::Vec<#e>)
        }
        Ty::Defined(t, args) => {
            if let TypeKind::Unstructured {
                rust_type: Some(path),
                ..
            } = &ctx.ir.get(*t).kind
            {
                return path.parse().unwrap_or_else(|_| quote!(()));
            }
            let path = path_to_type(ctx.ir, &ctx.module, *t);
            if args.is_empty() {
                path
            } else {
                let args = args.iter().map(|a| rust_type(ctx, a, Place::Value));
                quote!(#path<#(#args),*>)
            }
        }
        Ty::ParcelableHolder => {
            let supers = ctx.module.iter().map(|_| quote!(super));
            let module = super::names::ident(super::support::MODULE);
            quote!(#(#supers::)* #module::ParcelableHolder)
        }
        // Refused before generation; see `check`.
        Ty::CharSequence | Ty::FileDescriptor | Ty::Map => quote!(()),
    }
}

/// Whether the Rust type of a non-null `ty` implements `Parcelable`, so that the runtime's
/// generic array and option code applies.
pub fn is_plain(ctx: &Ctx<'_>, t: &TyRef) -> bool {
    match &t.ty {
        Ty::Prim(_) | Ty::String | Ty::ParcelableHolder => true,
        Ty::Defined(d, _) => !matches!(ctx.ir.get(*d).kind, TypeKind::Interface(_)),
        Ty::List(e) | Ty::Array(e, None) => !e.nullable && is_plain(ctx, e),
        _ => false,
    }
}

/// Whether a value of `ty` is `Copy` and passed by value.
pub fn is_copy(ctx: &Ctx<'_>, t: &TyRef) -> bool {
    !t.nullable
        && match &t.ty {
            Ty::Prim(_) => true,
            Ty::Defined(d, _) => matches!(ctx.ir.get(*d).kind, TypeKind::Enum(_)),
            _ => false,
        }
}

/// `e` (an expression of reference type) as a method receiver: `&place` becomes `place`, which
/// auto-referencing turns back into a reference.
fn receiver(e: &TokenStream) -> TokenStream {
    let tokens: Vec<TokenTree> = e.clone().into_iter().collect();
    match tokens.as_slice() {
        [TokenTree::Ident(_)] => e.clone(),
        [TokenTree::Punct(p), rest @ ..] if p.as_char() == '&' && !rest.is_empty() => {
            let rest: TokenStream = rest.iter().cloned().collect();
            match rest.clone().into_iter().next() {
                Some(TokenTree::Punct(star)) if star.as_char() == '*' => quote!((#rest)),
                _ => rest,
            }
        }
        _ => quote!((#e)),
    }
}

/// The value `e` (an expression of reference type) refers to, for `Copy` types.
fn deref(e: &TokenStream) -> TokenStream {
    let tokens: Vec<TokenTree> = e.clone().into_iter().collect();
    match tokens.as_slice() {
        [TokenTree::Punct(p), rest @ ..] if p.as_char() == '&' && !rest.is_empty() => {
            rest.iter().cloned().collect()
        }
        _ => quote!(*#e),
    }
}

/// Statements writing the value that `e` refers to (`e` is a reference, or `Option<&_>` for
/// nullable values) into parcel `p`. `forced` marks a field that holds a non-null type in an
/// `Option`; `boxed` an `Option<Box<_>>`.
pub fn write(
    ctx: &Ctx<'_>,
    t: &TyRef,
    e: TokenStream,
    p: &TokenStream,
    place: Place,
) -> TokenStream {
    let as_option = t.nullable || (place == Place::Field && field_forces_option(ctx, t));
    if as_option {
        let inner = TyRef {
            nullable: false,
            ..t.clone()
        };
        match &t.ty {
            Ty::IBinder => {
                return quote!(#p.write_nullable_binder(match #e { Some(x) => Some(x), None => None });)
            }
            Ty::Defined(d, _) if matches!(ctx.ir.get(*d).kind, TypeKind::Interface(_)) => {
                return quote!(#p.write_nullable_binder(match #e { Some(x) => Some(x.as_binder()), None => None });)
            }
            _ => {}
        }
        if place == Place::Field && !boxed(t, place) && is_plain(ctx, &inner) {
            let r = receiver(&e);
            return quote!(#p.write_option(#r.as_ref()););
        }
        let x = if boxed(t, place) {
            quote!(&**x)
        } else {
            quote!(x)
        };
        let body = write(ctx, &inner, x, p, Place::Value);
        return quote! {
            match #e {
                Some(x) => { #p.write_u8(1); #body }
                None => #p.write_u8(0),
            }
        };
    }
    match &t.ty {
        Ty::Prim(pr) => {
            let m = quote::format_ident!("write_{}", parcel_suffix(*pr));
            {
                let v = deref(&e);
                quote!(#p.#m(#v);)
            }
        }
        Ty::String => quote!(#p.write_str(#e);),
        Ty::IBinder => quote!(#p.write_binder(#e);),
        Ty::ParcelFileDescriptor => {
            let r = receiver(&e);
            quote! {
            // A descriptor that cannot be duplicated is sent as an index the receiver rejects.
            match #r.try_clone() {
                Ok(fd) => #p.write_fd(fd),
                Err(_) => #p.write_u32(u32::MAX),
            }
            }
        }
        Ty::Defined(d, _) if matches!(ctx.ir.get(*d).kind, TypeKind::Interface(_)) => {
            let r = receiver(&e);
            quote!(#p.write_binder(#r.as_binder());)
        }
        Ty::List(_) | Ty::Array(..) => {
            let el = ctx.ir.element(&t.ty).unwrap_or_else(|| t.clone());
            if is_plain(ctx, &el) {
                quote!(#p.write_slice(#e);)
            } else {
                let body = write(ctx, &el, quote!(x), p, Place::Value);
                let r = receiver(&e);
                quote! {
                    #p.write_u32(u32::try_from(#r.len()).unwrap_or(u32::MAX));
                    for x in #r.iter() { #body }
                }
            }
        }
        _ => quote!(#p.write(#e);),
    }
}

/// An expression reading a value of `t` from parcel `p`, propagating errors with `?` (the
/// enclosing function returns `Result<_, E>` with `E: From<ParcelError>`).
pub fn read(ctx: &Ctx<'_>, t: &TyRef, p: &TokenStream, place: Place) -> TokenStream {
    let as_option = t.nullable || (place == Place::Field && field_forces_option(ctx, t));
    if as_option {
        let inner = TyRef {
            nullable: false,
            ..t.clone()
        };
        match &t.ty {
            Ty::IBinder => return quote!(#p.read_nullable_binder()?),
            Ty::Defined(d, _) if matches!(ctx.ir.get(*d).kind, TypeKind::Interface(_)) => {
                let proxy = base_type(ctx, &t.ty);
                return quote!(#p.read_nullable_binder()?.map(#proxy::from_binder));
            }
            _ => {}
        }
        if !boxed(t, place) && is_plain(ctx, &inner) {
            let ty = base_type(ctx, &t.ty);
            return quote!(#p.read_option::<#ty>()?);
        }
        let body = read(ctx, &inner, p, Place::Value);
        let body = if boxed(t, place) {
            quote!(::std::boxed::Box::new(#body))
        } else {
            body
        };
        return quote! {
            {
                let offset = #p.position();
                match #p.read_u8()? {
                    0 => None,
                    1 => Some(#body),
                    value => return Err(::afbus_binder::ParcelError::InvalidTag { offset, value }.into()),
                }
            }
        };
    }
    match &t.ty {
        Ty::Prim(pr) => {
            let m = quote::format_ident!("read_{}", parcel_suffix(*pr));
            quote!(#p.#m()?)
        }
        Ty::String => quote!(#p.read_string()?),
        Ty::IBinder => quote!(#p.read_binder()?),
        Ty::ParcelFileDescriptor => quote!(#p.take_fd()?),
        Ty::Defined(d, _) if matches!(ctx.ir.get(*d).kind, TypeKind::Interface(_)) => {
            let proxy = base_type(ctx, &t.ty);
            quote!(#proxy::from_binder(#p.read_binder()?))
        }
        Ty::List(_) | Ty::Array(..) => {
            let fixed = match &t.ty {
                Ty::Array(_, Some(n)) => Some(Literal::usize_unsuffixed(*n)),
                _ => None,
            };
            let el = ctx.ir.element(&t.ty).unwrap_or_else(|| t.clone());
            let elem_ty = rust_type(ctx, &el, Place::Value);
            let vec = if is_plain(ctx, &el) {
                quote!(#p.read_vec::<#elem_ty>()?)
            } else {
                let body = read(ctx, &el, p, Place::Value);
                quote! {
                    {
                        let count = #p.read_u32()? as usize;
                        let mut items = ::std::vec::Vec::with_capacity(count.min(#p.remaining()));
                        for _ in 0..count { items.push(#body); }
                        items
                    }
                }
            };
            match fixed {
                None => vec,
                Some(n) => quote! {
                    {
                        let offset = #p.position();
                        let items = #vec;
                        if items.len() != #n {
                            return Err(::afbus_binder::ParcelError::InvalidValue {
                                offset,
                                what: "fixed-size array length",
                            }.into());
                        }
                        items
                    }
                },
            }
        }
        _ => {
            let ty = base_type(ctx, &t.ty);
            quote!(#p.read::<#ty>()?)
        }
    }
}

/// The suffix of the `Parcel` method pair (`write_*`/`read_*`) for a primitive.
fn parcel_suffix(pr: Prim) -> &'static str {
    match pr {
        Prim::Boolean => "bool",
        Prim::Byte => "i8",
        Prim::Char => "char",
        Prim::Int => "i32",
        Prim::Long => "i64",
        Prim::Float => "f32",
        Prim::Double => "f64",
    }
}
