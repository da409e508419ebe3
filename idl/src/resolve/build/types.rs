//! Binding written types to IR types, and the checks on where each type may appear.

use super::annotations::Target;
use super::{names, Builder, Ctx, Position, MAX_FIXED_ARRAY};
use crate::ast::{self, DeclKind};
use crate::consts::{self, Value};
use crate::ir::*;

impl Builder<'_, '_> {
    /// Resolves a written type; reports and returns `None` on error. `member` holds the
    /// annotations written on the method or argument, which may also apply to the type.
    pub(super) fn ty(
        &mut self,
        ctx: Ctx<'_>,
        tr: &ast::TypeRef,
        pos: Position,
        member: &[ast::Annotation],
    ) -> Option<TyRef> {
        let target = match pos {
            Position::Arg => Target::Arg,
            Position::TypeArg => Target::TypeArg,
            _ => Target::Member,
        };
        super::annotations::check(&tr.annotations, target, self.r.diags);
        let nullable_ann = super::annotations::find(&tr.annotations, "nullable")
            .or_else(|| super::annotations::find(member, "nullable"));
        let nullable = nullable_ann.is_some();
        let heap = nullable_ann.is_some_and(|a| {
            a.params
                .iter()
                .any(|(k, v)| k.name == "heap" && matches!(v.kind, ast::ExprKind::Bool(true)))
        });
        let base = self.base_ty(ctx, tr, pos)?;
        if tr.dims.len() > 1 && tr.dims.iter().any(Option::is_none) {
            self.error(tr.span, "multi-dimensional arrays must have fixed sizes");
            return None;
        }
        if !tr.dims.is_empty()
            && matches!(
                base,
                Ty::Void | Ty::Map | Ty::ParcelableHolder | Ty::List(_) | Ty::CharSequence
            )
        {
            self.error(
                tr.span,
                format!("`{}` cannot be an array element", tr.name.dotted()),
            );
            return None;
        }
        let mut sizes = Vec::new();
        for d in &tr.dims {
            let Some(e) = d else {
                sizes.push(None);
                continue;
            };
            let v = {
                let mut lookup = |n: &ast::QualifiedName| self.lookup_const(ctx, n);
                consts::eval(e, &mut lookup)
            };
            match v {
                Ok(Value::Int(n, _)) if n > 0 && n as u128 <= MAX_FIXED_ARRAY as u128 => {
                    sizes.push(Some(n as usize))
                }
                Ok(_) => {
                    self.error(
                        e.span,
                        format!("an array size must be an integer in 1..={MAX_FIXED_ARRAY}"),
                    );
                    return None;
                }
                Err(err) => {
                    self.report(err);
                    return None;
                }
            }
        }
        let mut ty = base;
        for size in sizes.into_iter().rev() {
            ty = Ty::Array(
                Box::new(TyRef {
                    ty,
                    nullable: false,
                    heap: false,
                    span: tr.span,
                }),
                size,
            );
        }
        if nullable && tr.dims.is_empty() {
            let bad = match &ty {
                Ty::Prim(_) => Some("a primitive type"),
                Ty::Defined(t, _)
                    if matches!(self.r.types[t.0].decl.kind, DeclKind::Enum { .. }) =>
                {
                    Some("an enum type")
                }
                Ty::ParcelableHolder => Some("ParcelableHolder"),
                Ty::Void => Some("`void`"),
                _ => None,
            };
            if let Some(what) = bad {
                self.error(tr.span, format!("{what} cannot be @nullable"));
            }
        }
        let by_value_parcelable = matches!(&ty, Ty::Defined(t, _)
            if matches!(self.r.types[t.0].decl.kind, DeclKind::Parcelable { .. } | DeclKind::Union { .. }));
        if heap && (pos != Position::Field || !by_value_parcelable) {
            self.error(
                tr.span,
                "`@nullable(heap=true)` only applies to parcelable-typed fields",
            );
        }
        let utf8 = super::annotations::find(&tr.annotations, "utf8InCpp")
            .or_else(|| super::annotations::find(member, "utf8InCpp"));
        if let Some(a) = utf8 {
            fn stringy(t: &Ty) -> bool {
                match t {
                    Ty::String => true,
                    Ty::Array(e, _) | Ty::List(e) => stringy(&e.ty),
                    _ => false,
                }
            }
            let stringy = stringy(&ty);
            if !stringy {
                self.error(
                    a.span,
                    "`@utf8InCpp` only applies to String, String[] and List<String>",
                );
            }
        }
        if ty == Ty::Void && pos != Position::Return {
            self.error(tr.span, "`void` is only a return type");
            return None;
        }
        if pos == Position::Const && super::const_type(&ty).is_none() {
            self.error(tr.span, "a constant must have a primitive or String type");
            return None;
        }
        if ty == Ty::ParcelableHolder && pos != Position::Field {
            self.error(
                tr.span,
                "ParcelableHolder can only be a field of a parcelable",
            );
        }
        Some(TyRef {
            ty,
            nullable,
            heap,
            span: tr.span,
        })
    }

    fn base_ty(&mut self, ctx: Ctx<'_>, tr: &ast::TypeRef, pos: Position) -> Option<Ty> {
        let parts = names(&tr.name);
        let dotted = tr.name.dotted();
        let builtin = if parts.len() == 1 {
            Some(parts[0])
        } else {
            super::QUALIFIED_BUILTINS
                .iter()
                .find(|(q, _)| *q == dotted)
                .map(|(_, b)| *b)
        };
        let simple = match builtin {
            Some("void") => Some(Ty::Void),
            Some("boolean") => Some(Ty::Prim(Prim::Boolean)),
            Some("byte") => Some(Ty::Prim(Prim::Byte)),
            Some("char") => Some(Ty::Prim(Prim::Char)),
            Some("int") => Some(Ty::Prim(Prim::Int)),
            Some("long") => Some(Ty::Prim(Prim::Long)),
            Some("float") => Some(Ty::Prim(Prim::Float)),
            Some("double") => Some(Ty::Prim(Prim::Double)),
            Some("String") => Some(Ty::String),
            Some("CharSequence") => Some(Ty::CharSequence),
            Some("IBinder") => Some(Ty::IBinder),
            Some("ParcelFileDescriptor") => Some(Ty::ParcelFileDescriptor),
            Some("FileDescriptor") => Some(Ty::FileDescriptor),
            Some("ParcelableHolder") => Some(Ty::ParcelableHolder),
            _ => None,
        };
        if let Some(t) = simple {
            if !tr.args.is_empty() {
                self.error(tr.span, format!("`{dotted}` takes no type arguments"));
                return None;
            }
            return Some(t);
        }
        match builtin {
            Some("List") => {
                if tr.args.len() != 1 {
                    self.error(
                        tr.span,
                        "`List` needs exactly one type argument, as in `List<String>`",
                    );
                    return None;
                }
                let arg = self.ty(ctx, &tr.args[0], Position::TypeArg, &[])?;
                let bad = match &arg.ty {
                    Ty::Prim(_) => Some("a primitive type"),
                    Ty::Array(..) => Some("an array"),
                    Ty::Defined(t, _)
                        if matches!(self.r.types[t.0].decl.kind, DeclKind::Enum { .. }) =>
                    {
                        Some("an enum")
                    }
                    _ => None,
                };
                if let Some(what) = bad {
                    self.error(
                        tr.args[0].span,
                        format!("a List cannot hold {what}; use an array"),
                    );
                    return None;
                }
                return Some(Ty::List(Box::new(arg)));
            }
            Some("Map") => {
                if tr.args.is_empty() && pos != Position::Arg {
                    self.error(
                        tr.span,
                        "an untyped `Map` is only allowed as a method argument",
                    );
                    return None;
                }
                if !tr.args.is_empty() && tr.args.len() != 2 {
                    self.error(tr.span, "`Map` takes no type arguments or two");
                    return None;
                }
                if let Some(key) = tr.args.first() {
                    if self.ty(ctx, key, Position::TypeArg, &[])?.ty != Ty::String {
                        self.error(key.span, "a Map's key type must be String");
                        return None;
                    }
                }
                for a in tr.args.iter().skip(1) {
                    self.ty(ctx, a, Position::TypeArg, &[])?;
                }
                return Some(Ty::Map);
            }
            _ => {}
        }
        if parts.len() == 1 && ctx.params.iter().any(|p| p == parts[0]) {
            // As in AOSP: the parameters of a generic parcelable only name it (for Java);
            // its fields cannot use them.
            self.error(
                tr.name.span,
                format!(
                    "cannot find type `{dotted}`: a type parameter cannot be the type of a field"
                ),
            );
            return None;
        }
        let Some(t) = self.r.lookup_type(ctx.doc, ctx.scope, &tr.name) else {
            self.error(tr.name.span, format!("cannot find type `{dotted}`"));
            return None;
        };
        let expected = match &self.r.types[t.0].decl.kind {
            DeclKind::Parcelable { type_params, .. }
            | DeclKind::Union { type_params, .. }
            | DeclKind::Unstructured { type_params, .. } => type_params.len(),
            _ => 0,
        };
        if tr.args.len() != expected {
            self.error(
                tr.span,
                format!(
                    "`{dotted}` takes {expected} type arguments, not {}",
                    tr.args.len()
                ),
            );
            return None;
        }
        let mut args = Vec::new();
        for a in &tr.args {
            let arg = self.ty(ctx, a, Position::TypeArg, &[])?;
            args.push(arg);
        }
        Some(Ty::Defined(t, args))
    }

    /// Rejects a parcelable or union that contains itself by value, directly or through
    /// others: it would have no finite size.
    pub(super) fn check_recursion(&mut self, ir: &Ir) {
        for (i, def) in ir.types.iter().enumerate() {
            let start = TypeId(i);
            let mut stack = vec![start];
            let mut seen = vec![false; ir.types.len()];
            let mut found = None;
            while let Some(t) = stack.pop() {
                let fields = match &ir.get(t).kind {
                    TypeKind::Parcelable(s) | TypeKind::Union(s) => &s.fields,
                    _ => continue,
                };
                for f in fields {
                    if let Ty::Defined(d, _) = &f.ty.ty {
                        if f.ty.heap {
                            continue;
                        }
                        if *d == start {
                            found = Some(f.ty.span);
                        } else if !seen[d.0] {
                            seen[d.0] = true;
                            stack.push(*d);
                        }
                    }
                }
            }
            if let (Some(span), true) = (found, def.primary) {
                let _ = span;
                self.error(
                    def.span,
                    format!(
                        "`{}` contains itself by value and would have no finite size",
                        def.name()
                    ),
                );
            }
        }
    }
}
