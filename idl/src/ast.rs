//! The syntax tree of one `.aidl` file, as written (names not yet resolved).

use crate::diagnostics::Span;

/// An identifier with its place.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ident {
    /// The text.
    pub name: String,
    /// Where.
    pub span: Span,
}

/// A dotted name such as `android.os.IBinder`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QualifiedName {
    /// The parts, in order.
    pub parts: Vec<Ident>,
    /// The whole name's place.
    pub span: Span,
}

impl QualifiedName {
    /// The parts joined with dots.
    pub fn dotted(&self) -> String {
        self.parts
            .iter()
            .map(|p| p.name.as_str())
            .collect::<Vec<_>>()
            .join(".")
    }
}

/// One parsed file.
#[derive(Clone, Debug, PartialEq)]
pub struct Document {
    /// The `package` line, if any.
    pub package: Option<QualifiedName>,
    /// The `import` lines.
    pub imports: Vec<QualifiedName>,
    /// The top-level declarations.
    pub decls: Vec<Decl>,
}

/// An annotation such as `@nullable` or `@Backing(type="byte")`.
#[derive(Clone, Debug, PartialEq)]
pub struct Annotation {
    /// Its name, without `@`.
    pub name: Ident,
    /// `key = value` parameters; a lone `(value)` is stored under the key `value`.
    pub params: Vec<(Ident, Expr)>,
    /// Where (from `@` to the name's end).
    pub span: Span,
}

/// A declared type: interface, parcelable, enum or union.
#[derive(Clone, Debug, PartialEq)]
pub struct Decl {
    /// The type's simple name.
    pub name: Ident,
    /// Its annotations.
    pub annotations: Vec<Annotation>,
    /// The doc comment before it.
    pub doc: Option<String>,
    /// What kind of type, with its body.
    pub kind: DeclKind,
}

/// The body of a [`Decl`].
#[derive(Clone, Debug, PartialEq)]
pub enum DeclKind {
    /// `interface I { ... }`.
    Interface {
        /// `oneway interface`.
        oneway: bool,
        /// The members.
        members: Vec<Member>,
    },
    /// `parcelable P<T> { ... }`.
    Parcelable {
        /// Type parameters.
        type_params: Vec<Ident>,
        /// The members.
        members: Vec<Member>,
    },
    /// `parcelable P cpp_header "..." ...;`, a type defined elsewhere.
    Unstructured {
        /// Type parameters.
        type_params: Vec<Ident>,
        /// `cpp_header`, `ndk_header` and `rust_type` clauses.
        headers: Vec<(Ident, String)>,
    },
    /// `enum E { A = 1, B }`.
    Enum {
        /// The enumerators, with their values if given.
        enumerators: Vec<Enumerator>,
    },
    /// `union U { ... }`.
    Union {
        /// Type parameters.
        type_params: Vec<Ident>,
        /// The members.
        members: Vec<Member>,
    },
}

/// One enumerator.
#[derive(Clone, Debug, PartialEq)]
pub struct Enumerator {
    /// Its name.
    pub name: Ident,
    /// `= value`, if written.
    pub value: Option<Expr>,
    /// Its doc comment.
    pub doc: Option<String>,
    /// Its annotations.
    pub annotations: Vec<Annotation>,
}

/// Something inside an interface, parcelable or union body.
#[derive(Clone, Debug, PartialEq)]
pub enum Member {
    /// A method (interfaces only).
    Method(Method),
    /// `const T NAME = value;`.
    Const(Field),
    /// A field (parcelables and unions).
    Field(Field),
    /// A nested type.
    Type(Decl),
}

/// A field or constant.
#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    /// Its type.
    pub ty: TypeRef,
    /// Its name.
    pub name: Ident,
    /// `= value`.
    pub value: Option<Expr>,
    /// Its doc comment.
    pub doc: Option<String>,
    /// Its annotations (those written before the type belong to the type).
    pub annotations: Vec<Annotation>,
}

/// Argument direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// `in`.
    In,
    /// `out`.
    Out,
    /// `inout`.
    InOut,
}

/// A method argument.
#[derive(Clone, Debug, PartialEq)]
pub struct Arg {
    /// The direction as written, with its place.
    pub direction: Option<(Direction, Span)>,
    /// Its type.
    pub ty: TypeRef,
    /// Its name.
    pub name: Ident,
    /// Annotations written before the direction.
    pub annotations: Vec<Annotation>,
}

/// An interface method.
#[derive(Clone, Debug, PartialEq)]
pub struct Method {
    /// `oneway`.
    pub oneway: Option<Span>,
    /// Return type (`void` is a [`TypeRef`] named `void`).
    pub ret: TypeRef,
    /// Its name.
    pub name: Ident,
    /// The arguments.
    pub args: Vec<Arg>,
    /// `= N`, an explicit transaction id.
    pub id: Option<(i64, Span)>,
    /// Its doc comment.
    pub doc: Option<String>,
    /// Its annotations.
    pub annotations: Vec<Annotation>,
}

/// A type as written: a name, type arguments, array suffixes and annotations.
#[derive(Clone, Debug, PartialEq)]
pub struct TypeRef {
    /// The name.
    pub name: QualifiedName,
    /// Type arguments (`List<T>`).
    pub args: Vec<TypeRef>,
    /// Array dimensions in order: `None` is `[]`, `Some(expr)` is `[N]`.
    pub dims: Vec<Option<Expr>>,
    /// Annotations on the type.
    pub annotations: Vec<Annotation>,
    /// The whole type's place.
    pub span: Span,
}

/// A constant expression.
#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    /// What it is.
    pub kind: ExprKind,
    /// Where.
    pub span: Span,
}

/// The shape of an [`Expr`].
#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    /// An integer literal, as written.
    Int(String),
    /// A floating-point literal, as written.
    Float(String),
    /// `true` or `false`.
    Bool(bool),
    /// A character literal.
    Char(char),
    /// A string literal.
    Str(String),
    /// A reference to a constant or enumerator.
    Ref(QualifiedName),
    /// A unary operator.
    Unary(String, Box<Expr>),
    /// A binary operator.
    Binary(String, Box<Expr>, Box<Expr>),
    /// `c ? a : b`.
    Ternary(Box<Expr>, Box<Expr>, Box<Expr>),
    /// `{a, b, c}`.
    Array(Vec<Expr>),
}
