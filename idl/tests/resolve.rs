//! Name resolution and numbering, checked on the IR: AOSP's scoping rules, imports, fully
//! qualified and default-package names, transaction codes, enum values and constants.

use std::path::PathBuf;

use afbus_idl::consts::Value;
use afbus_idl::ir::{Ir, Ty, TypeKind};
use afbus_idl::resolve::MemoryFs;

fn ir(files: &[(&str, &str)]) -> Ir {
    let mut fs = MemoryFs::new();
    for (p, t) in files {
        fs.add(*p, *t);
    }
    let c = afbus_idl::compile(&fs, &[PathBuf::from(files[0].0)], &[]).unwrap();
    let rendered = c.render_diagnostics();
    c.ir.unwrap_or_else(|| panic!("rejected:\n{rendered}"))
}

fn find<'a>(ir: &'a Ir, name: &str) -> &'a afbus_idl::ir::TypeDef {
    ir.types
        .iter()
        .find(|t| t.qualified_name() == name)
        .unwrap_or_else(|| panic!("no type {name}"))
}

fn field_type(ir: &Ir, parcelable: &str, field: &str) -> String {
    let TypeKind::Parcelable(s) = &find(ir, parcelable).kind else {
        panic!("{parcelable} is not a parcelable")
    };
    let f = s.fields.iter().find(|f| f.name == field).unwrap();
    match &f.ty.ty {
        Ty::Defined(t, _) => ir.get(*t).qualified_name(),
        other => format!("{other:?}"),
    }
}

#[test]
fn nested_scopes_win_over_imports_and_the_package() {
    let ir = ir(&[
        (
            "foo/A.aidl",
            "package foo; import other.B; parcelable A { parcelable B { parcelable C {} } B b; B.C c; A.B ab; foo.A.B fq; }",
        ),
        ("foo/B.aidl", "package foo; parcelable B {}"),
        ("other/B.aidl", "package other; parcelable B {}"),
    ]);
    assert_eq!(field_type(&ir, "foo.A", "b"), "foo.A.B");
    assert_eq!(field_type(&ir, "foo.A", "c"), "foo.A.B.C");
    assert_eq!(field_type(&ir, "foo.A", "ab"), "foo.A.B");
    assert_eq!(field_type(&ir, "foo.A", "fq"), "foo.A.B");
}

#[test]
fn imports_same_package_fully_qualified_and_default_package_names_resolve() {
    let ir = ir(&[
        (
            "p/Main.aidl",
            "package p; import q.Imported; import q.Outer.Inner; parcelable Main { Imported i; Sibling s; r.Far f; Inner n; }",
        ),
        ("q/Imported.aidl", "package q; parcelable Imported {}"),
        ("q/Outer.aidl", "package q; parcelable Outer { parcelable Inner {} }"),
        ("p/Sibling.aidl", "package p; parcelable Sibling {}"),
        ("r/Far.aidl", "package r; parcelable Far {}"),
    ]);
    assert_eq!(field_type(&ir, "p.Main", "i"), "q.Imported");
    assert_eq!(field_type(&ir, "p.Main", "s"), "p.Sibling");
    assert_eq!(field_type(&ir, "p.Main", "f"), "r.Far");
    assert_eq!(field_type(&ir, "p.Main", "n"), "q.Outer.Inner");
    let ir = ir_default_package();
    assert_eq!(field_type(&ir, "Main", "other"), "Other");
}

fn ir_default_package() -> Ir {
    ir(&[
        ("Main.aidl", "parcelable Main { Other other; }"),
        ("Other.aidl", "parcelable Other {}"),
    ])
}

#[test]
fn transaction_codes_follow_aosp() {
    let ir = ir(&[(
        "p/IFoo.aidl",
        "package p; interface IFoo { void a(); void b(); oneway void c(); }",
    )]);
    let TypeKind::Interface(i) = &find(&ir, "p.IFoo").kind else {
        panic!()
    };
    let codes: Vec<(&str, u32, bool)> = i
        .methods
        .iter()
        .map(|m| (m.name.as_str(), m.code, m.oneway))
        .collect();
    assert_eq!(codes, [("a", 1, false), ("b", 2, false), ("c", 3, true)]);
    assert_eq!(i.descriptor, "p.IFoo");
    let ir = ir_ids();
    let TypeKind::Interface(i) = &find(&ir, "p.IBar").kind else {
        panic!()
    };
    let codes: Vec<u32> = i.methods.iter().map(|m| m.code).collect();
    assert_eq!(codes, [11, 1, 16777115]);
    assert!(i.oneway && i.methods.iter().all(|m| m.oneway));
}

fn ir_ids() -> Ir {
    ir(&[(
        "p/IBar.aidl",
        "package p; oneway interface IBar { void a() = 10; void b() = 0; void c() = 16777114; }",
    )])
}

fn consts(ir: &Ir, ty: &str) -> Vec<(String, Value)> {
    match &find(ir, ty).kind {
        TypeKind::Interface(i) => i
            .consts
            .iter()
            .map(|c| (c.name.clone(), c.value.clone()))
            .collect(),
        TypeKind::Parcelable(s) => s
            .consts
            .iter()
            .map(|c| (c.name.clone(), c.value.clone()))
            .collect(),
        _ => panic!(),
    }
}

fn int(v: i128) -> Value {
    Value::Int(v, afbus_idl::consts::IntKind::Int)
}

#[test]
fn constant_expressions_follow_c_rules() {
    let ir = ir(&[
        (
            "p/IC.aidl",
            "package p; import p.Other; interface IC {
               const int A = 1 + 2 * 3;
               const int B = (1 + 2) * 3;
               const int C = -8 >> 1;
               const int D = 1 << 4 | 1 & 3 ^ 2;
               const int E = 7 % 4 == 3 ? 10 : 20;
               const int F = ~0;
               const int G = 0x80000000;
               const int H = 010;
               const int I = Other.X + A;
               const int J = !(1 > 2) && 3 <= 3;
               const int K = 8 << -1;
             }",
        ),
        (
            "p/Other.aidl",
            "package p; parcelable Other { const int X = 100; }",
        ),
    ]);
    let c = consts(&ir, "p.IC");
    let get = |n: &str| c.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
    assert_eq!(get("A"), Some(int(7)));
    assert_eq!(get("B"), Some(int(9)));
    assert_eq!(get("C"), Some(int(-4)));
    assert_eq!(get("D"), Some(int(16 | ((1 & 3) ^ 2))));
    assert_eq!(get("E"), Some(int(10)));
    assert_eq!(get("F"), Some(int(-1)));
    assert_eq!(get("G"), Some(int(i128::from(i32::MIN))));
    assert_eq!(get("H"), Some(int(8)));
    assert_eq!(get("I"), Some(int(107)));
    assert_eq!(get("J"), Some(int(1)));
    assert_eq!(get("K"), Some(int(4)));
}

#[test]
fn a_dotted_unstructured_parcelable_is_named_with_its_outer_class() {
    let ir = ir(&[
        (
            "p/Main.aidl",
            "package p; parcelable Main { Outer.Inner i; p.Outer.Inner q; }",
        ),
        (
            "p/Outer.aidl",
            "package p; parcelable Outer.Inner rust_type \"crate::Inner\";",
        ),
    ]);
    assert_eq!(field_type(&ir, "p.Main", "i"), "p.Outer.Inner");
    assert_eq!(field_type(&ir, "p.Main", "q"), "p.Outer.Inner");
}
