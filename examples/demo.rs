//! The afbus transport in one picture: a private bus in a temp dir, its master, and two
//! endpoints in two processes that find each other by name, talk over a brokered channel, and
//! exchange a multicast signal.
//!
//! Run: `cargo run --example demo`

use std::process::{Command, ExitCode};
use std::time::Duration;

use afbus::transport::{
    AllowAll, BusMaster, BusSocket, Event, Fields, FrameKind, Header, QueueMode, Target, Watch,
    WellKnownName,
};

const NAME: &str = "org.afbus.demo.Echo";
const WAIT: Option<Duration> = Some(Duration::from_secs(10));

type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let run = match args.get(1).map(String::as_str) {
        None => parent(),
        Some("server") => server(&args[2]),
        Some("client") => client(&args[2]),
        Some(other) => Err(format!("unknown role {other}").into()),
    };
    match run {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("demo: {e}");
            ExitCode::FAILURE
        }
    }
}

fn parent() -> Result {
    let dir = tempfile::tempdir()?;
    let master = BusMaster::bind(dir.path().join("bus"), AllowAll)?.spawn()?;
    let bus = master
        .path()
        .to_str()
        .ok_or("bus path is not UTF-8")?
        .to_owned();
    println!("[master] bus at {bus}");
    let exe = std::env::current_exe()?;
    let mut server = Command::new(&exe).args(["server", &bus]).spawn()?;
    let mut client = Command::new(&exe).args(["client", &bus]).spawn()?;
    let (c, s) = (client.wait()?, server.wait()?);
    if !(c.success() && s.success()) {
        return Err(format!("client {c}, server {s}").into());
    }
    println!("[master] both endpoints done; stopping the bus");
    Ok(master.stop()?)
}

fn server(bus: &str) -> Result {
    let me = BusSocket::connect(bus)?;
    let tag = format!("[server pid {}]", std::process::id());
    me.add_match(&Fields::new().with("member", "Done"))?;
    let name: WellKnownName = NAME.parse()?;
    let outcome = me.request_name(&name, QueueMode::Queue)?;
    println!("{tag} joined as {}, {NAME}: {outcome:?}", me.id());
    loop {
        match me.recv_event(WAIT)? {
            Event::Incoming {
                channel, peer: who, ..
            } => {
                let request = channel.recv()?;
                let text = String::from_utf8_lossy(&request.payload);
                println!(
                    "{tag} call from {} (pid {}, uid {}): {text:?}",
                    who.id, who.creds.pid, who.creds.uid
                );
                let reply = Header::new(FrameKind::Reply).with_txn(request.header.txn);
                channel.send(&reply, text.to_uppercase().as_bytes(), &[])?;
            }
            Event::Signal(signal) => {
                let member = signal.fields.get("member").unwrap_or("?");
                let body = String::from_utf8_lossy(&signal.body);
                println!(
                    "{tag} signal from {}: member={member} {body:?}",
                    signal.sender
                );
                return Ok(());
            }
            other => println!("{tag} {other:?}"),
        }
    }
}

fn client(bus: &str) -> Result {
    let me = BusSocket::connect(bus)?;
    let tag = format!("[client pid {}]", std::process::id());
    println!("{tag} joined as {}", me.id());
    let name: WellKnownName = NAME.parse()?;
    me.watch(&Watch::Name(name.clone()))?;
    if me.name_owner(&name)?.is_none() {
        // Not there yet: the master tells us when it is.
        me.recv_event(WAIT)?;
    }
    let (channel, peer) = me.connect_to(&Target::Name(name))?;
    println!(
        "{tag} channel to {NAME} = {} (pid {})",
        peer.id, peer.creds.pid
    );
    channel.send(
        &Header::new(FrameKind::Request).with_txn(1),
        b"hello, bus",
        &[],
    )?;
    let reply = channel.recv_timeout(Duration::from_secs(10))?;
    println!("{tag} reply: {:?}", String::from_utf8_lossy(&reply.payload));
    let receivers = me.send_signal(&Fields::new().with("member", "Done"), b"bye")?;
    println!("{tag} signal member=Done sent to {receivers} receiver(s)");
    Ok(())
}
