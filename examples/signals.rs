//! Signals: multicast through Bloom-filter addresses. A subscriber's match rule selects what it
//! gets; a subscriber that does not read loses the oldest signals, never the sender's time, and
//! learns how many it lost.
//!
//! `cargo run --example signals`

use std::process::ExitCode;
use std::time::Duration;

use afbus::transport::{AllowAll, BusMaster, BusSocket, Event, Fields};

type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("signals: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result {
    let dir = tempfile::tempdir()?;
    let master = BusMaster::bind(dir.path().join("bus"), AllowAll)?.spawn()?;
    let sender = BusSocket::connect(master.path())?;
    let battery = BusSocket::connect(master.path())?;
    let slow = BusSocket::connect(master.path())?;

    // Subscribers say which fields they want; the master checks Bloom containment, then the
    // fields exactly, so nobody is woken for a signal it did not ask for.
    battery.add_match(&Fields::new().with("member", "BatteryLow"))?;
    slow.add_match(&Fields::new().with("member", "Tick"))?;

    let low = Fields::new()
        .with("member", "BatteryLow")
        .with("path", "/power/bat0");
    let n = sender.send_signal(&low, b"12%")?;
    println!("[sender] BatteryLow went to {n} subscriber(s)");
    let Event::Signal(sig) = battery.recv_event(Some(Duration::from_secs(5)))? else {
        return Err("expected a signal".into());
    };
    println!(
        "[battery] got {} from {} with path={}: {:?}",
        sig.fields.get("member").unwrap_or("?"),
        sig.sender,
        sig.fields.get("path").unwrap_or("?"),
        String::from_utf8_lossy(&sig.body)
    );

    // A subscriber that does not read: the sender is never held up.
    let tick = Fields::new().with("member", "Tick");
    let sent = 2_000u32;
    for i in 0..sent {
        sender.send_signal(&tick, &i.to_le_bytes())?;
    }
    println!("[sender] sent {sent} Ticks without waiting for the slow subscriber");
    let (mut received, mut lost, mut last) = (0u64, 0u64, 0u32);
    while last != sent - 1 {
        let Event::Signal(sig) = slow.recv_event(Some(Duration::from_secs(5)))? else {
            continue;
        };
        received += 1;
        lost += sig.lost_before;
        last = u32::from_le_bytes(sig.body.as_slice().try_into()?);
    }
    println!(
        "[slow] read {received} Ticks, was told {lost} were dropped; {received} + {lost} = {}",
        received + lost
    );
    Ok(())
}
