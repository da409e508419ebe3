//! Calls by method name from an interface's `.aidl` (what `afbus call --aidl` does): the
//! arguments are written, and the reply read, as the code `afbus-idl` generates for the
//! interface does, from the interface's resolved IR; values are JSON.
//!
//! A value for an argument of type:
//! - `boolean`, `byte`, `int`, `long`, `float`, `double`: a JSON boolean or number;
//! - `char`: a one-character string;
//! - `String`: a JSON string, or any text that is not JSON;
//! - an enum: an enumerator's name or a number;
//! - an array or `List`: a JSON array;
//! - a parcelable: an object with a member per field (a `@nullable` field may be left out);
//! - a union: an object with one member, the field it holds;
//! - `ParcelFileDescriptor`: the path of a file to open for reading;
//! - `@nullable` anything: `null` too. An object reference can only be `null` (the command has
//!   no objects to give).
//!
//! The reply is an object: `return` (unless the method returns `void`), then the `out` and
//! `inout` arguments by name. A binder shows as `"<binder>"`, a file descriptor as the path it
//! is open on.

use std::os::fd::AsRawFd;
use std::path::PathBuf;

use afbus_binder::{Parcel, TransactionCode, MAX_PARCEL_NESTING};
use afbus_idl::ir::{Dir, Interface, Ir, MethodDef, Prim, Ty, TyRef, TypeKind};
use serde_json::{json, Map, Value};

/// Why a call could not be made or its reply shown: the `.aidl` files, the method, or a value
/// that does not fit its declared type (with the path to it, e.g. `argument note: tags: [2]`).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct CallError(String);

impl From<String> for CallError {
    fn from(s: String) -> CallError {
        CallError(s)
    }
}

impl From<&str> for CallError {
    fn from(s: &str) -> CallError {
        CallError(s.to_owned())
    }
}

impl From<afbus_binder::ParcelError> for CallError {
    fn from(e: afbus_binder::ParcelError) -> CallError {
        CallError(e.to_string())
    }
}

type Result<T> = std::result::Result<T, CallError>;

/// The interfaces of some `.aidl` files.
///
/// ```no_run
/// use afbus_servicemanager::aidl_call::Interfaces;
///
/// let aidl = Interfaces::load(&["IEcho.aidl".into()], &[])?;
/// let echo = aidl.method(Some("org.example.IEcho"), "echo")?;
/// let data = echo.write_args(&["hello".into()])?;
/// // ... `service.transact(echo.code(), data)`, then `echo.read_reply(&mut reply)?`.
/// # Ok::<(), afbus_servicemanager::aidl_call::CallError>(())
/// ```
pub struct Interfaces {
    ir: Ir,
}

impl Interfaces {
    /// Parses and resolves `files`, finding what they import under `include_dirs`.
    pub fn load(files: &[PathBuf], include_dirs: &[PathBuf]) -> Result<Interfaces> {
        let c = afbus_idl::compile(&afbus_idl::resolve::RealFs, files, include_dirs)
            .map_err(|e| CallError(e.to_string()))?;
        match c.ir {
            Some(ir) => Ok(Interfaces { ir }),
            None => Err(CallError(c.render_diagnostics())),
        }
    }

    /// The method `name` of the interface with `descriptor`; with no descriptor (the service
    /// did not say), of the only interface the files define.
    pub fn method(&self, descriptor: Option<&str>, name: &str) -> Result<Method<'_>> {
        let defined: Vec<&Interface> = self
            .ir
            .types
            .iter()
            .filter(|t| t.primary)
            .filter_map(|t| match &t.kind {
                TypeKind::Interface(i) => Some(i),
                _ => None,
            })
            .collect();
        let names = |list: &[&Interface]| {
            list.iter()
                .map(|i| i.descriptor.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let interface = match descriptor {
            Some(d) => *defined.iter().find(|i| i.descriptor == d).ok_or_else(|| {
                format!(
                    "the service implements {d}, which the .aidl files do not define (they \
                     define: {})",
                    names(&defined)
                )
            })?,
            None => match defined.as_slice() {
                [one] => *one,
                _ => {
                    return Err(format!(
                        "the service does not say its interface; name one .aidl file with it \
                         (these define: {})",
                        names(&defined)
                    )
                    .into())
                }
            },
        };
        let def = interface
            .methods
            .iter()
            .find(|m| m.name == name)
            .ok_or_else(|| {
                let all: Vec<_> = interface.methods.iter().map(|m| m.name.as_str()).collect();
                format!(
                    "{} has no method {name:?}; it has: {}",
                    interface.descriptor,
                    all.join(", ")
                )
            })?;
        Ok(Method { ir: &self.ir, def })
    }
}

impl Interfaces {
    /// The declared type (parcelable, union or enum) named `qualified`, e.g. `org.example.Note`.
    fn defined(&self, qualified: &str) -> Result<TyRef> {
        let id = self
            .ir
            .types
            .iter()
            .position(|t| t.qualified_name() == qualified)
            .ok_or_else(|| format!("the .aidl files define no type {qualified}"))?;
        Ok(TyRef {
            ty: Ty::Defined(afbus_idl::ir::TypeId(id), Vec::new()),
            nullable: false,
            heap: false,
            span: self.ir.types[id].span,
        })
    }

    /// Writes `value` as a value of the declared type `qualified`, as generated code would.
    pub fn write_value(&self, qualified: &str, value: &Value, p: &mut Parcel) -> Result<()> {
        write(&self.ir, p, &self.defined(qualified)?, false, value)
    }

    /// Reads a value of the declared type `qualified` written by generated code.
    pub fn read_value(&self, qualified: &str, p: &mut Parcel) -> Result<Value> {
        read(&self.ir, p, &self.defined(qualified)?, false, 0)
    }
}

/// One method of an interface.
pub struct Method<'a> {
    ir: &'a Ir,
    def: &'a MethodDef,
}

impl Method<'_> {
    /// Its transaction code.
    pub fn code(&self) -> TransactionCode {
        TransactionCode(self.def.code)
    }

    /// Whether it is one-way (no reply).
    pub fn oneway(&self) -> bool {
        self.def.oneway
    }

    /// The call's parcel: the `in` and `inout` arguments, one value each (see the module's
    /// documentation).
    pub fn write_args(&self, args: &[String]) -> Result<Parcel> {
        let params: Vec<_> = self.def.args.iter().filter(|a| a.dir != Dir::Out).collect();
        if args.len() != params.len() {
            let list: Vec<_> = params.iter().map(|a| a.name.as_str()).collect();
            return Err(format!(
                "{} takes {} argument(s) ({}), not {}",
                self.def.name,
                params.len(),
                list.join(", "),
                args.len()
            )
            .into());
        }
        let mut p = Parcel::new();
        for (a, text) in params.iter().zip(args) {
            let value = serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.clone()));
            write(self.ir, &mut p, &a.ty, false, &value)
                .map_err(|e| format!("argument {}: {e}", a.name))?;
        }
        Ok(p)
    }

    /// The reply: `return`, then the `out` and `inout` arguments by name.
    pub fn read_reply(&self, p: &mut Parcel) -> Result<Map<String, Value>> {
        let mut out = Map::new();
        if self.def.ret.ty != Ty::Void {
            let v =
                read(self.ir, p, &self.def.ret, false, 0).map_err(|e| format!("return: {e}"))?;
            out.insert("return".into(), v);
        }
        for a in self.def.args.iter().filter(|a| a.dir != Dir::In) {
            let v = read(self.ir, p, &a.ty, false, 0).map_err(|e| format!("{}: {e}", a.name))?;
            out.insert(a.name.clone(), v);
        }
        Ok(out)
    }
}

/// Whether the generated code holds a value of `t` in an `Option` although it is not
/// `@nullable`: binders and fds in parcelable fields, which are then written with a tag.
fn held_as_option(ir: &Ir, t: &TyRef, field: bool) -> bool {
    t.nullable || (field && ir.is_handle(&t.ty))
}

fn is_binder(ir: &Ir, ty: &Ty) -> bool {
    ir.is_handle(ty) && *ty != Ty::ParcelFileDescriptor
}

fn non_null(t: &TyRef) -> TyRef {
    TyRef {
        nullable: false,
        ..t.clone()
    }
}

fn type_name(ir: &Ir, ty: &Ty) -> String {
    match ty {
        Ty::Defined(d, _) => ir.get(*d).qualified_name(),
        other => format!("{other:?}"),
    }
}

fn int<T: TryFrom<i64>>(v: &Value) -> Result<T> {
    v.as_i64()
        .and_then(|n| T::try_from(n).ok())
        .ok_or_else(|| format!("{v} is not an integer of the argument's size").into())
}

fn float(v: &Value) -> Result<f64> {
    v.as_f64()
        .ok_or_else(|| format!("{v} is not a number").into())
}

/// Writes `v` as a value of `t`; `field`: inside a parcelable or union.
fn write(ir: &Ir, p: &mut Parcel, t: &TyRef, field: bool, v: &Value) -> Result<()> {
    if is_binder(ir, &t.ty) {
        return match (v, held_as_option(ir, t, field)) {
            (Value::Null, true) => {
                p.write_nullable_binder(None);
                Ok(())
            }
            _ => Err("an object reference can only be null here (and only if @nullable)".into()),
        };
    }
    if held_as_option(ir, t, field) {
        if v.is_null() {
            p.write_u8(0);
            return Ok(());
        }
        p.write_u8(1);
        return write(ir, p, &non_null(t), false, v);
    }
    match &t.ty {
        Ty::Prim(pr) => match pr {
            Prim::Boolean => p.write_bool(v.as_bool().ok_or(format!("{v} is not a boolean"))?),
            Prim::Byte => p.write_i8(int(v)?),
            Prim::Char => {
                let c = v
                    .as_str()
                    .and_then(|s| {
                        let mut units = s.encode_utf16();
                        units.next().filter(|_| units.next().is_none())
                    })
                    .ok_or(format!("{v} is not one UTF-16 character"))?;
                p.write_char(c);
            }
            Prim::Int => p.write_i32(int(v)?),
            Prim::Long => p.write_i64(int(v)?),
            Prim::Float => p.write_f32(float(v)? as f32),
            Prim::Double => p.write_f64(float(v)?),
        },
        Ty::String => p.write_str(v.as_str().ok_or(format!("{v} is not a string"))?),
        Ty::ParcelFileDescriptor => {
            let path = v.as_str().ok_or("a file descriptor is given as a path")?;
            let file = std::fs::File::open(path).map_err(|e| format!("open {path}: {e}"))?;
            p.write_fd(file.into());
        }
        Ty::List(_) | Ty::Array(..) => {
            let items = v.as_array().ok_or(format!("{v} is not an array"))?;
            if let Ty::Array(_, Some(n)) = &t.ty {
                if items.len() != *n {
                    return Err(format!("the array holds {n} elements, not {}", items.len()).into());
                }
            }
            let el = ir.element(&t.ty).ok_or("not an array")?;
            p.write_u32(u32::try_from(items.len()).map_err(|_| "too many elements")?);
            for (i, x) in items.iter().enumerate() {
                write(ir, p, &el, false, x).map_err(|e| format!("[{i}]: {e}"))?;
            }
        }
        Ty::Defined(d, _) => match &ir.get(*d).kind {
            TypeKind::Parcelable(s) => {
                let fields = v.as_object().ok_or(format!("{v} is not an object"))?;
                if let Some(k) = fields
                    .keys()
                    .find(|k| !s.fields.iter().any(|f| &f.name == *k))
                {
                    return Err(format!("{} has no field {k:?}", type_name(ir, &t.ty)).into());
                }
                for f in &s.fields {
                    let fv = match fields.get(&f.name) {
                        Some(fv) => fv,
                        None if held_as_option(ir, &f.ty, true) => &Value::Null,
                        None => return Err(format!("field {} is missing", f.name).into()),
                    };
                    write(ir, p, &f.ty, true, fv).map_err(|e| format!("{}: {e}", f.name))?;
                }
            }
            TypeKind::Union(s) => {
                let member = v
                    .as_object()
                    .filter(|o| o.len() == 1)
                    .and_then(|o| o.iter().next())
                    .ok_or(format!("{v} is not an object with one member"))?;
                let (tag, f) = s
                    .fields
                    .iter()
                    .enumerate()
                    .find(|(_, f)| &f.name == member.0)
                    .ok_or(format!(
                        "{} has no member {:?}",
                        type_name(ir, &t.ty),
                        member.0
                    ))?;
                p.write_i32(i32::try_from(tag).map_err(|_| "too many members")?);
                write(ir, p, &f.ty, true, member.1).map_err(|e| format!("{}: {e}", f.name))?;
            }
            TypeKind::Enum(e) => {
                let n = match v.as_str() {
                    Some(name) => {
                        e.enumerators
                            .iter()
                            .find(|x| x.name == name)
                            .ok_or(format!("{} has no enumerator {name}", type_name(ir, &t.ty)))?
                            .value
                    }
                    None => int(v)?,
                };
                match e.backing {
                    Prim::Long => p.write_i64(n),
                    Prim::Int => p.write_i32(int(&json!(n))?),
                    _ => p.write_i8(int(&json!(n))?),
                }
            }
            _ => {
                return Err(
                    format!("values of {} cannot be given here", type_name(ir, &t.ty)).into(),
                )
            }
        },
        other => return Err(format!("values of {other:?} cannot be given here").into()),
    }
    Ok(())
}

/// Reads a value of `t`; `field`: inside a parcelable or union. `depth` counts the values it is
/// inside: a reply nested deeper than [`MAX_PARCEL_NESTING`] (a self-containing type, say) is an
/// error, not a stack overflow.
fn read(ir: &Ir, p: &mut Parcel, t: &TyRef, field: bool, depth: usize) -> Result<Value> {
    if depth > MAX_PARCEL_NESTING {
        return Err(format!("values nested more than {MAX_PARCEL_NESTING} deep").into());
    }
    let inner = depth + 1;
    if is_binder(ir, &t.ty) {
        let b = if held_as_option(ir, t, field) {
            p.read_nullable_binder()?
        } else {
            Some(p.read_binder()?)
        };
        return Ok(b.map_or(Value::Null, |_| json!("<binder>")));
    }
    if held_as_option(ir, t, field) {
        return match p.read_u8()? {
            0 => Ok(Value::Null),
            1 => read(ir, p, &non_null(t), false, inner),
            tag => Err(format!("a null tag of {tag}").into()),
        };
    }
    Ok(match &t.ty {
        Ty::Prim(pr) => match pr {
            Prim::Boolean => json!(p.read_bool()?),
            Prim::Byte => json!(p.read_i8()?),
            Prim::Char => json!(String::from_utf16_lossy(&[p.read_char()?])),
            Prim::Int => json!(p.read_i32()?),
            Prim::Long => json!(p.read_i64()?),
            Prim::Float => json!(p.read_f32()?),
            Prim::Double => json!(p.read_f64()?),
        },
        Ty::String => json!(p.read_string()?),
        Ty::ParcelFileDescriptor => {
            let fd = p.take_fd()?;
            let target = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()));
            json!(target.map_or_else(|_| "<fd>".into(), |p| p.display().to_string()))
        }
        Ty::List(_) | Ty::Array(..) => {
            let el = ir.element(&t.ty).ok_or("not an array")?;
            let count = p.read_u32()? as usize;
            if let Ty::Array(_, Some(n)) = &t.ty {
                if count != *n {
                    return Err(format!("a fixed array of {n} holds {count} elements").into());
                }
            }
            // Every element takes a byte at least: a count the rest cannot hold is refused
            // before anything is allocated.
            if count > p.remaining() {
                return Err(
                    format!("an array of {count} elements in {} bytes", p.remaining()).into(),
                );
            }
            let mut items = Vec::with_capacity(count);
            for i in 0..count {
                items.push(read(ir, p, &el, false, inner).map_err(|e| format!("[{i}]: {e}"))?);
            }
            Value::Array(items)
        }
        Ty::Defined(d, _) => match &ir.get(*d).kind {
            TypeKind::Parcelable(s) => {
                let mut fields = Map::new();
                for f in &s.fields {
                    let v =
                        read(ir, p, &f.ty, true, inner).map_err(|e| format!("{}: {e}", f.name))?;
                    fields.insert(f.name.clone(), v);
                }
                Value::Object(fields)
            }
            TypeKind::Union(s) => {
                let tag = p.read_i32()?;
                let f = usize::try_from(tag)
                    .ok()
                    .and_then(|i| s.fields.get(i))
                    .ok_or(format!("{} has no member {tag}", type_name(ir, &t.ty)))?;
                let v = read(ir, p, &f.ty, true, inner).map_err(|e| format!("{}: {e}", f.name))?;
                json!({ f.name.clone(): v })
            }
            TypeKind::Enum(e) => {
                let n = match e.backing {
                    Prim::Long => p.read_i64()?,
                    Prim::Int => i64::from(p.read_i32()?),
                    _ => i64::from(p.read_i8()?),
                };
                match e.enumerators.iter().find(|x| x.value == n) {
                    Some(x) => json!(x.name),
                    None => json!(n),
                }
            }
            _ => return Err(format!("values of {} cannot be shown", type_name(ir, &t.ty)).into()),
        },
        other => return Err(format!("values of {other:?} cannot be shown").into()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hostile reply for a type that contains itself, nested far deeper than any real one:
    /// an error, not a stack overflow.
    #[test]
    fn a_reply_nested_without_end_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("org/example/Node.aidl");
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        let aidl = "package org.example;\nparcelable Node { @nullable(heap=true) Node next; }\n";
        std::fs::write(&file, aidl).unwrap();
        let nodes = Interfaces::load(&[file], &[dir.path().to_owned()]).unwrap();
        let mut deep = Parcel::from_parts(vec![1u8; 1_000_000], Vec::new());
        let err = nodes.read_value("org.example.Node", &mut deep).unwrap_err();
        assert!(
            err.to_string().contains("nested more than 128 deep"),
            "{err}"
        );
        // Ten levels are fine.
        let mut ten = vec![1u8; 10];
        ten.push(0);
        let v = nodes
            .read_value("org.example.Node", &mut Parcel::from_parts(ten, Vec::new()))
            .unwrap();
        assert!(v["next"]["next"].is_object());
    }
}
