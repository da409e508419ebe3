//! Which traits each generated struct and union derives: `Debug` always; `Clone` and
//! `PartialEq` whenever every field allows it; `Eq`, `Hash`, `PartialOrd` and `Ord` when
//! `@RustDerive` asks for them and every field allows it. `Copy` is never derived: arrays are
//! `Vec`s.

use proc_macro2::TokenStream;
use quote::quote;

use crate::ir::{Ir, Prim, Ty, TyRef, TypeKind};

/// The traits a type can derive (or, for a field type, implements).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Caps {
    clone: bool,
    partial_eq: bool,
    eq: bool,
    hash: bool,
    ord: bool,
}

const ALL: Caps = Caps {
    clone: true,
    partial_eq: true,
    eq: true,
    hash: true,
    ord: true,
};

const NONE: Caps = Caps {
    clone: false,
    partial_eq: false,
    eq: false,
    hash: false,
    ord: false,
};

impl Caps {
    fn and(self, o: Caps) -> Caps {
        Caps {
            clone: self.clone && o.clone,
            partial_eq: self.partial_eq && o.partial_eq,
            eq: self.eq && o.eq,
            hash: self.hash && o.hash,
            ord: self.ord && o.ord,
        }
    }

    /// `#[derive(...)]` for a struct or union with these capabilities.
    pub fn derive_attr(self) -> TokenStream {
        let mut list = vec![quote!(Debug)];
        let pairs = [
            (self.clone, quote!(Clone)),
            (self.partial_eq, quote!(PartialEq)),
            (self.eq, quote!(Eq)),
            (self.hash, quote!(Hash)),
            (self.ord, quote!(PartialOrd)),
            (self.ord, quote!(Ord)),
        ];
        list.extend(pairs.into_iter().filter(|(on, _)| *on).map(|(_, t)| t));
        quote!(#[derive(#(#list),*)])
    }
}

/// What the Rust type of `t` implements, given what each generated type derives.
fn of(ir: &Ir, caps: &[Caps], t: &TyRef) -> Caps {
    match &t.ty {
        Ty::ParcelFileDescriptor => NONE,
        Ty::Prim(Prim::Float | Prim::Double) => Caps {
            clone: true,
            partial_eq: true,
            ..NONE
        },
        // SpIBinder and proxies compare by object identity; they do not hash or order.
        Ty::IBinder => Caps {
            hash: false,
            ord: false,
            ..ALL
        },
        Ty::List(e) | Ty::Array(e, _) => of(ir, caps, e),
        Ty::Defined(d, args) => {
            let own = match &ir.get(*d).kind {
                TypeKind::Interface(_) => Caps {
                    hash: false,
                    ord: false,
                    ..ALL
                },
                TypeKind::Unstructured { .. } => Caps {
                    clone: true,
                    partial_eq: true,
                    ..NONE
                },
                _ => caps[d.0],
            };
            args.iter().fold(own, |c, a| c.and(of(ir, caps, a)))
        }
        _ => ALL,
    }
}

/// The capabilities of every type in `ir`, by index.
pub fn capabilities(ir: &Ir) -> Vec<Caps> {
    // Start from what each type asks for, then take away what a field cannot provide until
    // nothing changes (types may refer to each other in cycles).
    let mut caps: Vec<Caps> = ir
        .types
        .iter()
        .map(|def| {
            let asked = |name: &str| def.rust_derive.iter().any(|d| d == name);
            Caps {
                clone: true,
                partial_eq: true,
                eq: asked("Eq"),
                hash: asked("Hash"),
                ord: asked("Ord") || asked("PartialOrd"),
            }
        })
        .collect();
    loop {
        let mut changed = false;
        for (i, def) in ir.types.iter().enumerate() {
            let (TypeKind::Parcelable(s) | TypeKind::Union(s)) = &def.kind else {
                continue;
            };
            let mut c = caps[i];
            for f in &s.fields {
                c = c.and(of(ir, &caps, &f.ty));
            }
            // Eq, Hash and Ord build on PartialEq; Ord also on Eq.
            c.eq &= c.partial_eq;
            c.hash &= c.eq;
            c.ord &= c.eq;
            if c != caps[i] {
                caps[i] = c;
                changed = true;
            }
        }
        if !changed {
            return caps;
        }
    }
}
