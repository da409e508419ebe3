//! Constant evaluation across types, enum values, and field defaults.

use super::{eval_err, int_kind, names, reported_err, Builder, Ctx, Eval, State, MAX_CONST_DEPTH};
use crate::ast::{self, DeclKind, ExprKind, Member};
use crate::consts::{self, Value};
use crate::diagnostics::Span;
use crate::ir::*;

impl Builder<'_, '_> {
    /// The value of constant or enumerator `name` of type `t`. Errors in its own definition
    /// are reported here, once.
    pub(super) fn const_value(&mut self, t: TypeId, name: &str, at: Span) -> Eval<Value> {
        if matches!(self.r.types[t.0].decl.kind, DeclKind::Enum { .. }) {
            if let Some((backing, values, done)) = self.enums.get(&t) {
                if let Some((_, v)) = values.iter().find(|(n, _)| n == name) {
                    return Ok(Value::Int(i128::from(*v), int_kind(*backing)));
                }
                if !done {
                    return eval_err(
                        at,
                        format!("enumerator `{name}` refers to itself or to a later enumerator"),
                    );
                }
                return reported_err();
            }
            let (backing, values) = self.enum_values(t);
            return match values.iter().find(|(n, _)| n == name) {
                Some((_, v)) => Ok(Value::Int(i128::from(*v), int_kind(backing))),
                None => reported_err(),
            };
        }
        let key = (t, name.to_string());
        match self.consts.get(&key) {
            Some(State::Done(v)) => return Ok(v.clone()),
            Some(State::Failed) => return reported_err(),
            Some(State::InProgress) => {
                return eval_err(at, format!("constant `{name}` refers to itself"))
            }
            None => {}
        }
        let field = match &self.r.types[t.0].decl.kind {
            DeclKind::Interface { members, .. }
            | DeclKind::Parcelable { members, .. }
            | DeclKind::Union { members, .. } => members.iter().find_map(|m| match m {
                Member::Const(f) if f.name.name == name => Some(f.clone()),
                _ => None,
            }),
            _ => None,
        };
        let Some(field) = field else {
            return reported_err();
        };
        if self.depth >= MAX_CONST_DEPTH {
            return eval_err(field.name.span, "constants refer to each other too deeply");
        }
        self.consts.insert(key.clone(), State::InProgress);
        self.depth += 1;
        let (doc, params) = self.ctx_of(t);
        let ctx = Ctx {
            doc,
            scope: Some(t),
            params: &params,
        };
        let result = self.eval_typed(ctx, &field.ty, field.value.as_ref());
        self.depth -= 1;
        match result {
            Ok(v) => {
                self.consts.insert(key, State::Done(v.clone()));
                Ok(v)
            }
            Err(e) => {
                self.report(e);
                self.consts.insert(key, State::Failed);
                reported_err()
            }
        }
    }

    fn eval_typed(
        &mut self,
        ctx: Ctx<'_>,
        ty: &ast::TypeRef,
        e: Option<&ast::Expr>,
    ) -> Eval<Value> {
        let Some(e) = e else { return reported_err() };
        let v = {
            let mut lookup = |n: &ast::QualifiedName| self.lookup_const(ctx, n);
            consts::eval(e, &mut lookup)?
        };
        let target = match (names(&ty.name).as_slice(), ty.dims.is_empty()) {
            (["boolean"], true) => consts::ConstType::Boolean,
            (["byte"], true) => consts::ConstType::Byte,
            (["char"], true) => consts::ConstType::Char,
            (["int"], true) => consts::ConstType::Int,
            (["long"], true) => consts::ConstType::Long,
            (["float"], true) => consts::ConstType::Float,
            (["double"], true) => consts::ConstType::Double,
            (["String"], true) => consts::ConstType::String,
            _ => return eval_err(ty.span, "a constant must have a primitive or String type"),
        };
        consts::convert(&v, target).map_err(|m| (e.span, m))
    }

    /// The value a name in a constant expression refers to.
    pub(super) fn lookup_const(&mut self, ctx: Ctx<'_>, n: &ast::QualifiedName) -> Eval<Value> {
        let parts = names(n);
        if parts.len() == 1 {
            let mut s = ctx.scope;
            while let Some(t) = s {
                if self.has_const(t, parts[0]) {
                    return self.const_value(t, parts[0], n.span);
                }
                s = self.r.types[t.0].parent;
            }
        } else if let Some((t, used)) = self.r.lookup_prefix(ctx.doc, ctx.scope, &parts) {
            if used + 1 == parts.len() && self.has_const(t, parts[used]) {
                return self.const_value(t, parts[used], n.span);
            }
        }
        eval_err(n.span, format!("cannot find constant `{}`", n.dotted()))
    }

    fn has_const(&self, t: TypeId, name: &str) -> bool {
        match &self.r.types[t.0].decl.kind {
            DeclKind::Enum { enumerators } => enumerators.iter().any(|e| e.name.name == name),
            DeclKind::Interface { members, .. }
            | DeclKind::Parcelable { members, .. }
            | DeclKind::Union { members, .. } => members
                .iter()
                .any(|m| matches!(m, Member::Const(f) if f.name.name == name)),
            DeclKind::Unstructured { .. } => false,
        }
    }

    /// The backing type and values of enum `t`, computed once.
    pub(super) fn enum_values(&mut self, t: TypeId) -> (Prim, Vec<(String, i64)>) {
        if let Some((b, v, _)) = self.enums.get(&t) {
            return (*b, v.clone());
        }
        let decl = self.r.types[t.0].decl.clone();
        let DeclKind::Enum { enumerators } = &decl.kind else {
            return (Prim::Byte, Vec::new());
        };
        let backing = match super::annotations::find(&decl.annotations, "Backing") {
            None => Prim::Byte,
            Some(a) => match super::annotations::string_param(a, "type").as_deref() {
                Some("byte") => Prim::Byte,
                Some("int") => Prim::Int,
                Some("long") => Prim::Long,
                _ => {
                    self.error(
                        a.span,
                        "`@Backing(type=...)` must be \"byte\", \"int\" or \"long\"",
                    );
                    Prim::Byte
                }
            },
        };
        self.enums.insert(t, (backing, Vec::new(), false));
        let (doc, _) = self.ctx_of(t);
        let ctx = Ctx {
            doc,
            scope: Some(t),
            params: &[],
        };
        let target = match backing {
            Prim::Long => consts::ConstType::Long,
            Prim::Int => consts::ConstType::Int,
            _ => consts::ConstType::Byte,
        };
        let mut next: i128 = 0;
        for e in enumerators {
            let value = match &e.value {
                None => {
                    consts::convert(&Value::Int(next, int_kind(backing)), target).map_err(|m| {
                        (
                            e.name.span,
                            format!("implicit value of `{}`: {m}", e.name.name),
                        )
                    })
                }
                Some(x) => {
                    if self.depth >= MAX_CONST_DEPTH {
                        Err((
                            x.span,
                            "constants refer to each other too deeply".to_string(),
                        ))
                    } else {
                        self.depth += 1;
                        let v = {
                            let mut lookup = |n: &ast::QualifiedName| self.lookup_const(ctx, n);
                            consts::eval(x, &mut lookup)
                        };
                        self.depth -= 1;
                        v.and_then(|v| consts::convert(&v, target).map_err(|m| (x.span, m)))
                    }
                }
            };
            let v = match value {
                Ok(Value::Int(v, _)) => v as i64,
                Ok(_) => next as i64,
                Err(err) => {
                    self.report(err);
                    next as i64
                }
            };
            next = i128::from(v) + 1;
            if let Some(entry) = self.enums.get_mut(&t) {
                entry.1.push((e.name.name.clone(), v));
            }
        }
        let entry = self.enums.get_mut(&t).map(|e| {
            e.2 = true;
            (e.0, e.1.clone())
        });
        entry.unwrap_or((backing, Vec::new()))
    }

    /// A field's default value, checked against its type.
    pub(super) fn default_value(
        &mut self,
        ctx: Ctx<'_>,
        ty: &TyRef,
        e: &ast::Expr,
    ) -> Option<DefaultValue> {
        let enum_of = |ty: &Ty| match ty {
            Ty::Defined(t, _) => Some(*t),
            _ => None,
        };
        let elem = match &ty.ty {
            Ty::Array(el, _) => Some(&el.ty),
            _ => None,
        };
        let is_enum =
            |b: &Self, t: TypeId| matches!(b.r.types[t.0].decl.kind, DeclKind::Enum { .. });
        if let Some(t) = enum_of(&ty.ty).filter(|t| is_enum(self, *t)) {
            return self
                .enumerator_ref(ctx, t, e)
                .map(|n| DefaultValue::Enumerator(t, n));
        }
        if let Some(t) = elem.and_then(enum_of).filter(|t| is_enum(self, *t)) {
            let ExprKind::Array(items) = &e.kind else {
                self.error(e.span, "an array default must be written `{...}`");
                return None;
            };
            let mut names = Vec::new();
            for i in items {
                names.push(self.enumerator_ref(ctx, t, i)?);
            }
            return Some(DefaultValue::Enumerators(t, names));
        }
        let v = {
            let mut lookup = |n: &ast::QualifiedName| self.lookup_const(ctx, n);
            consts::eval(e, &mut lookup)
        };
        let v = match v {
            Ok(v) => v,
            Err(err) => {
                self.report(err);
                return None;
            }
        };
        let converted = convert_to(&ty.ty, &v);
        match converted {
            Ok(v) => Some(DefaultValue::Value(v)),
            Err(m) => {
                self.error(e.span, m);
                None
            }
        }
    }

    /// The enumerator of enum `t` that `e` names; an enum field's default must name one.
    fn enumerator_ref(&mut self, ctx: Ctx<'_>, t: TypeId, e: &ast::Expr) -> Option<String> {
        let enum_name = self.r.types[t.0].decl.name.name.clone();
        let ExprKind::Ref(n) = &e.kind else {
            self.error(
                e.span,
                format!("the default of an `{enum_name}` field must be one of its enumerators"),
            );
            return None;
        };
        let parts = names(n);
        if parts.len() >= 2 {
            if let Some((found, used)) = self.r.lookup_prefix(ctx.doc, ctx.scope, &parts) {
                if found == t && used + 1 == parts.len() && self.has_const(t, parts[used]) {
                    return Some(parts[used].to_string());
                }
            }
        }
        self.error(
            e.span,
            format!("`{}` is not an enumerator of `{enum_name}`", n.dotted()),
        );
        None
    }
}

/// Converts a constant to a field type, element by element for (nested) arrays.
fn convert_to(ty: &Ty, v: &Value) -> Result<Value, String> {
    match (ty, v) {
        (Ty::Array(el, size), Value::Array(items)) => {
            if size.is_some_and(|s| s != items.len()) {
                return Err(format!(
                    "the array has {} elements, not {}",
                    items.len(),
                    size.unwrap_or(0)
                ));
            }
            items
                .iter()
                .map(|i| convert_to(&el.ty, i))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array)
        }
        (Ty::Array(..), _) => Err("an array default must be written `{...}`".to_string()),
        (t, v) => match super::const_type(t) {
            Some(ct) => consts::convert(v, ct),
            None => Err("this type cannot have a default value".to_string()),
        },
    }
}
