//! The annotations AOSP knows, with the parameters each takes. Any other is an error.

use crate::ast::{Annotation, ExprKind};
use crate::diagnostics::Diagnostics;

/// Each known annotation and its parameter names.
const KNOWN: &[(&str, &[&str])] = &[
    ("nullable", &["heap"]),
    ("utf8InCpp", &[]),
    ("VintfStability", &[]),
    (
        "UnsupportedAppUsage",
        &[
            "expectedSignature",
            "implicitMember",
            "maxTargetSdk",
            "publicAlternatives",
            "trackingBug",
            "overrideSourcePosition",
        ],
    ),
    ("Hide", &[]),
    ("Backing", &["type"]),
    ("NdkOnlyStableParcelable", &[]),
    ("JavaOnlyStableParcelable", &[]),
    ("RustOnlyStableParcelable", &[]),
    ("JavaDerive", &["toString", "equals"]),
    ("JavaDefault", &[]),
    ("JavaDelegator", &[]),
    ("JavaOnlyImmutable", &[]),
    ("JavaPassthrough", &["annotation"]),
    ("JavaSuppressLint", &["value"]),
    ("FixedSize", &[]),
    ("Descriptor", &["value"]),
    (
        "RustDerive",
        &[
            "Copy",
            "Clone",
            "PartialOrd",
            "Ord",
            "PartialEq",
            "Eq",
            "Hash",
        ],
    ),
    ("SuppressWarnings", &["value"]),
    ("PropagateAllowBlocking", &[]),
    ("SensitiveData", &[]),
    ("EnforcePermission", &["value", "anyOf", "allOf"]),
    ("RequiresNoPermission", &[]),
    ("PermissionManuallyEnforced", &[]),
];

/// Annotations that may appear more than once on one item.
const REPEATABLE: &[&str] = &["JavaPassthrough"];

/// Parameters that must be given.
const REQUIRED: &[(&str, &str)] = &[
    ("Backing", "type"),
    ("Descriptor", "value"),
    ("JavaPassthrough", "annotation"),
];

/// What an annotation is written on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Target {
    /// An interface declaration.
    Interface,
    /// A structured parcelable declaration.
    Parcelable,
    /// An unstructured parcelable declaration.
    Unstructured,
    /// An enum declaration.
    Enum,
    /// A union declaration.
    Union,
    /// A method, field, constant or enumerator, or the type of one.
    Member,
    /// A method argument or its type.
    Arg,
    /// A type argument, as in `List<T>`.
    TypeArg,
}

/// Whether annotation `name` may be written on `target`.
fn allowed(name: &str, target: Target) -> bool {
    use Target::*;
    let decl = matches!(target, Interface | Parcelable | Unstructured | Enum | Union);
    match name {
        "nullable" | "utf8InCpp" => matches!(target, Member | Arg),
        "Backing" => target == Enum,
        "NdkOnlyStableParcelable" | "JavaOnlyStableParcelable" | "RustOnlyStableParcelable" => {
            target == Unstructured
        }
        "Descriptor" | "JavaDefault" | "JavaDelegator" | "SensitiveData" => target == Interface,
        "JavaDerive" | "RustDerive" | "FixedSize" | "JavaOnlyImmutable" => {
            matches!(target, Parcelable | Union | Enum)
        }
        "VintfStability" => decl,
        "PropagateAllowBlocking" => matches!(target, Interface | Member),
        "EnforcePermission" | "RequiresNoPermission" | "PermissionManuallyEnforced" => {
            matches!(target, Interface | Member)
        }
        "SuppressWarnings" | "JavaSuppressLint" | "UnsupportedAppUsage" | "Hide" => {
            decl || target == Member
        }
        "JavaPassthrough" => target != TypeArg,
        _ => false,
    }
}

/// Reports unknown or misplaced annotations, unknown or missing parameters and repeats.
pub(super) fn check(list: &[Annotation], target: Target, diags: &mut Diagnostics) {
    for (i, a) in list.iter().enumerate() {
        let name = a.name.name.as_str();
        let Some((_, params)) = KNOWN.iter().find(|(n, _)| *n == name) else {
            diags.error(a.span, format!("unknown annotation `@{name}`"));
            continue;
        };
        if target == Target::TypeArg {
            diags.error(a.span, "a type argument cannot be annotated");
            continue;
        }
        if !allowed(name, target) {
            let what = match target {
                Target::Interface => "an interface",
                Target::Parcelable => "a parcelable",
                Target::Unstructured => "an unstructured parcelable",
                Target::Enum => "an enum",
                Target::Union => "a union",
                Target::Member => "a member or its type",
                Target::Arg => "an argument",
                Target::TypeArg => "a type argument",
            };
            diags.error(a.span, format!("`@{name}` is not allowed on {what}"));
            continue;
        }
        if name == "EnforcePermission" && a.params.is_empty() {
            diags.error(
                a.span,
                "`@EnforcePermission` needs a permission, `anyOf` or `allOf`",
            );
        }
        if !REPEATABLE.contains(&name) && list[..i].iter().any(|b| b.name.name == name) {
            diags.error(a.span, format!("`@{name}` is repeated"));
        }
        for (key, value) in &a.params {
            if !params.contains(&key.name.as_str()) {
                let expected = if params.is_empty() {
                    "it takes none".to_string()
                } else {
                    format!("expected one of: {}", params.join(", "))
                };
                diags.error(
                    key.span,
                    format!("`@{name}` has no parameter `{}`; {expected}", key.name),
                );
            }
            if a.params.iter().filter(|(k, _)| k.name == key.name).count() > 1 {
                diags.error(key.span, format!("parameter `{}` is repeated", key.name));
            }
            if matches!(value.kind, ExprKind::Ref(_)) {
                diags.error(
                    value.span,
                    "annotation parameters must be constant literals",
                );
            }
        }
        for (n, p) in REQUIRED {
            if *n == name && !a.params.iter().any(|(k, _)| k.name == *p) {
                diags.error(a.span, format!("`@{name}` needs the parameter `{p}`"));
            }
        }
    }
}

/// The permission annotations, which exclude one another between an interface and its methods.
pub(super) const PERMISSION: &[&str] = &[
    "EnforcePermission",
    "RequiresNoPermission",
    "PermissionManuallyEnforced",
];

/// The annotation named `name`, if present.
pub(super) fn find<'a>(list: &'a [Annotation], name: &str) -> Option<&'a Annotation> {
    list.iter().find(|a| a.name.name == name)
}

/// The string value of parameter `key` of `a`.
pub(super) fn string_param(a: &Annotation, key: &str) -> Option<String> {
    a.params
        .iter()
        .find(|(k, _)| k.name == key)
        .and_then(|(_, v)| match &v.kind {
            ExprKind::Str(s) => Some(s.clone()),
            _ => None,
        })
}
