//! The resolved intermediate representation: every name bound to a type, every constant
//! evaluated, every transaction code assigned. Back ends read only this.

use crate::consts::Value;
use crate::diagnostics::Span;

/// Index of a type in [`Ir::types`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TypeId(pub usize);

/// Everything one compilation defines, including the types its files import.
#[derive(Clone, Debug, Default)]
pub struct Ir {
    /// All types, parents before their nested types.
    pub types: Vec<TypeDef>,
}

impl Ir {
    /// The type with id `id`.
    pub fn get(&self, id: TypeId) -> &TypeDef {
        &self.types[id.0]
    }

    /// Whether values of `ty` are handles (binder objects and file descriptors): types with no
    /// default value, so that a parcelable field holds one as an option and writes it with a
    /// tag although it is not `@nullable`.
    pub fn is_handle(&self, ty: &Ty) -> bool {
        match ty {
            Ty::IBinder | Ty::ParcelFileDescriptor => true,
            Ty::Defined(t, _) => matches!(self.get(*t).kind, TypeKind::Interface(_)),
            _ => false,
        }
    }

    /// The element of a list or array as it is held and written: in a fixed-size array, a
    /// handle is nullable, so that the array has a default value.
    pub fn element(&self, ty: &Ty) -> Option<TyRef> {
        match ty {
            Ty::List(e) | Ty::Array(e, None) => Some((**e).clone()),
            Ty::Array(e, Some(_)) => {
                let mut e = (**e).clone();
                e.nullable |= self.is_handle(&e.ty);
                Some(e)
            }
            _ => None,
        }
    }
}

/// A primitive type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Prim {
    /// `boolean`.
    Boolean,
    /// `byte` (signed 8 bits).
    Byte,
    /// `char` (a UTF-16 code unit).
    Char,
    /// `int`.
    Int,
    /// `long`.
    Long,
    /// `float`.
    Float,
    /// `double`.
    Double,
}

/// A resolved type.
#[derive(Clone, Debug, PartialEq)]
pub enum Ty {
    /// `void`, only as a return type.
    Void,
    /// A primitive.
    Prim(Prim),
    /// `String`.
    String,
    /// `CharSequence` (Java only).
    CharSequence,
    /// `IBinder`.
    IBinder,
    /// `ParcelFileDescriptor`.
    ParcelFileDescriptor,
    /// `FileDescriptor` (Java and C++ only).
    FileDescriptor,
    /// `ParcelableHolder`.
    ParcelableHolder,
    /// `Map` (Java only).
    Map,
    /// `List<T>`.
    List(Box<TyRef>),
    /// `T[]` (`None`) or `T[N]`.
    Array(Box<TyRef>, Option<usize>),
    /// A declared type, with type arguments.
    Defined(TypeId, Vec<TyRef>),
}

/// A type in a position, with its nullability.
#[derive(Clone, Debug, PartialEq)]
pub struct TyRef {
    /// The type.
    pub ty: Ty,
    /// `@nullable`.
    pub nullable: bool,
    /// `@nullable(heap=true)`: held behind a pointer, which lets a type contain itself.
    pub heap: bool,
    /// Where it was written.
    pub span: Span,
}

/// A declared type.
#[derive(Clone, Debug)]
pub struct TypeDef {
    /// The package, split at dots.
    pub package: Vec<String>,
    /// The names from the top-level type down to this one.
    pub path: Vec<String>,
    /// The doc comment.
    pub doc: Option<String>,
    /// The name's place.
    pub span: Span,
    /// The enclosing type, for nested types.
    pub parent: Option<TypeId>,
    /// What kind of type.
    pub kind: TypeKind,
    /// `@RustDerive(...)` traits that are set to true.
    pub rust_derive: Vec<String>,
    /// Whether this type comes from a file named on the command line (as opposed to one
    /// found through an import root).
    pub primary: bool,
}

impl TypeDef {
    /// The simple name.
    pub fn name(&self) -> &str {
        self.path.last().map_or("", String::as_str)
    }

    /// The fully-qualified name, `package.Outer.Inner`.
    pub fn qualified_name(&self) -> String {
        self.package
            .iter()
            .chain(&self.path)
            .cloned()
            .collect::<Vec<_>>()
            .join(".")
    }
}

/// The kind-specific part of a [`TypeDef`].
#[derive(Clone, Debug)]
pub enum TypeKind {
    /// An interface.
    Interface(Interface),
    /// A structured parcelable.
    Parcelable(Structured),
    /// A union.
    Union(Structured),
    /// An enum.
    Enum(Enum),
    /// A parcelable defined outside AIDL.
    Unstructured {
        /// `rust_type "..."`, a Rust path.
        rust_type: Option<String>,
        /// Type parameters.
        type_params: Vec<String>,
    },
}

/// An interface.
#[derive(Clone, Debug)]
pub struct Interface {
    /// The descriptor (`@Descriptor` or the qualified name).
    pub descriptor: String,
    /// `oneway interface`.
    pub oneway: bool,
    /// The methods, in declaration order.
    pub methods: Vec<MethodDef>,
    /// Constants.
    pub consts: Vec<ConstDef>,
    /// The frozen version and hash, for an interface from a frozen API dump.
    pub version: Option<Version>,
}

/// A frozen interface version: `aidl_api/<module>/<N>/` and the hash in its `.hash` file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Version {
    /// The version number `N`.
    pub number: i32,
    /// The last hash line of `.hash`.
    pub hash: String,
}

/// An interface method.
#[derive(Clone, Debug)]
pub struct MethodDef {
    /// Its name as written.
    pub name: String,
    /// The transaction code, as AOSP assigns it (`FIRST_CALL_TRANSACTION + id`).
    pub code: u32,
    /// One-way (declared so, or in a one-way interface).
    pub oneway: bool,
    /// The return type.
    pub ret: TyRef,
    /// The arguments.
    pub args: Vec<ArgDef>,
    /// The doc comment.
    pub doc: Option<String>,
    /// Where its name is.
    pub span: Span,
}

/// Argument direction, resolved (the default is `In`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dir {
    /// Caller to callee.
    In,
    /// Callee to caller.
    Out,
    /// Both ways.
    InOut,
}

/// A method argument.
#[derive(Clone, Debug)]
pub struct ArgDef {
    /// Its name.
    pub name: String,
    /// Its direction.
    pub dir: Dir,
    /// Its type.
    pub ty: TyRef,
}

/// A constant.
#[derive(Clone, Debug)]
pub struct ConstDef {
    /// Its name.
    pub name: String,
    /// Its type.
    pub ty: TyRef,
    /// Its value, converted to the type.
    pub value: Value,
    /// The doc comment.
    pub doc: Option<String>,
}

/// A structured parcelable or union.
#[derive(Clone, Debug)]
pub struct Structured {
    /// Type parameters.
    pub type_params: Vec<String>,
    /// Fields (union members), in order.
    pub fields: Vec<FieldDef>,
    /// Constants.
    pub consts: Vec<ConstDef>,
}

/// A field.
#[derive(Clone, Debug)]
pub struct FieldDef {
    /// Its name.
    pub name: String,
    /// Its type.
    pub ty: TyRef,
    /// Its default value, converted to the type.
    pub default: Option<DefaultValue>,
    /// The doc comment.
    pub doc: Option<String>,
}

/// A field's default.
#[derive(Clone, Debug, PartialEq)]
pub enum DefaultValue {
    /// A constant value.
    Value(Value),
    /// An enumerator of an enum type, by name.
    Enumerator(TypeId, String),
    /// An array of enumerators.
    Enumerators(TypeId, Vec<String>),
}

/// An enum.
#[derive(Clone, Debug)]
pub struct Enum {
    /// The backing type (`byte`, `int` or `long`).
    pub backing: Prim,
    /// The enumerators with their values.
    pub enumerators: Vec<EnumeratorDef>,
}

/// An enumerator.
#[derive(Clone, Debug)]
pub struct EnumeratorDef {
    /// Its name.
    pub name: String,
    /// Its value.
    pub value: i64,
    /// The doc comment.
    pub doc: Option<String>,
}
