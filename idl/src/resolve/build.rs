//! Builds the IR from the parsed files: binds type names, evaluates constants, assigns
//! transaction codes and applies AOSP's rules on directions, nullability and defaults.

mod types;
mod values;

use std::collections::HashMap;

use super::annotations::{self, Target};
use super::{Resolver, QUALIFIED_BUILTINS};
use crate::ast::{self, Annotation, DeclKind, Direction, ExprKind, Member, QualifiedName};
use crate::consts::{ConstType, EvalError, IntKind, Value};
use crate::diagnostics::Span;
use crate::ir::*;

/// The highest explicit method id: AOSP keeps the top 100 codes below
/// `LAST_CALL_TRANSACTION` (0xffffff) for meta methods such as `getInterfaceVersion`.
const MAX_METHOD_ID: i64 = 0x00ff_ffff - 100 - 1;

/// Methods AOSP generates on every interface, by name and argument types; user methods may not
/// take these names.
const RESERVED_METHODS: &[(&str, &[&str])] = &[
    ("getInterfaceVersion", &[]),
    ("getInterfaceHash", &[]),
    ("getTransactionName", &["int"]),
];

/// How long a chain of constants referring to constants may be before evaluation stops;
/// it bounds recursion on hostile input.
const MAX_CONST_DEPTH: usize = 200;

/// The largest fixed array size accepted; it bounds what generated code allocates.
pub const MAX_FIXED_ARRAY: usize = 1 << 20;

#[derive(Clone)]
enum State {
    InProgress,
    Done(Value),
    Failed,
}

/// An enum's backing type, the values computed so far, and whether all are.
type EnumState = (Prim, Vec<(String, i64)>, bool);

pub(super) struct Builder<'r, 'a> {
    r: &'r mut Resolver<'a>,
    consts: HashMap<(TypeId, String), State>,
    enums: HashMap<TypeId, EnumState>,
    depth: usize,
}

/// Where a name is looked up from.
#[derive(Clone, Copy)]
struct Ctx<'p> {
    doc: usize,
    scope: Option<TypeId>,
    params: &'p [String],
}

pub(super) fn build(r: &mut Resolver<'_>) -> Ir {
    let mut b = Builder {
        r,
        consts: HashMap::new(),
        enums: HashMap::new(),
        depth: 0,
    };
    b.check_imports();
    let mut ir = Ir::default();
    for i in 0..b.r.types.len() {
        let def = b.type_def(TypeId(i));
        ir.types.push(def);
    }
    b.check_recursion(&ir);
    ir
}

fn reported() -> EvalError {
    (
        Span {
            file: crate::diagnostics::FileId(0),
            line: 0,
            col: 0,
            len: 0,
        },
        String::new(),
    )
}

impl Builder<'_, '_> {
    fn error(&mut self, span: Span, msg: impl Into<String>) {
        self.r.diags.error(span, msg);
    }

    fn report(&mut self, e: EvalError) {
        if !e.1.is_empty() {
            self.error(e.0, e.1);
        }
    }

    fn check_imports(&mut self) {
        let mut bad = Vec::new();
        for info in &self.r.docs {
            for (i, import) in info.doc.imports.iter().enumerate() {
                let name = import.dotted();
                if info.doc.imports[..i].iter().any(|o| o.dotted() == name) {
                    bad.push((import.span, format!("`{name}` is imported twice")));
                } else if !QUALIFIED_BUILTINS.iter().any(|(q, _)| *q == name)
                    && !self.r.table.contains_key(&name)
                {
                    bad.push((import.span, format!("cannot find import `{name}`")));
                }
            }
        }
        for (span, msg) in bad {
            self.error(span, msg);
        }
    }

    fn ctx_of(&self, t: TypeId) -> (usize, Vec<String>) {
        let p = &self.r.types[t.0];
        let params = match &p.decl.kind {
            DeclKind::Parcelable { type_params, .. }
            | DeclKind::Union { type_params, .. }
            | DeclKind::Unstructured { type_params, .. } => {
                type_params.iter().map(|i| i.name.clone()).collect()
            }
            _ => Vec::new(),
        };
        (p.doc, params)
    }

    fn type_def(&mut self, id: TypeId) -> TypeDef {
        let p = &self.r.types[id.0];
        let decl = p.decl.clone();
        let doc_index = p.doc;
        let (package, path, parent) = (p.package.clone(), p.path.clone(), p.parent);
        let primary = self.r.docs[doc_index].primary;
        let target = match decl.kind {
            DeclKind::Interface { .. } => Target::Interface,
            DeclKind::Parcelable { .. } => Target::Parcelable,
            DeclKind::Unstructured { .. } => Target::Unstructured,
            DeclKind::Enum { .. } => Target::Enum,
            DeclKind::Union { .. } => Target::Union,
        };
        annotations::check(&decl.annotations, target, self.r.diags);
        if let DeclKind::Parcelable { type_params, .. }
        | DeclKind::Union { type_params, .. }
        | DeclKind::Unstructured { type_params, .. } = &decl.kind
        {
            for (i, p) in type_params.iter().enumerate() {
                if type_params[..i].iter().any(|o| o.name == p.name) {
                    self.error(
                        p.span,
                        format!("type parameter `{}` is declared twice", p.name),
                    );
                }
            }
        }
        if let Some(parent) = parent {
            if self.r.types[parent.0].decl.name.name == decl.name.name {
                self.error(
                    decl.name.span,
                    format!(
                        "nested type `{}` has the same name as its parent",
                        decl.name.name
                    ),
                );
            }
            if matches!(decl.kind, DeclKind::Unstructured { .. }) {
                self.error(
                    decl.name.span,
                    "an unstructured parcelable cannot be nested",
                );
            }
            let generic_parent = matches!(&self.r.types[parent.0].decl.kind,
                DeclKind::Parcelable { type_params, .. } | DeclKind::Union { type_params, .. }
                if !type_params.is_empty());
            if generic_parent {
                self.error(decl.name.span, "a generic type cannot have nested types");
            }
        }
        let (_, params) = self.ctx_of(id);
        let ctx = Ctx {
            doc: doc_index,
            scope: Some(id),
            params: &params,
        };
        let rust_derive = annotations::find(&decl.annotations, "RustDerive")
            .map(|a| {
                a.params
                    .iter()
                    .filter(|(_, v)| matches!(v.kind, ExprKind::Bool(true)))
                    .map(|(k, _)| k.name.clone())
                    .collect()
            })
            .unwrap_or_default();
        let kind = match &decl.kind {
            DeclKind::Interface { oneway, members } => {
                let descriptor = annotations::find(&decl.annotations, "Descriptor")
                    .and_then(|a| annotations::string_param(a, "value"))
                    .unwrap_or_else(|| {
                        package
                            .iter()
                            .chain(&path)
                            .cloned()
                            .collect::<Vec<_>>()
                            .join(".")
                    });
                TypeKind::Interface(self.interface(ctx, *oneway, members, descriptor))
            }
            DeclKind::Parcelable { members, .. } => {
                TypeKind::Parcelable(self.structured(ctx, id, members, false))
            }
            DeclKind::Union { members, .. } => {
                if !members.iter().any(|m| matches!(m, Member::Field(_))) {
                    self.error(decl.name.span, "a union needs at least one member");
                }
                TypeKind::Union(self.structured(ctx, id, members, true))
            }
            DeclKind::Enum { enumerators } => {
                if enumerators.is_empty() {
                    self.error(
                        decl.name.span,
                        format!("enum `{}` has no enumerators", decl.name.name),
                    );
                }
                for (i, e) in enumerators.iter().enumerate() {
                    annotations::check(&e.annotations, Target::Member, self.r.diags);
                    if enumerators[..i].iter().any(|o| o.name.name == e.name.name) {
                        self.error(
                            e.name.span,
                            format!("enumerator `{}` is declared twice", e.name.name),
                        );
                    }
                }
                let (backing, values) = self.enum_values(id);
                TypeKind::Enum(Enum {
                    backing,
                    enumerators: enumerators
                        .iter()
                        .zip(values)
                        .map(|(e, (_, v))| EnumeratorDef {
                            name: e.name.name.clone(),
                            value: v,
                            doc: e.doc.clone(),
                        })
                        .collect(),
                })
            }
            DeclKind::Unstructured { headers, .. } => TypeKind::Unstructured {
                rust_type: headers
                    .iter()
                    .find(|(k, _)| k.name == "rust_type")
                    .map(|(_, v)| v.clone()),
                type_params: params.clone(),
            },
        };
        TypeDef {
            package,
            path,
            doc: decl.doc.clone(),
            span: decl.name.span,
            parent,
            kind,
            rust_derive,
            primary,
        }
    }

    fn interface(
        &mut self,
        ctx: Ctx<'_>,
        oneway: bool,
        members: &[Member],
        descriptor: String,
    ) -> Interface {
        let methods: Vec<&ast::Method> = members
            .iter()
            .filter_map(|m| match m {
                Member::Method(m) => Some(m),
                _ => None,
            })
            .collect();
        let with_id = methods.iter().filter(|m| m.id.is_some()).count();
        if with_id != 0 && with_id != methods.len() {
            if let Some(m) = methods.iter().find(|m| m.id.is_none()) {
                self.error(
                    m.name.span,
                    "either every method has an explicit transaction id or none does",
                );
            }
        }
        let mut out = Vec::new();
        for (index, m) in methods.iter().enumerate() {
            annotations::check(&m.annotations, Target::Member, self.r.diags);
            self.check_method_name(m);
            let interface_permission = ctx
                .scope
                .map(|t| self.r.types[t.0].decl.annotations.clone())
                .unwrap_or_default()
                .into_iter()
                .find(|a| annotations::PERMISSION.contains(&a.name.name.as_str()));
            if let (Some(_), Some(a)) = (
                &interface_permission,
                m.annotations
                    .iter()
                    .chain(&m.ret.annotations)
                    .find(|a| annotations::PERMISSION.contains(&a.name.name.as_str())),
            ) {
                self.error(
                    a.span,
                    "the interface already has a permission annotation; a method cannot add another",
                );
            }
            if methods[..index].iter().any(|o| o.name.name == m.name.name) {
                self.error(
                    m.name.span,
                    format!(
                        "method `{}` is declared twice (AIDL has no overloading)",
                        m.name.name
                    ),
                );
            }
            let code = match m.id {
                Some((id, span)) => {
                    if !(0..=MAX_METHOD_ID).contains(&id) {
                        self.error(
                            span,
                            format!("transaction id {id} is outside 0..={MAX_METHOD_ID}"),
                        );
                    } else if methods[..index]
                        .iter()
                        .any(|o| o.id.map(|i| i.0) == Some(id))
                    {
                        self.error(span, format!("transaction id {id} is used twice"));
                    }
                    (id.clamp(0, MAX_METHOD_ID) + 1) as u32
                }
                None => u32::try_from(index + 1).unwrap_or(u32::MAX),
            };
            let is_oneway = oneway || m.oneway.is_some();
            let ret = self.ty(ctx, &m.ret, Position::Return, &m.annotations);
            if is_oneway && ret.as_ref().is_some_and(|r| r.ty != Ty::Void) {
                self.error(m.ret.span, "a oneway method cannot return a value");
            }
            let mut args = Vec::new();
            for (i, a) in m.args.iter().enumerate() {
                annotations::check(&a.annotations, Target::Arg, self.r.diags);
                if m.args[..i].iter().any(|o| o.name.name == a.name.name) {
                    self.error(
                        a.name.span,
                        format!("argument `{}` is declared twice", a.name.name),
                    );
                }
                let Some(ty) = self.ty(ctx, &a.ty, Position::Arg, &a.annotations) else {
                    continue;
                };
                let dir = self.direction(ctx, a, &ty, is_oneway);
                args.push(ArgDef {
                    name: a.name.name.clone(),
                    dir,
                    ty,
                });
            }
            if let Some(ret) = ret {
                out.push(MethodDef {
                    name: m.name.name.clone(),
                    code,
                    oneway: is_oneway,
                    ret,
                    args,
                    doc: m.doc.clone(),
                    span: m.name.span,
                });
            }
        }
        Interface {
            descriptor,
            oneway,
            methods: out,
            consts: self.consts_of(ctx, members),
            version: self.r.frozen_version(ctx.doc),
        }
    }

    fn direction(&mut self, _ctx: Ctx<'_>, a: &ast::Arg, ty: &TyRef, oneway: bool) -> Dir {
        let can_out = match &ty.ty {
            Ty::Array(..) | Ty::List(_) | Ty::Map | Ty::ParcelFileDescriptor => true,
            Ty::ParcelableHolder => true,
            Ty::Defined(t, _) => matches!(
                self.r.types[t.0].decl.kind,
                DeclKind::Parcelable { .. }
                    | DeclKind::Union { .. }
                    | DeclKind::Unstructured { .. }
            ),
            _ => false,
        };
        let name = a.ty.name.dotted();
        let dir = match a.direction {
            None if can_out => {
                self.error(
                    a.ty.span,
                    format!(
                        "`{name}` can be an out type, so you must declare it as in, out or inout"
                    ),
                );
                Dir::In
            }
            None => Dir::In,
            Some((Direction::In, _)) => Dir::In,
            Some((Direction::Out, span)) if ty.ty == Ty::ParcelFileDescriptor => {
                self.error(
                    span,
                    "`ParcelFileDescriptor` can be `in` or `inout` but not `out`: it has no default value",
                );
                Dir::Out
            }
            Some((d, span)) => {
                if !can_out {
                    self.error(span, format!("`{name}` can only be an in parameter"));
                }
                if oneway {
                    self.error(span, "a oneway method cannot have out or inout arguments");
                }
                if d == Direction::Out {
                    Dir::Out
                } else {
                    Dir::InOut
                }
            }
        };
        dir
    }

    fn consts_of(&mut self, ctx: Ctx<'_>, members: &[Member]) -> Vec<ConstDef> {
        let mut out = Vec::new();
        for (i, m) in members.iter().enumerate() {
            let Member::Const(f) = m else { continue };
            let dup = members[..i].iter().any(|o| match o {
                Member::Const(g) | Member::Field(g) => g.name.name == f.name.name,
                _ => false,
            });
            if dup {
                self.error(f.name.span, format!("`{}` is declared twice", f.name.name));
                continue;
            }
            let Some(ty) = self.ty(ctx, &f.ty, Position::Const, &[]) else {
                continue;
            };
            let Some(scope) = ctx.scope else { continue };
            if let Ok(value) = self.const_value(scope, &f.name.name, f.name.span) {
                out.push(ConstDef {
                    name: f.name.name.clone(),
                    ty,
                    value,
                    doc: f.doc.clone(),
                });
            }
        }
        out
    }

    fn structured(
        &mut self,
        ctx: Ctx<'_>,
        id: TypeId,
        members: &[Member],
        union: bool,
    ) -> Structured {
        let mut fields = Vec::new();
        for (i, m) in members.iter().enumerate() {
            let Member::Field(f) = m else {
                if let Member::Method(m) = m {
                    self.error(m.name.span, "methods are only allowed in interfaces");
                }
                continue;
            };
            if members[..i].iter().any(
                |o| matches!(o, Member::Field(g) | Member::Const(g) if g.name.name == f.name.name),
            ) {
                self.error(
                    f.name.span,
                    format!("field `{}` is declared twice", f.name.name),
                );
            }
            let Some(ty) = self.ty(ctx, &f.ty, Position::Field, &[]) else {
                continue;
            };
            if union && ty.ty == Ty::ParcelableHolder {
                self.error(f.ty.span, "a union cannot hold a ParcelableHolder");
            }
            let default = match &f.value {
                Some(v) => self.default_value(ctx, &ty, v),
                None => None,
            };
            fields.push(FieldDef {
                name: f.name.name.clone(),
                ty,
                default,
                doc: f.doc.clone(),
            });
        }
        if union {
            if let Some(first) = fields.first() {
                let is_enum = matches!(&first.ty.ty, Ty::Defined(t, _)
                    if matches!(self.r.types[t.0].decl.kind, DeclKind::Enum { .. }));
                if is_enum && first.default.is_none() && !first.ty.nullable {
                    self.error(
                        first.ty.span,
                        "the first member of a union is its default; an enum member there needs a default value",
                    );
                }
            }
        }
        self.check_rust_derive(id, &fields);
        if has_annotation(&self.r.types[id.0].decl.annotations, "FixedSize") {
            for f in &fields {
                if !self.fixed_size(&f.ty) {
                    self.error(
                        f.ty.span,
                        format!(
                            "field `{}` is not fixed-size, so it cannot be in a @FixedSize type",
                            f.name
                        ),
                    );
                }
            }
        }
        Structured {
            type_params: ctx.params.to_vec(),
            fields,
            consts: self.consts_of(ctx, members),
        }
    }
}

impl Builder<'_, '_> {
    /// Whether a value of `t` has a size known in advance: primitives, enums, `@FixedSize`
    /// types and fixed-size arrays of those.
    fn fixed_size(&self, t: &TyRef) -> bool {
        if t.nullable {
            return false;
        }
        match &t.ty {
            Ty::Prim(_) => true,
            Ty::Array(e, Some(_)) => self.fixed_size(e),
            Ty::Defined(d, _) => {
                let decl = &self.r.types[d.0].decl;
                matches!(decl.kind, DeclKind::Enum { .. })
                    || has_annotation(&decl.annotations, "FixedSize")
            }
            _ => false,
        }
    }

    /// A type with `@RustDerive(X=true)` needs every parcelable or union it holds to derive
    /// `X` too.
    fn check_rust_derive(&mut self, id: TypeId, fields: &[FieldDef]) {
        let derived = |decl: &ast::Decl| -> Vec<String> {
            annotations::find(&decl.annotations, "RustDerive")
                .map(|a| {
                    a.params
                        .iter()
                        .filter(|(_, v)| matches!(v.kind, ExprKind::Bool(true)))
                        .map(|(k, _)| k.name.clone())
                        .collect()
                })
                .unwrap_or_default()
        };
        let wanted = derived(&self.r.types[id.0].decl);
        if wanted.is_empty() {
            return;
        }
        for f in fields {
            let mut t = &f.ty;
            while let Ty::Array(e, _) | Ty::List(e) = &t.ty {
                t = e;
            }
            let Ty::Defined(d, _) = &t.ty else { continue };
            let decl = &self.r.types[d.0].decl;
            if !matches!(
                decl.kind,
                DeclKind::Parcelable { .. } | DeclKind::Union { .. }
            ) {
                continue;
            }
            let has = derived(decl);
            if let Some(missing) = wanted.iter().find(|w| !has.contains(w)) {
                let name = decl.name.name.clone();
                self.error(
                    f.ty.span,
                    format!("`{name}` must have `@RustDerive({missing}=true)` to be a field of a type that derives `{missing}`"),
                );
            }
        }
    }

    /// Rejects the names AOSP reserves for its generated meta methods.
    fn check_method_name(&mut self, m: &ast::Method) {
        let arg_types: Vec<String> = m.args.iter().map(|a| a.ty.name.dotted()).collect();
        let reserved = RESERVED_METHODS.iter().any(|(n, args)| {
            *n == m.name.name
                && args
                    .iter()
                    .copied()
                    .eq(arg_types.iter().map(String::as_str))
        });
        if reserved {
            self.error(
                m.name.span,
                format!(
                    "`{}` is reserved for a method every interface has",
                    m.name.name
                ),
            );
        }
    }
}

/// Where a type is written; each allows different things.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Position {
    Return,
    Arg,
    Field,
    Const,
    TypeArg,
}

pub(super) fn const_type(ty: &Ty) -> Option<ConstType> {
    Some(match ty {
        Ty::Prim(Prim::Boolean) => ConstType::Boolean,
        Ty::Prim(Prim::Byte) => ConstType::Byte,
        Ty::Prim(Prim::Char) => ConstType::Char,
        Ty::Prim(Prim::Int) => ConstType::Int,
        Ty::Prim(Prim::Long) => ConstType::Long,
        Ty::Prim(Prim::Float) => ConstType::Float,
        Ty::Prim(Prim::Double) => ConstType::Double,
        Ty::String => ConstType::String,
        _ => return None,
    })
}

pub(super) fn int_kind(p: Prim) -> IntKind {
    match p {
        Prim::Byte => IntKind::Byte,
        Prim::Long => IntKind::Long,
        _ => IntKind::Int,
    }
}

pub(super) fn names(q: &QualifiedName) -> Vec<&str> {
    q.parts.iter().map(|p| p.name.as_str()).collect()
}

pub(super) fn has_annotation(list: &[Annotation], name: &str) -> bool {
    annotations::find(list, name).is_some()
}

pub(super) type Eval<T> = Result<T, EvalError>;

pub(super) fn eval_err<T>(span: Span, msg: impl Into<String>) -> Eval<T> {
    Err((span, msg.into()))
}

pub(super) fn reported_err<T>() -> Eval<T> {
    Err(reported())
}
