//! Parcelables, unions, enums and constants.

use proc_macro2::{Literal, TokenStream};
use quote::quote;

use super::derive::Caps;
use super::names::{doc_attrs, ident, path_to_module};
use super::wire::{self, rust_type, Ctx, Place};
use crate::consts::Value;
use crate::ir::{self, ConstDef, Enum, Prim, Structured, Ty, TyRef, TypeDef};

/// A literal for `v` as a value of type `t`.
pub fn value(t: &Ty, v: &Value) -> TokenStream {
    match (t, v) {
        (Ty::Prim(Prim::Boolean), Value::Bool(b)) => quote!(#b),
        (Ty::Prim(Prim::Char), Value::Char(c)) => {
            let l = Literal::u16_unsuffixed(u16::try_from(u32::from(*c)).unwrap_or(0));
            quote!(#l)
        }
        (Ty::Prim(p @ (Prim::Byte | Prim::Int | Prim::Long)), Value::Int(i, _)) => int(*p, *i),
        (Ty::Prim(p @ (Prim::Float | Prim::Double)), Value::Float(f, _)) => float(*p, *f),
        (Ty::Prim(p @ (Prim::Float | Prim::Double)), Value::Int(i, _)) => float(*p, *i as f64),
        (Ty::String, Value::Str(s)) => quote!(::std::string::String::from(#s)),
        (Ty::Array(el, _) | Ty::List(el), Value::Array(items)) => {
            let items = items.iter().map(|i| value(&el.ty, i));
            quote!(::std::vec![#(#items),*])
        }
        _ => quote!(::std::default::Default::default()),
    }
}

/// An integer literal of type `p`; the type comes from the context, so it has no suffix.
fn int(p: Prim, i: i128) -> TokenStream {
    let (ty, min) = match p {
        Prim::Byte => (quote!(i8), i128::from(i8::MIN)),
        Prim::Long => (quote!(i64), i128::from(i64::MIN)),
        _ => (quote!(i32), i128::from(i32::MIN)),
    };
    if i == min {
        return quote!(#ty::MIN);
    }
    let lit = Literal::u64_unsuffixed(u64::try_from(i.unsigned_abs()).unwrap_or(u64::MAX));
    if i < 0 {
        quote!(-#lit)
    } else {
        quote!(#lit)
    }
}

/// A floating-point literal of type `p`.
fn float(p: Prim, f: f64) -> TokenStream {
    let ty = if p == Prim::Float {
        quote!(f32)
    } else {
        quote!(f64)
    };
    if f.is_nan() {
        return quote!(#ty::NAN);
    }
    if f.is_infinite() {
        return if f > 0.0 {
            quote!(#ty::INFINITY)
        } else {
            quote!(#ty::NEG_INFINITY)
        };
    }
    let lit = if p == Prim::Float {
        Literal::f32_unsuffixed(f.abs() as f32)
    } else {
        Literal::f64_unsuffixed(f.abs())
    };
    if f < 0.0 {
        quote!(-#lit)
    } else {
        quote!(#lit)
    }
}

/// `pub const` items for constants.
pub fn consts(ctx: &Ctx<'_>, list: &[ConstDef]) -> TokenStream {
    let items = list.iter().map(|c| {
        let name = ident(&c.name);
        let doc = doc_attrs(c.doc.as_deref());
        let (ty, v) = match (&c.ty.ty, &c.value) {
            (Ty::String, Value::Str(s)) => (quote!(&str), quote!(#s)),
            (t, v) => (wire::base_type(ctx, t), value(t, v)),
        };
        quote!(#doc pub const #name: #ty = #v;)
    });
    quote!(#(#items)*)
}

/// The value a field starts with.
fn default_for(
    ctx: &Ctx<'_>,
    t: &TyRef,
    d: Option<&ir::DefaultValue>,
    place: Place,
) -> TokenStream {
    let some = |v: TokenStream| {
        if t.nullable {
            quote!(Some(#v))
        } else {
            v
        }
    };
    match d {
        Some(ir::DefaultValue::Value(v)) => some(value(&t.ty, v)),
        Some(ir::DefaultValue::Enumerator(e, name)) => {
            let m = path_to_module(ctx.ir, &ctx.module, *e);
            let ty = ident(ctx.ir.get(*e).name());
            let n = ident(name);
            some(quote!(#m::#ty::#n))
        }
        Some(ir::DefaultValue::Enumerators(e, names)) => {
            let m = path_to_module(ctx.ir, &ctx.module, *e);
            let ty = ident(ctx.ir.get(*e).name());
            let ns = names.iter().map(|n| ident(n));
            some(quote!(::std::vec![#(#m::#ty::#ns),*]))
        }
        None => match &t.ty {
            Ty::Array(_, Some(n))
                if !(t.nullable || place == Place::Field && wire::field_forces_option(ctx, t)) =>
            {
                let n = Literal::usize_unsuffixed(*n);
                let el = ctx.ir.element(&t.ty).unwrap_or_else(|| t.clone());
                let inner = default_for(ctx, &el, None, Place::Value);
                quote!((0..#n).map(|_| #inner).collect())
            }
            _ => quote!(::std::default::Default::default()),
        },
    }
}

fn generics(params: &[String]) -> (TokenStream, TokenStream, TokenStream) {
    if params.is_empty() {
        return (quote!(), quote!(), quote!());
    }
    let ps: Vec<_> = params.iter().map(|p| ident(p)).collect();
    (
        quote!(<#(#ps),*>),
        quote!(<#(#ps: ::afbus_binder::Parcelable + ::std::default::Default),*>),
        quote!(<#(#ps: ::afbus_binder::Parcelable),*>),
    )
}

/// A structured parcelable: a struct, its `Default` and its `Parcelable` implementation.
pub fn parcelable(ctx: &Ctx<'_>, def: &TypeDef, s: &Structured, caps: Caps) -> TokenStream {
    let name = ident(def.name());
    let doc = doc_attrs(def.doc.as_deref());
    let derive = caps.derive_attr();
    let (params, default_bounds, parcel_bounds) = generics(&s.type_params);
    let p = quote!(parcel);
    let fields = s.fields.iter().map(|f| {
        let n = ident(&f.name);
        let ty = rust_type(ctx, &f.ty, Place::Field);
        let doc = doc_attrs(f.doc.as_deref());
        quote!(#doc pub #n: #ty,)
    });
    let defaults = s.fields.iter().map(|f| {
        let n = ident(&f.name);
        let v = default_for(ctx, &f.ty, f.default.as_ref(), Place::Field);
        quote!(#n: #v,)
    });
    let writes = s.fields.iter().map(|f| {
        let n = ident(&f.name);
        wire::write(ctx, &f.ty, quote!(&self.#n), &p, Place::Field)
    });
    let reads = s.fields.iter().map(|f| {
        let n = ident(&f.name);
        let r = wire::read(ctx, &f.ty, &p, Place::Field);
        quote!(#n: #r,)
    });
    let consts = consts(ctx, &s.consts);
    let descriptor = def.qualified_name();
    // Fields cannot use the type parameters (as in AOSP), but Rust needs each one used.
    let unused: Vec<_> = s.type_params.iter().map(|p| ident(p)).collect();
    let (marker, marker_init) = if unused.is_empty() {
        (quote!(), quote!())
    } else {
        (
            quote! {
                /// Uses the type parameters, which no field may use.
                #[doc(hidden)]
                pub _unused: ::std::marker::PhantomData<fn() -> (#(#unused,)*)>,
            },
            quote!(_unused: ::std::marker::PhantomData,),
        )
    };
    quote! {
        /// The parcelable's descriptor, which names it as a `ParcelableHolder` extension.
        pub const DESCRIPTOR: &str = #descriptor;
        #consts
        #doc
        #derive
        pub struct #name #params { #(#fields)* #marker }

        impl #default_bounds ::std::default::Default for #name #params {
            fn default() -> Self {
                Self { #(#defaults)* #marker_init }
            }
        }

        impl #parcel_bounds ::afbus_binder::Parcelable for #name #params {
            fn write_to(&self, #p: &mut ::afbus_binder::Parcel) {
                #(#writes)*
            }

            fn read_from(#p: &mut ::afbus_binder::Parcel) -> ::std::result::Result<Self, ::afbus_binder::ParcelError> {
                Ok(Self { #(#reads)* #marker_init })
            }
        }
    }
}

/// A union: a Rust enum with one variant per member, written as an `i32` tag and the value.
pub fn union(ctx: &Ctx<'_>, def: &TypeDef, s: &Structured, caps: Caps) -> TokenStream {
    let name = ident(def.name());
    let doc = doc_attrs(def.doc.as_deref());
    let derive = caps.derive_attr();
    let (params, default_bounds, parcel_bounds) = generics(&s.type_params);
    let p = quote!(parcel);
    let variants = s.fields.iter().map(|f| {
        let n = ident(&f.name);
        let ty = rust_type(ctx, &f.ty, Place::Field);
        let doc = doc_attrs(f.doc.as_deref());
        quote!(#doc #n(#ty),)
    });
    let first = s.fields.first().map(|f| {
        let n = ident(&f.name);
        let v = default_for(ctx, &f.ty, f.default.as_ref(), Place::Field);
        quote!(Self::#n(#v))
    });
    let writes = s.fields.iter().enumerate().map(|(i, f)| {
        let n = ident(&f.name);
        let tag = Literal::i32_unsuffixed(i32::try_from(i).unwrap_or(i32::MAX));
        let w = wire::write(ctx, &f.ty, quote!(value), &p, Place::Field);
        quote!(Self::#n(value) => { #p.write_i32(#tag); #w })
    });
    let reads = s.fields.iter().enumerate().map(|(i, f)| {
        let n = ident(&f.name);
        let tag = Literal::i32_unsuffixed(i32::try_from(i).unwrap_or(i32::MAX));
        let r = wire::read(ctx, &f.ty, &p, Place::Field);
        quote!(#tag => Ok(Self::#n(#r)),)
    });
    let consts = consts(ctx, &s.consts);
    let what = format!("{} tag", def.name());
    quote! {
        #consts
        #doc
        #derive
        pub enum #name #params { #(#variants)* }

        impl #default_bounds ::std::default::Default for #name #params {
            fn default() -> Self {
                #first
            }
        }

        impl #parcel_bounds ::afbus_binder::Parcelable for #name #params {
            fn write_to(&self, #p: &mut ::afbus_binder::Parcel) {
                match self { #(#writes)* }
            }

            fn read_from(#p: &mut ::afbus_binder::Parcel) -> ::std::result::Result<Self, ::afbus_binder::ParcelError> {
                let offset = #p.position();
                match #p.read_i32()? {
                    #(#reads)*
                    _ => Err(::afbus_binder::ParcelError::InvalidValue { offset, what: #what }),
                }
            }
        }
    }
}

/// An enum: an open newtype over its backing type, with a constant per enumerator, so that
/// values this side does not know survive a round trip.
pub fn enumeration(def: &TypeDef, e: &Enum) -> TokenStream {
    let name = ident(def.name());
    let doc = doc_attrs(def.doc.as_deref());
    let (backing, write, read, size) = match e.backing {
        Prim::Long => (quote!(i64), quote!(write_i64), quote!(read_i64), 8usize),
        Prim::Int => (quote!(i32), quote!(write_i32), quote!(read_i32), 4),
        _ => (quote!(i8), quote!(write_i8), quote!(read_i8), 1),
    };
    let consts = e.enumerators.iter().map(|x| {
        let n = ident(&x.name);
        let v = int(e.backing, i128::from(x.value));
        let doc = doc_attrs(x.doc.as_deref());
        quote!(#doc pub const #n: #name = #name(#v);)
    });
    let mut seen = Vec::new();
    let arms = e.enumerators.iter().filter_map(|x| {
        if seen.contains(&x.value) {
            return None;
        }
        seen.push(x.value);
        let v = int(e.backing, i128::from(x.value));
        let s = &x.name;
        Some(quote!(#v => f.write_str(#s),))
    });
    let all = e.enumerators.iter().map(|x| ident(&x.name));
    let fmt = format!("{}({{}})", def.name());
    quote! {
        #doc
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
        pub struct #name(pub #backing);

        impl #name {
            #(#consts)*

            /// Every declared enumerator, in declaration order.
            pub const fn enumerators() -> &'static [#name] {
                &[#(#name::#all),*]
            }
        }

        impl ::std::fmt::Debug for #name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                match self.0 {
                    #(#arms)*
                    other => write!(f, #fmt, other),
                }
            }
        }

        impl ::afbus_binder::Parcelable for #name {
            const MIN_WIRE_SIZE: usize = #size;

            fn write_to(&self, parcel: &mut ::afbus_binder::Parcel) {
                parcel.#write(self.0);
            }

            fn read_from(parcel: &mut ::afbus_binder::Parcel) -> ::std::result::Result<Self, ::afbus_binder::ParcelError> {
                Ok(#name(parcel.#read()?))
            }
        }
    }
}
