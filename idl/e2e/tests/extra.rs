//! Corner cases of the generated Rust, exercised in one process through local objects and
//! parcels: nested types, keyword names, generics, union tags and constant expressions.

use afbus_binder::{Parcel, Parcelable, Runtime, RuntimeConfig, Status};
use afbus_idl_e2e::extra::org::afbus::extra::{
    GenericBox::GenericBox,
    INested::{self, Choice, INested as _, INestedProxy, Result as NestedResult, State},
    Keywords::{self, Keywords as KeywordsType},
};

struct Nested;

impl INested::INested for Nested {
    fn tag_of(&self, c: &Choice::Choice) -> Result<Choice::Tag::Tag, Status> {
        Ok(match c {
            Choice::Choice::state(_) => Choice::Tag::Tag::state,
            Choice::Choice::nested(_) => Choice::Tag::Tag::nested,
        })
    }

    fn r#box(
        &self,
        b: &GenericBox<String, NestedResult::Result>,
    ) -> Result<GenericBox<String, NestedResult::Result>, Status> {
        let mut b = b.clone();
        b.count += 1;
        Ok(b)
    }

    fn keywords(
        &self,
        k: &KeywordsType,
        r#type: i32,
        r#match: &str,
    ) -> Result<KeywordsType, Status> {
        Ok(KeywordsType {
            r#match: k.r#match + r#type,
            r#fn: r#match.to_string(),
            ..k.clone()
        })
    }

    fn self_(&self, callback: &INested::ICallback::ICallbackProxy) -> Result<(), Status> {
        use INested::ICallback::ICallback as _;
        callback.done(&NestedResult::Result::default())
    }

    fn fully_qualified(&self, r: &NestedResult::Result) -> Result<NestedResult::Result, Status> {
        Ok(r.clone())
    }
}

struct Callback(std::sync::Mutex<Vec<State::State>>);

impl INested::ICallback::ICallback for Callback {
    fn done(&self, r: &NestedResult::Result) -> Result<(), Status> {
        self.0.lock().unwrap().push(r.state);
        Ok(())
    }
}

#[test]
fn constant_expressions_evaluate_as_aosp_does() {
    assert_eq!(INested::BASE, 7);
    assert_eq!(INested::DERIVED, 17);
    assert_eq!(INested::WIDE, 0xFFFF_FFFF);
    assert_eq!(INested::WRAPPED, -1);
    assert_eq!(INested::SMALL, -1);
    const { assert!(INested::CHECK) };
    assert_eq!(INested::JOINED, "ab");
    assert_eq!(INested::LETTER, u16::from(b'q'));
    assert_eq!(INested::HALF, 0.5);
    assert_eq!(INested::THIRD, 1.0 / 3.0);
    assert_eq!(Keywords::r#type, 3);
    assert_eq!(
        (
            State::State::IDLE.0,
            State::State::BUSY.0,
            State::State::DONE.0
        ),
        (0, 1 << 33, (1 << 33) + 1)
    );
    assert_eq!(
        State::State::enumerators(),
        [State::State::IDLE, State::State::BUSY, State::State::DONE]
    );
}

#[test]
fn defaults_unions_and_tags() {
    let r = NestedResult::Result::default();
    assert_eq!(r.state, State::State::BUSY);
    assert_eq!(r.choice, Choice::Choice::state(State::State::DONE));
    assert_eq!(Choice::Tag::Tag::state.0, 0);
    assert_eq!(Choice::Tag::Tag::nested.0, 1);
    let k = KeywordsType::default();
    assert_eq!(
        (k.r#match, k.r#fn.as_str(), k.self_, k.Self_),
        (0, "fn", false, 0)
    );
    let b: GenericBox<String, i32> = GenericBox::default();
    assert_eq!(b.count, 2);
}

#[test]
fn local_calls_go_through_the_stub() {
    let rt = Runtime::new(RuntimeConfig::default()).unwrap();
    let svc = INestedProxy::new_local(&rt, Nested);
    let nested = Choice::Choice::nested(vec![NestedResult::Result::default()]);
    assert_eq!(svc.tag_of(&nested).unwrap(), Choice::Tag::Tag::nested);
    let b = GenericBox::<String, NestedResult::Result> {
        count: 5,
        label: "one".to_string(),
        ..Default::default()
    };
    let back = svc.r#box(&b).unwrap();
    assert_eq!((back.label.as_str(), back.count), ("one", 6));
    let k = svc.keywords(&KeywordsType::default(), 4, "x").unwrap();
    assert_eq!((k.r#match, k.r#fn.as_str()), (4, "x"));
    let calls = std::sync::Arc::new(Callback(Default::default()));
    let cb = INested::ICallback::ICallbackProxy::new_local(&rt, ArcCallback(calls.clone()));
    svc.self_(&cb).unwrap();
    assert_eq!(*calls.0.lock().unwrap(), [State::State::BUSY]);
}

/// Shares a callback between the test and the runtime.
struct ArcCallback(std::sync::Arc<Callback>);

impl INested::ICallback::ICallback for ArcCallback {
    fn done(&self, r: &NestedResult::Result) -> Result<(), Status> {
        self.0.done(r)
    }
}

#[test]
fn malformed_parcels_are_errors_not_panics() {
    let mut p = Parcel::new();
    p.write_i32(7); // no such union tag
    p.rewind();
    assert!(Choice::Choice::read_from(&mut p).is_err());
    let mut p = Parcel::new();
    p.write_u8(9); // not a presence tag
    p.rewind();
    assert!(p.read::<NestedResult::Result>().is_err());
    let mut p = Parcel::new();
    p.write_u32(u32::MAX); // an array count no data backs
    p.rewind();
    assert!(p.read::<Choice::Choice>().is_err());
}

struct Versioned;

impl afbus_idl_e2e::extra::org::example::IVersioned::IVersioned for Versioned {
    fn twice(&self, x: i32) -> Result<i32, Status> {
        Ok(2 * x)
    }
}

#[test]
fn a_frozen_interface_reports_its_version_and_hash() {
    use afbus_idl_e2e::extra::org::example::IVersioned::{self, IVersioned as _, IVersionedProxy};
    let rt = Runtime::new(RuntimeConfig::default()).unwrap();
    let proxy = IVersionedProxy::new_local(&rt, Versioned);
    assert_eq!(proxy.twice(21).unwrap(), 42);
    assert_eq!(proxy.interface_version().unwrap(), IVersioned::VERSION);
    assert_eq!(IVersioned::VERSION, 2);
    assert_eq!(
        proxy.interface_hash().unwrap(),
        "3c01bdbb26f358bab27f267924aa2c9a03fcfdb8"
    );
}

#[test]
fn a_parcelable_holder_carries_an_extension() {
    use afbus_idl_e2e::extra::org::afbus::extra::Extendable::{self, Extendable as ExtendableType};
    let mut e = ExtendableType::default();
    assert_eq!(e.ext.descriptor(), None);
    let k = KeywordsType {
        r#match: 9,
        ..Default::default()
    };
    e.ext.set_extension(Keywords::DESCRIPTOR, &k).unwrap();
    let mut p = Parcel::new();
    p.write(&e);
    p.rewind();
    let back: ExtendableType = p.read().unwrap();
    assert_eq!(back, e);
    assert_eq!(back.ext.descriptor(), Some("org.afbus.extra.Keywords"));
    assert_eq!(
        back.ext
            .get_extension::<KeywordsType>(Keywords::DESCRIPTOR)
            .unwrap(),
        Some(k)
    );
    assert_eq!(
        back.ext
            .get_extension::<KeywordsType>(Extendable::DESCRIPTOR)
            .unwrap(),
        None
    );
}
