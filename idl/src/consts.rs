//! Constant expressions: literals, C operators with C precedence, and references to other
//! constants, evaluated as the AOSP compiler does (integer promotion to `int` or `long`).

use crate::ast::{Expr, ExprKind, QualifiedName};

/// The width of an integer value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum IntKind {
    /// 8-bit `byte`.
    Byte,
    /// 32-bit `int`.
    Int,
    /// 64-bit `long`.
    Long,
}

impl IntKind {
    fn bits(self) -> u32 {
        match self {
            IntKind::Byte => 8,
            IntKind::Int => 32,
            IntKind::Long => 64,
        }
    }

    /// Wraps `v` to this width, two's complement.
    fn wrap(self, v: i128) -> i128 {
        match self {
            IntKind::Byte => i128::from(v as i8),
            IntKind::Int => i128::from(v as i32),
            IntKind::Long => i128::from(v as i64),
        }
    }
}

/// An evaluated constant.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// `true`/`false` or a comparison's result.
    Bool(bool),
    /// An integer of the given width.
    Int(i128, IntKind),
    /// A floating-point value; `true` for `float` (an `f` suffix), `false` for `double`.
    Float(f64, bool),
    /// A character.
    Char(char),
    /// A string.
    Str(String),
    /// `{a, b}`.
    Array(Vec<Value>),
}

/// A primitive type a constant can be converted to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConstType {
    /// `boolean`.
    Boolean,
    /// `byte`.
    Byte,
    /// `char`.
    Char,
    /// `int`.
    Int,
    /// `long`.
    Long,
    /// `float`.
    Float,
    /// `double`.
    Double,
    /// `String`.
    String,
}

/// Parses an integer literal (decimal, hex `0x`, octal `0`, with `L` or `u8` suffix) into its
/// value and type as AOSP types it: hex literals are reinterpreted in two's complement.
pub fn parse_int_literal(text: &str) -> Option<(i64, IntKind)> {
    // `_` separates digits: never doubled, leading, trailing or next to a prefix or suffix.
    let bytes = text.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'_' {
            let before = i.checked_sub(1).map(|j| bytes[j]);
            let after = bytes.get(i + 1).copied();
            let digit = |c: Option<u8>| c.is_some_and(|c| c.is_ascii_hexdigit());
            let prefix = i == 2 && (text.starts_with("0x") || text.starts_with("0X"));
            if !digit(before) || !digit(after) || prefix {
                return None;
            }
        }
    }
    let cleaned = text.replace('_', "");
    let text = cleaned.as_str();
    let (body, suffix) = if let Some(b) = text.strip_suffix("u8") {
        (b, Some(IntKind::Byte))
    } else if let Some(b) = text.strip_suffix("u32") {
        (b, Some(IntKind::Int))
    } else if let Some(b) = text.strip_suffix("u64") {
        (b, Some(IntKind::Long))
    } else if let Some(b) = text.strip_suffix(['l', 'L']) {
        (b, Some(IntKind::Long))
    } else {
        (text, None)
    };
    let (digits, radix) = if let Some(h) = body.strip_prefix("0x").or(body.strip_prefix("0X")) {
        (h, 16)
    } else if body.len() > 1 && body.starts_with('0') {
        (&body[1..], 8)
    } else {
        (body, 10)
    };
    if digits.is_empty() || digits.starts_with(['+', '-']) {
        return None;
    }
    let raw = u64::from_str_radix(digits, radix).ok()?;
    let signed = radix == 10;
    match suffix {
        Some(IntKind::Byte) => (raw <= 0xff).then(|| (i64::from(raw as u8 as i8), IntKind::Byte)),
        Some(IntKind::Int) => (text.ends_with("u32") && raw <= u64::from(u32::MAX))
            .then(|| (i64::from(raw as u32 as i32), IntKind::Int)),
        Some(IntKind::Long) if text.ends_with("u64") => Some((raw as i64, IntKind::Long)),
        Some(_) => {
            if signed {
                i64::try_from(raw).ok().map(|v| (v, IntKind::Long))
            } else {
                Some((raw as i64, IntKind::Long))
            }
        }
        None => {
            if let Ok(v) = i32::try_from(raw) {
                Some((i64::from(v), IntKind::Int))
            } else if !signed && raw <= u64::from(u32::MAX) {
                Some((i64::from(raw as u32 as i32), IntKind::Int))
            } else if let Ok(v) = i64::try_from(raw) {
                Some((v, IntKind::Long))
            } else if !signed {
                Some((raw as i64, IntKind::Long))
            } else {
                None
            }
        }
    }
}

/// An evaluation error, with the expression it is about.
pub type EvalError = (crate::diagnostics::Span, String);

/// Evaluates `e`, asking `lookup` for the value of each referenced constant.
pub fn eval(
    e: &Expr,
    lookup: &mut dyn FnMut(&QualifiedName) -> Result<Value, EvalError>,
) -> Result<Value, EvalError> {
    let err = |m: String| Err((e.span, m));
    match &e.kind {
        ExprKind::Int(t) => match parse_int_literal(t) {
            Some((v, k)) => Ok(Value::Int(i128::from(v), k)),
            None => err(format!("invalid integer literal `{t}`")),
        },
        ExprKind::Float(t) => {
            let (body, single) = match t.strip_suffix(['f', 'F']) {
                Some(b) => (b, true),
                None => (t.strip_suffix(['d', 'D']).unwrap_or(t), false),
            };
            match body.parse::<f64>() {
                Ok(v) => Ok(Value::Float(v, single)),
                Err(_) => err(format!("invalid floating-point literal `{t}`")),
            }
        }
        ExprKind::Bool(b) => Ok(Value::Bool(*b)),
        ExprKind::Char(c) => Ok(Value::Char(*c)),
        ExprKind::Str(s) => Ok(Value::Str(s.clone())),
        ExprKind::Ref(name) => lookup(name),
        ExprKind::Array(items) => items
            .iter()
            .map(|i| eval(i, lookup))
            .collect::<Result<_, _>>()
            .map(Value::Array),
        ExprKind::Ternary(c, a, b) => {
            let cond = match eval(c, lookup)? {
                Value::Bool(b) => b,
                Value::Int(v, _) => v != 0,
                _ => return Err((c.span, "condition is not a boolean".to_string())),
            };
            if cond {
                eval(a, lookup)
            } else {
                eval(b, lookup)
            }
        }
        ExprKind::Unary(op, inner) => {
            let v = match eval(inner, lookup)? {
                Value::Bool(b) if op != "!" => Value::Int(i128::from(b), IntKind::Int),
                v => v,
            };
            match (op.as_str(), v) {
                ("+", v @ (Value::Int(..) | Value::Float(..))) => Ok(v),
                ("-", Value::Int(v, k)) => {
                    let k = k.max(IntKind::Int);
                    Ok(Value::Int(k.wrap(-v), k))
                }
                ("-", Value::Float(v, s)) => Ok(Value::Float(-v, s)),
                ("~", Value::Int(v, k)) => {
                    let k = k.max(IntKind::Int);
                    Ok(Value::Int(k.wrap(!v), k))
                }
                ("!", Value::Bool(b)) => Ok(Value::Bool(!b)),
                ("!", Value::Int(v, _)) => Ok(Value::Bool(v == 0)),
                (op, v) => err(format!(
                    "operator `{op}` cannot be applied to {}",
                    describe(&v)
                )),
            }
        }
        ExprKind::Binary(op, a, b) => {
            let l = eval(a, lookup)?;
            let r = eval(b, lookup)?;
            binary(op, l, r).map_err(|m| (e.span, m))
        }
    }
}

fn describe(v: &Value) -> &'static str {
    match v {
        Value::Bool(_) => "a boolean",
        Value::Int(..) => "an integer",
        Value::Float(..) => "a floating-point value",
        Value::Char(_) => "a character",
        Value::Str(_) => "a string",
        Value::Array(_) => "an array",
    }
}

fn binary(op: &str, l: Value, r: Value) -> Result<Value, String> {
    // Booleans take part in arithmetic and mixed comparisons as 0 and 1, as in C.
    let both_bool = matches!((&l, &r), (Value::Bool(_), Value::Bool(_)));
    let logical = matches!(op, "&&" | "||") || (both_bool && matches!(op, "==" | "!="));
    let as_int = |v: Value| match v {
        Value::Bool(b) if !logical => Value::Int(i128::from(b), IntKind::Int),
        v => v,
    };
    let (l, r) = (as_int(l), as_int(r));
    let truth = |v: &Value| match v {
        Value::Bool(b) => Some(*b),
        Value::Int(i, _) => Some(*i != 0),
        _ => None,
    };
    match (op, &l, &r) {
        ("&&" | "||", _, _) => match (truth(&l), truth(&r)) {
            (Some(a), Some(b)) => Ok(Value::Bool(if op == "&&" { a && b } else { a || b })),
            _ => Err(format!("operator `{op}` needs boolean operands")),
        },
        ("+", Value::Str(a), Value::Str(b)) => Ok(Value::Str(format!("{a}{b}"))),
        ("==" | "!=", Value::Str(a), Value::Str(b)) => Ok(Value::Bool((a == b) == (op == "=="))),
        ("==" | "!=", Value::Bool(a), Value::Bool(b)) => Ok(Value::Bool((a == b) == (op == "=="))),
        (_, Value::Int(a, ka), Value::Int(b, kb)) => int_binary(op, *a, *b, (*ka).max(*kb)),
        (_, Value::Float(..), Value::Float(..)) => {
            let f = |v: &Value| match v {
                Value::Float(f, s) => (*f, *s),
                _ => (0.0, true),
            };
            let ((a, sa), (b, sb)) = (f(&l), f(&r));
            let single = sa && sb;
            Ok(match op {
                "+" => Value::Float(a + b, single),
                "-" => Value::Float(a - b, single),
                "*" => Value::Float(a * b, single),
                "/" => Value::Float(a / b, single),
                "<" => Value::Bool(a < b),
                ">" => Value::Bool(a > b),
                "<=" => Value::Bool(a <= b),
                ">=" => Value::Bool(a >= b),
                "==" => Value::Bool(a == b),
                "!=" => Value::Bool(a != b),
                _ => {
                    return Err(format!(
                        "operator `{op}` cannot be applied to floating-point values"
                    ))
                }
            })
        }
        _ => Err(format!(
            "operator `{op}` cannot be applied to {} and {}",
            describe(&l),
            describe(&r)
        )),
    }
}

fn int_binary(op: &str, a: i128, b: i128, k: IntKind) -> Result<Value, String> {
    let k = k.max(IntKind::Int);
    let int = |v: i128| Ok(Value::Int(k.wrap(v), k));
    match op {
        "+" => int(a + b),
        "-" => int(a - b),
        "*" => int(k.wrap(a).wrapping_mul(k.wrap(b))),
        "/" | "%" if b == 0 => Err("division by zero".to_string()),
        "/" => int(a / b),
        "%" => int(a % b),
        "&" => int(a & b),
        "|" => int(a | b),
        "^" => int(a ^ b),
        "<<" | ">>" => {
            // A negative count shifts the other way, as AOSP evaluates it.
            let left = (op == "<<") == (b >= 0);
            let n = b.unsigned_abs();
            if n >= u128::from(k.bits()) {
                return Err(format!(
                    "shift by {b} is out of range for a {}-bit value",
                    k.bits()
                ));
            }
            let n = n as u32;
            if left {
                int(k.wrap(a) << n)
            } else {
                int(k.wrap(a) >> n)
            }
        }
        "<" => Ok(Value::Bool(a < b)),
        ">" => Ok(Value::Bool(a > b)),
        "<=" => Ok(Value::Bool(a <= b)),
        ">=" => Ok(Value::Bool(a >= b)),
        "==" => Ok(Value::Bool(a == b)),
        "!=" => Ok(Value::Bool(a != b)),
        _ => Err(format!("unknown operator `{op}`")),
    }
}

/// Converts `v` to a value of type `ty`, checking its range. Bytes accept -128..=255 (255
/// is -1), as AOSP does.
pub fn convert(v: &Value, ty: ConstType) -> Result<Value, String> {
    let range = |i: i128, lo: i128, hi: i128, k: IntKind, name: &str| {
        if (lo..=hi).contains(&i) {
            Ok(Value::Int(k.wrap(i), k))
        } else {
            Err(format!("value {i} does not fit in `{name}`"))
        }
    };
    match (ty, v) {
        (ConstType::Boolean, Value::Bool(_)) => Ok(v.clone()),
        (ConstType::Byte | ConstType::Int | ConstType::Long, Value::Bool(b)) => {
            let k = match ty {
                ConstType::Byte => IntKind::Byte,
                ConstType::Int => IntKind::Int,
                _ => IntKind::Long,
            };
            Ok(Value::Int(i128::from(*b), k))
        }
        (ConstType::Byte, Value::Int(i, _)) => {
            range(*i, -128, 127, IntKind::Byte, "byte").map_err(|m| {
                if (128..=255).contains(i) {
                    format!("{m}; write `{i:#X}u8` for the byte with these bits")
                } else {
                    m
                }
            })
        }
        (ConstType::Int, Value::Int(i, k)) => {
            range(*i, i32::MIN.into(), i32::MAX.into(), IntKind::Int, "int").map_err(|m| {
                if *k == IntKind::Long && *i > 0 && *i <= i128::from(u32::MAX) {
                    format!("{m}; write `{i}u32` for the int with these bits")
                } else {
                    m
                }
            })
        }
        (ConstType::Long, Value::Int(i, _)) => {
            range(*i, i64::MIN.into(), i64::MAX.into(), IntKind::Long, "long")
        }
        (ConstType::Char, Value::Char(c)) if u32::from(*c) <= 0xffff => Ok(v.clone()),
        (ConstType::Float, Value::Float(f, true)) => {
            if f.is_finite() && f.abs() <= f64::from(f32::MAX) {
                Ok(Value::Float(*f, true))
            } else {
                Err("the value is out of range for `float`".to_string())
            }
        }
        (ConstType::Float, Value::Float(_, false)) => {
            Err("a `double` value is not a valid `float` value; add the `f` suffix".to_string())
        }
        (ConstType::Double, Value::Float(f, _)) => {
            if f.is_finite() {
                Ok(Value::Float(*f, false))
            } else {
                Err("the value is out of range for `double`".to_string())
            }
        }
        (ConstType::String, Value::Str(_)) => Ok(v.clone()),
        _ => Err(format!(
            "{} is not a valid `{}` value",
            describe(v),
            type_name(ty)
        )),
    }
}

fn type_name(ty: ConstType) -> &'static str {
    match ty {
        ConstType::Boolean => "boolean",
        ConstType::Byte => "byte",
        ConstType::Char => "char",
        ConstType::Int => "int",
        ConstType::Long => "long",
        ConstType::Float => "float",
        ConstType::Double => "double",
        ConstType::String => "String",
    }
}
