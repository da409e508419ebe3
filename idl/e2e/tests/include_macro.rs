//! `afbus_idl::include_aidl!` brings a build script's output into a module.

mod generated {
    afbus_idl::include_aidl!();
}

mod extra {
    afbus_idl::include_aidl!("extra.rs");
}

#[test]
fn the_include_macro_finds_the_build_output() {
    assert_eq!(
        generated::org::afbus::test::ITestService::DESCRIPTOR,
        "org.afbus.test.ITestService"
    );
    assert_eq!(extra::org::afbus::extra::INested::BASE, 7);
}
