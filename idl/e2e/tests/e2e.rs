//! Services built from AIDL by afbus-idl, called across processes: every type and direction
//! round-trips, callbacks reach the caller, nulls stay null, out/inout values come back,
//! unknown enum values survive, fds travel, and service-specific errors arrive intact.

#[path = "../../../transport/tests/common/mod.rs"]
mod common;

use std::io::{Read as _, Write as _};
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::time::Duration;

use afbus_binder::{
    ExceptionCode, Parcel, Runtime, RuntimeConfig, SpIBinder, Status, StatusCode, TransactionCode,
};
use afbus_idl_e2e::org::afbus::test::{
    Everything::{Everything, Inner},
    FdHolder::FdHolder,
    ICallback::{self, ICallback as _, ICallbackProxy},
    ITestService::{self, ITestService as _, ITestServiceProxy},
    Kind::Kind,
    Point::Point,
    Shape::Shape,
};
use afbus_servicemanager::aidl_call::Interfaces;
use afbus_transport::{BusSocket, Watch};
use common::{child_role, with_timeout, ChildGuard, TestBus};
use parking_lot::{Condvar, Mutex};

const NAME: &str = "org.afbus.test.Service";

#[test]
fn child_entry() {
    let Some((role, bus)) = child_role() else {
        return;
    };
    match role.as_str() {
        "server" => serve(&bus),
        other => panic!("unknown role {other}"),
    }
}

/// The service implementation the child process runs.
struct Service {
    rt: Arc<Runtime>,
}

/// A callback that prefixes what it echoes and records one-way values.
struct Prefixer {
    prefix: String,
    values: Arc<(Mutex<Vec<i32>>, Condvar)>,
}

impl ICallback::ICallback for Prefixer {
    fn on_echo(&self, text: &str) -> Result<String, Status> {
        Ok(format!("{}{text}", self.prefix))
    }

    fn on_value(&self, value: i32) -> Result<(), Status> {
        self.values.0.lock().push(value);
        self.values.1.notify_all();
        Ok(())
    }
}

fn read_all(fd: &OwnedFd) -> Result<String, Status> {
    let io = |e: std::io::Error| Status::new_exception(ExceptionCode::ILLEGAL_STATE, e.to_string());
    let mut file = std::fs::File::from(fd.try_clone().map_err(io)?);
    let mut text = String::new();
    file.read_to_string(&mut text).map_err(io)?;
    Ok(text)
}

impl ITestService::ITestService for Service {
    fn repeat_boolean(&self, v: bool) -> Result<bool, Status> {
        Ok(v)
    }
    fn repeat_byte(&self, v: i8) -> Result<i8, Status> {
        Ok(v)
    }
    fn repeat_char(&self, v: u16) -> Result<u16, Status> {
        Ok(v)
    }
    fn repeat_int(&self, v: i32) -> Result<i32, Status> {
        Ok(v)
    }
    fn repeat_long(&self, v: i64) -> Result<i64, Status> {
        Ok(v)
    }
    fn repeat_float(&self, v: f32) -> Result<f32, Status> {
        Ok(v)
    }
    fn repeat_double(&self, v: f64) -> Result<f64, Status> {
        Ok(v)
    }
    fn repeat_string(&self, v: &str) -> Result<String, Status> {
        Ok(v.to_string())
    }
    fn repeat_nullable_string(&self, v: Option<&str>) -> Result<Option<String>, Status> {
        Ok(v.map(str::to_string))
    }
    fn repeat_kind(&self, v: Kind) -> Result<Kind, Status> {
        Ok(v)
    }
    fn repeat_bytes(&self, v: &[i8]) -> Result<Vec<i8>, Status> {
        Ok(v.to_vec())
    }
    fn reverse_ints(&self, input: &[i32], reversed: &mut Vec<i32>) -> Result<Vec<i32>, Status> {
        *reversed = input.iter().rev().copied().collect();
        Ok(input.to_vec())
    }
    fn reverse_strings(
        &self,
        input: &[String],
        reversed: &mut Vec<String>,
    ) -> Result<Vec<String>, Status> {
        *reversed = input.iter().rev().cloned().collect();
        Ok(input.to_vec())
    }
    fn repeat_string_list(&self, v: &[String]) -> Result<Vec<String>, Status> {
        Ok(v.to_vec())
    }
    fn repeat_nullable_ints(&self, v: Option<&[i32]>) -> Result<Option<Vec<i32>>, Status> {
        Ok(v.map(<[i32]>::to_vec))
    }
    fn rotate(&self, v: &[i32]) -> Result<Vec<i32>, Status> {
        let mut v = v.to_vec();
        v.rotate_left(1);
        Ok(v)
    }
    fn move_point(&self, p: &Point, dx: i32, dy: i32) -> Result<Point, Status> {
        Ok(Point {
            x: p.x + dx,
            y: p.y + dy,
        })
    }
    fn negate(&self, p: &mut Point) -> Result<(), Status> {
        p.x = -p.x;
        p.y = -p.y;
        Ok(())
    }
    fn fill_everything(&self, e: &mut Everything) -> Result<(), Status> {
        e.s = "filled".to_string();
        e.kind = Kind::C;
        Ok(())
    }
    fn repeat_shape(&self, s: &Shape) -> Result<Shape, Status> {
        Ok(s.clone())
    }
    fn repeat_everything(&self, e: &Everything) -> Result<Everything, Status> {
        Ok(e.clone())
    }
    fn repeat_nullable_everything(
        &self,
        e: Option<&Everything>,
    ) -> Result<Option<Everything>, Status> {
        Ok(e.cloned())
    }
    fn repeat_binder(&self, b: &SpIBinder) -> Result<SpIBinder, Status> {
        Ok(b.clone())
    }
    fn repeat_nullable_binder(&self, b: Option<&SpIBinder>) -> Result<Option<SpIBinder>, Status> {
        Ok(b.cloned())
    }
    fn dup_fd(&self, fd: &OwnedFd) -> Result<OwnedFd, Status> {
        fd.try_clone()
            .map_err(|e| Status::new_exception(ExceptionCode::ILLEGAL_STATE, e.to_string()))
    }
    fn read_fd(&self, fd: &OwnedFd) -> Result<String, Status> {
        read_all(fd)
    }
    fn read_fd_holder(&self, h: &FdHolder) -> Result<Vec<String>, Status> {
        let mut out = Vec::new();
        for fd in h.fd.iter().chain(h.maybe.iter()).chain(h.many.iter()) {
            out.push(read_all(fd)?);
        }
        Ok(out)
    }
    fn call_back(&self, cb: &ICallbackProxy, text: &str) -> Result<String, Status> {
        cb.on_echo(text)
    }
    fn make_callback(&self, prefix: &str) -> Result<ICallbackProxy, Status> {
        let prefixer = Prefixer {
            prefix: prefix.to_string(),
            values: Arc::default(),
        };
        Ok(ICallbackProxy::new_local(&self.rt, prefixer))
    }
    fn fail_with(&self, code: i32, message: &str) -> Result<(), Status> {
        Err(Status::new_service_specific(code, message))
    }
    fn notify_later(&self, cb: &ICallbackProxy, value: i32) -> Result<(), Status> {
        cb.on_value(value)
    }
}

fn serve(bus_path: &str) -> ! {
    let rt = Arc::new(Runtime::new(RuntimeConfig::default()).expect("runtime"));
    rt.start_thread_pool();
    let bus = Arc::new(BusSocket::connect(bus_path).expect("join bus"));
    let service = ITestServiceProxy::new_local(&rt, Service { rt: rt.clone() });
    rt.publish(&bus, NAME, service.as_binder())
        .expect("publish");
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

/// A private bus, the service in a child process, and a client runtime that serves
/// callbacks.
struct World {
    _bus: TestBus,
    _server: ChildGuard,
    rt: Arc<Runtime>,
    svc: ITestServiceProxy,
}

impl World {
    fn new() -> World {
        let bus = TestBus::new();
        let server = bus.spawn("server");
        let endpoint = BusSocket::connect(bus.path()).unwrap();
        let name = NAME.parse().unwrap();
        endpoint.watch(&Watch::Name(NAME.parse().unwrap())).unwrap();
        while endpoint.name_owner(&name).unwrap().is_none() {
            endpoint.recv_event(Some(Duration::from_secs(20))).unwrap();
        }
        let rt = Arc::new(Runtime::new(RuntimeConfig::default()).unwrap());
        rt.start_thread_pool();
        let svc = ITestServiceProxy::from_binder_checked(rt.get_service(&endpoint, NAME).unwrap())
            .unwrap();
        World {
            _bus: bus,
            _server: server,
            rt,
            svc,
        }
    }
}

fn sample_everything(rt: &Runtime) -> Everything {
    let values = Arc::default();
    let cb = ICallbackProxy::new_local(
        rt,
        Prefixer {
            prefix: "cb:".into(),
            values,
        },
    );
    Everything {
        b: false,
        by: i8::MIN,
        c: u16::from(b'Z'),
        i: -7,
        l: i64::MAX,
        f: 0.25,
        d: f64::MIN_POSITIVE,
        s: "ünïcödé".into(),
        ns: Some("present".into()),
        ints: vec![i32::MIN, 0, i32::MAX],
        strs: Some(vec!["a".into(), String::new()]),
        points: vec![Point { x: 3, y: 4 }, Point::default()],
        kind: Kind(1234),
        kinds: vec![Kind::D, Kind(-1)],
        point: Point { x: 9, y: 8 },
        maybePoint: Some(Point { x: -1, y: -2 }),
        shape: Shape::point(Point { x: 1, y: 2 }),
        binder: Some(cb.as_binder().clone()),
        callback: Some(cb.clone()),
        callbacks: vec![cb.clone(), cb],
        matrix: vec![vec![5, 6], vec![7, 8]],
        inner: Inner::Inner {
            name: "changed".into(),
        },
        next: Some(Box::new(Everything::default())),
    }
}

#[test]
fn defaults_follow_the_declarations() {
    let e = Everything::default();
    assert!(e.b);
    assert_eq!((e.by, e.c, e.i, e.l), (-3, u16::from(b'x'), 12, 1 << 40));
    assert_eq!((e.f, e.d), (1.5, -2.25));
    assert_eq!(e.s, "default");
    assert_eq!(e.ns, None);
    assert_eq!(e.ints, [1, 2, 3]);
    assert_eq!(e.kind, Kind::B);
    assert_eq!(e.kinds, [Kind::A, Kind::C]);
    assert_eq!(e.point, Point { x: 1, y: -1 });
    assert_eq!(e.matrix, [[1, 2], [3, 4]]);
    assert_eq!(e.inner.name, "inner");
    assert_eq!(e.shape, Shape::label("none".into()));
    assert_eq!(e.binder, None);
    assert_eq!((Kind::C.0, Kind::D.0), (6, 0x105));
    assert_eq!(format!("{:?} {:?}", Kind::B, Kind(77)), "B Kind(77)");
    assert_eq!(ITestService::MAGIC, 0x1244);
    assert_eq!(ITestService::GREETING, "hello");
    assert_eq!(afbus_idl_e2e::org::afbus::test::Everything::LIMIT, 12);
    assert_eq!(ITestService::DESCRIPTOR, "org.afbus.test.ITestService");
    assert_eq!(
        ITestService::transactions::REPEAT_BOOLEAN,
        TransactionCode(1)
    );
}

#[test]
fn primitives_strings_arrays_and_enums_round_trip() {
    with_timeout(60, || {
        let w = World::new();
        let s = &w.svc;
        assert!(s.repeat_boolean(true).unwrap());
        assert_eq!(s.repeat_byte(-128).unwrap(), -128);
        assert_eq!(s.repeat_char(0xD83D).unwrap(), 0xD83D);
        assert_eq!(s.repeat_int(i32::MIN).unwrap(), i32::MIN);
        assert_eq!(s.repeat_long(i64::MAX).unwrap(), i64::MAX);
        assert_eq!(s.repeat_float(-0.5).unwrap(), -0.5);
        assert!(s.repeat_double(f64::NAN).unwrap().is_nan());
        assert_eq!(s.repeat_string("héllo").unwrap(), "héllo");
        assert_eq!(s.repeat_nullable_string(None).unwrap(), None);
        assert_eq!(
            s.repeat_nullable_string(Some("")).unwrap().as_deref(),
            Some("")
        );
        assert_eq!(s.repeat_kind(Kind::D).unwrap(), Kind::D);
        assert_eq!(
            s.repeat_kind(Kind(42)).unwrap(),
            Kind(42),
            "unknown values round-trip"
        );
        assert_eq!(s.repeat_bytes(&[1, -1, 0]).unwrap(), [1, -1, 0]);
        let mut reversed = vec![99];
        assert_eq!(
            s.reverse_ints(&[1, 2, 3], &mut reversed).unwrap(),
            [1, 2, 3]
        );
        assert_eq!(reversed, [3, 2, 1]);
        let strings = ["a".to_string(), "b".to_string()];
        let mut back = Vec::new();
        assert_eq!(s.reverse_strings(&strings, &mut back).unwrap(), strings);
        assert_eq!(back, ["b", "a"]);
        assert_eq!(s.repeat_string_list(&strings).unwrap(), strings);
        assert_eq!(s.repeat_nullable_ints(None).unwrap(), None);
        assert_eq!(s.repeat_nullable_ints(Some(&[])).unwrap(), Some(vec![]));
        assert_eq!(s.rotate(&[1, 2, 3]).unwrap(), [2, 3, 1]);
    })
}

#[test]
fn parcelables_unions_nullables_and_out_values_round_trip() {
    with_timeout(60, || {
        let w = World::new();
        let s = &w.svc;
        assert_eq!(
            s.move_point(&Point { x: 1, y: 2 }, 10, 20).unwrap(),
            Point { x: 11, y: 22 }
        );
        let mut p = Point { x: 5, y: -6 };
        s.negate(&mut p).unwrap();
        assert_eq!(p, Point { x: -5, y: 6 });
        let mut filled = Everything {
            s: "overwritten by the reply".into(),
            ..Everything::default()
        };
        s.fill_everything(&mut filled).unwrap();
        assert_eq!((filled.s.as_str(), filled.kind), ("filled", Kind::C));
        for shape in [
            Shape::label("x".into()),
            Shape::point(Point::default()),
            Shape::radius(-4),
        ] {
            assert_eq!(s.repeat_shape(&shape).unwrap(), shape);
        }
        let e = sample_everything(&w.rt);
        assert_eq!(s.repeat_everything(&e).unwrap(), e);
        assert_eq!(
            s.repeat_everything(&Everything::default()).unwrap(),
            Everything::default()
        );
        assert_eq!(s.repeat_nullable_everything(None).unwrap(), None);
        assert_eq!(s.repeat_nullable_everything(Some(&e)).unwrap(), Some(e));
    })
}

/// The `.aidl` files of the service under test, as a tool reading them at run time finds them.
fn interfaces() -> Interfaces {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("aidl");
    Interfaces::load(&[dir.join("org/afbus/test/ITestService.aidl")], &[dir]).unwrap()
}

/// What `afbus call --aidl` does (`afbus_servicemanager::aidl_call`) speaks the generated
/// code's wire format: a value written by generated code reads back as JSON and writes again to
/// the same bytes, for a parcelable with a field of every kind.
#[test]
fn values_read_from_the_aidl_at_run_time_match_the_generated_code() {
    let aidl = interfaces();
    let next = Everything {
        ns: Some("deeper".into()),
        ..Everything::default()
    };
    let e = Everything {
        ns: Some("present".into()),
        strs: Some(vec!["a".into(), String::new()]),
        points: vec![Point { x: 3, y: 4 }],
        kind: Kind(1234),
        kinds: vec![Kind::D, Kind(-1)],
        maybePoint: Some(Point { x: -1, y: -2 }),
        shape: Shape::radius(-4),
        s: "ünïcödé".into(),
        next: Some(Box::new(next)),
        ..Everything::default()
    };
    let mut p = Parcel::new();
    p.write(&e);
    let bytes = p.as_bytes().to_vec();
    let value = aidl
        .read_value(
            "org.afbus.test.Everything",
            &mut Parcel::from_parts(bytes.clone(), vec![]),
        )
        .unwrap();
    assert_eq!(
        value["kind"],
        serde_json::json!(1234),
        "an unknown enumerator stays a number"
    );
    assert_eq!(value["kinds"], serde_json::json!(["D", -1]));
    assert_eq!(value["shape"], serde_json::json!({"radius": -4}));
    assert_eq!(value["c"], serde_json::json!("x"));
    assert_eq!(value["matrix"], serde_json::json!([[1, 2], [3, 4]]));
    assert_eq!(value["binder"], serde_json::Value::Null);
    assert_eq!(value["next"]["ns"], serde_json::json!("deeper"));
    let mut again = Parcel::new();
    aidl.write_value("org.afbus.test.Everything", &value, &mut again)
        .unwrap();
    assert_eq!(again.as_bytes(), bytes);
    // What does not fit the declaration is refused, saying where.
    let mut wrong = value.clone();
    wrong["points"][0]["x"] = serde_json::json!("three");
    let err = aidl
        .write_value("org.afbus.test.Everything", &wrong, &mut Parcel::new())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "points: [0]: x: \"three\" is not an integer of the argument's size"
    );
}

/// Methods called by name, arguments and replies as JSON, against the generated service.
#[test]
fn methods_called_by_name_from_the_aidl_reach_the_generated_service() {
    with_timeout(60, || {
        let w = World::new();
        let aidl = interfaces();
        let call = |method: &str, args: &[&str]| {
            let m = aidl.method(Some(ITestService::DESCRIPTOR), method).unwrap();
            let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
            let mut reply = w
                .svc
                .as_binder()
                .transact(m.code(), m.write_args(&args).unwrap())
                .unwrap();
            serde_json::Value::Object(m.read_reply(&mut reply).unwrap())
        };
        use serde_json::json;
        assert_eq!(call("repeatInt", &["-5"]), json!({"return": -5}));
        assert_eq!(
            call("repeatString", &["not json"]),
            json!({"return": "not json"})
        );
        assert_eq!(
            call("repeatNullableString", &["null"]),
            json!({"return": null})
        );
        assert_eq!(call("repeatKind", &["\"D\""]), json!({"return": "D"}));
        assert_eq!(call("repeatChar", &["\"Z\""]), json!({"return": "Z"}));
        assert_eq!(
            call("reverseInts", &["[1, 2, 3]"]),
            json!({"return": [1, 2, 3], "reversed": [3, 2, 1]})
        );
        assert_eq!(
            call("movePoint", &[r#"{"x": 1, "y": 2}"#, "10", "20"]),
            json!({"return": {"x": 11, "y": 22}})
        );
        assert_eq!(
            call("negate", &[r#"{"x": 5, "y": -6}"#]),
            json!({"p": {"x": -5, "y": 6}})
        );
        assert_eq!(
            call("repeatShape", &[r#"{"label": "x"}"#]),
            json!({"return": {"label": "x"}})
        );
        let filled = call("fillEverything", &[]);
        assert_eq!(
            (&filled["e"]["s"], &filled["e"]["kind"]),
            (&json!("filled"), &json!("C"))
        );
        // A service that does not say what it implements: the one interface of the files
        // named (ICallback is only imported).
        assert!(aidl.method(None, "repeatInt").is_ok());
        let err = aidl
            .method(Some("org.other.IFoo"), "x")
            .err()
            .unwrap()
            .to_string();
        assert_eq!(
            err,
            "the service implements org.other.IFoo, which the .aidl files do not define (they \
             define: org.afbus.test.ITestService)"
        );
        let err = aidl
            .method(Some(ITestService::DESCRIPTOR), "nope")
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.starts_with(
                "org.afbus.test.ITestService has no method \"nope\"; it has: repeatBoolean"
            ),
            "{err}"
        );
        let err = aidl
            .method(Some(ITestService::DESCRIPTOR), "movePoint")
            .unwrap()
            .write_args(&["{}".into()])
            .err()
            .unwrap()
            .to_string();
        assert_eq!(err, "movePoint takes 3 argument(s) (p, dx, dy), not 1");
    })
}

#[test]
fn callbacks_binders_and_one_way_calls_reach_the_caller() {
    with_timeout(60, || {
        let w = World::new();
        let s = &w.svc;
        let values: Arc<(Mutex<Vec<i32>>, Condvar)> = Arc::default();
        let cb = ICallbackProxy::new_local(
            &w.rt,
            Prefixer {
                prefix: "client:".into(),
                values: values.clone(),
            },
        );
        assert_eq!(s.call_back(&cb, "hi").unwrap(), "client:hi");
        let remote_cb = s.make_callback("server:").unwrap();
        assert!(!remote_cb.as_binder().is_local());
        assert_eq!(remote_cb.on_echo("yo").unwrap(), "server:yo");
        assert_eq!(s.call_back(&remote_cb, "again").unwrap(), "server:again");
        assert_eq!(s.repeat_binder(cb.as_binder()).unwrap(), *cb.as_binder());
        assert_eq!(s.repeat_nullable_binder(None).unwrap(), None);
        s.notify_later(&cb, 7).unwrap();
        s.notify_later(&cb, 8).unwrap();
        let mut got = values.0.lock();
        while got.len() < 2 {
            assert!(
                !values
                    .1
                    .wait_for(&mut got, Duration::from_secs(20))
                    .timed_out(),
                "one-way callbacks did not arrive"
            );
        }
        assert_eq!(*got, [7, 8]);
    })
}

fn pipe_with(text: &str) -> OwnedFd {
    let (read, write) = nix::unistd::pipe().unwrap();
    let mut file = std::fs::File::from(write);
    file.write_all(text.as_bytes()).unwrap();
    read
}

#[test]
fn fds_and_service_specific_errors_cross_processes() {
    with_timeout(60, || {
        let w = World::new();
        let s = &w.svc;
        assert_eq!(
            s.read_fd(&pipe_with("through a pipe")).unwrap(),
            "through a pipe"
        );
        let back = s.dup_fd(&pipe_with("duplicated")).unwrap();
        assert_eq!(read_all(&back).unwrap(), "duplicated");
        let holder = FdHolder {
            fd: Some(pipe_with("one")),
            maybe: None,
            many: vec![pipe_with("two"), pipe_with("three")],
        };
        assert_eq!(s.read_fd_holder(&holder).unwrap(), ["one", "two", "three"]);
        let err = s.fail_with(7, "boom").unwrap_err();
        assert_eq!(err.exception_code(), ExceptionCode::SERVICE_SPECIFIC);
        assert_eq!((err.service_specific_code(), err.message()), (7, "boom"));
        let unknown = s
            .as_binder()
            .transact(TransactionCode(999), Parcel::new())
            .unwrap_err();
        assert_eq!(unknown.code(), StatusCode::UNKNOWN_TRANSACTION);
        let wrong = ICallbackProxy::from_binder_checked(s.as_binder().clone()).unwrap_err();
        assert_eq!(wrong.exception_code(), ExceptionCode::ILLEGAL_ARGUMENT);
    })
}

#[test]
fn a_local_object_is_called_through_its_proxy() {
    let rt = Arc::new(Runtime::new(RuntimeConfig::default()).unwrap());
    let local = ITestServiceProxy::new_local(&rt, Service { rt: rt.clone() });
    assert!(local.as_binder().is_local());
    assert_eq!(local.repeat_string("local").unwrap(), "local");
    let mut out = Vec::new();
    assert_eq!(local.reverse_ints(&[4, 5], &mut out).unwrap(), [4, 5]);
    assert_eq!(out, [5, 4]);
    let e = sample_everything(&rt);
    assert_eq!(local.repeat_everything(&e).unwrap(), e);
    let err = local.fail_with(-3, "local failure").unwrap_err();
    assert_eq!(err.service_specific_code(), -3);
}
