//! Multicast through Bloom-filter addresses: matching, false positives, slow receivers.

mod common;

use std::time::Duration;

use afbus_transport::{Bloom, BusSocket, Event, Fields, Signal, SIGNAL_QUEUE_LEN};
use common::{child_role, with_timeout, TestBus};

const WAIT: Option<Duration> = Some(Duration::from_secs(10));

fn changed() -> Fields {
    Fields::new().with("member", "Changed")
}

fn next_signal(s: &BusSocket) -> Signal {
    match s.recv_event(WAIT).unwrap() {
        Event::Signal(sig) => sig,
        other => panic!("expected a signal, got {other:?}"),
    }
}

#[test]
fn child_entry() {
    let Some((role, bus)) = child_role() else {
        return;
    };
    assert_eq!(role, "sender");
    let me = BusSocket::connect(&bus).unwrap();
    let fields = changed().with("path", "/from/child");
    assert_eq!(me.send_signal(&fields, b"from another process").unwrap(), 1);
}

#[test]
fn a_matching_rule_delivers_across_processes() {
    with_timeout(30, || {
        let bus = TestBus::new();
        let receiver = BusSocket::connect(bus.path()).unwrap();
        receiver.add_match(&changed()).unwrap();
        let sender = bus.spawn("sender");
        let sig = next_signal(&receiver);
        assert_eq!(sig.body, b"from another process");
        assert_eq!(sig.fields.get("path"), Some("/from/child"));
        assert_eq!(sig.lost_before, 0);
        sender.wait_success();
    })
}

#[test]
fn only_matching_receivers_get_a_signal() {
    let bus = TestBus::new();
    let sender = BusSocket::connect(bus.path()).unwrap();
    let a = BusSocket::connect(bus.path()).unwrap();
    let b = BusSocket::connect(bus.path()).unwrap();
    a.add_match(&changed()).unwrap();
    b.add_match(&Fields::new().with("member", "Removed"))
        .unwrap();
    let fields = changed().with("path", "/x");
    assert_eq!(sender.send_signal(&fields, b"1").unwrap(), 1);
    let sig = next_signal(&a);
    assert_eq!((sig.sender, sig.body.as_slice()), (sender.id(), &b"1"[..]));
    assert!(b.try_recv_event().unwrap().is_none());

    a.remove_match(&changed()).unwrap();
    assert_eq!(sender.send_signal(&fields, b"2").unwrap(), 0);
    assert!(
        a.remove_match(&changed()).is_err(),
        "removing twice is refused"
    );
}

#[test]
fn a_bloom_false_positive_is_dropped_by_the_exact_check() {
    let bus = TestBus::new();
    let sender = BusSocket::connect(bus.path()).unwrap();
    let receiver = BusSocket::connect(bus.path()).unwrap();
    receiver.add_match(&changed()).unwrap();

    // An address carrying every bit of the rule, on a message whose fields do not match it.
    let other = Fields::new().with("member", "Other");
    let forged = other.bloom().union(&changed().bloom());
    assert!(forged.contains(&changed().bloom()));
    assert_eq!(sender.send_signal_to(forged, &other, b"fp").unwrap(), 0);
    // The reply to the send came after delivery: nothing was queued, the receiver is not woken.
    assert!(receiver.try_recv_event().unwrap().is_none());

    // Matching fields under an address without the rule's bits do not pass Bloom containment.
    assert_eq!(
        sender
            .send_signal_to(Bloom::EMPTY, &changed(), b"no bits")
            .unwrap(),
        0
    );
    assert_eq!(sender.send_signal(&changed(), b"real").unwrap(), 1);
    assert_eq!(next_signal(&receiver).body, b"real");
}

#[test]
fn a_receiver_that_never_reads_does_not_block_the_sender_and_learns_what_it_lost() {
    with_timeout(60, || {
        let bus = TestBus::new();
        let sender = BusSocket::connect(bus.path()).unwrap();
        let slow = BusSocket::connect(bus.path()).unwrap();
        slow.add_match(&changed()).unwrap();
        const SENT: u32 = 5_000;
        for i in 0..SENT {
            assert_eq!(sender.send_signal(&changed(), &i.to_le_bytes()).unwrap(), 1);
        }
        let mut received = Vec::new();
        let mut lost = 0;
        // The master hands over what it queued as the socket drains: read until the newest.
        while received.last() != Some(&(SENT - 1)) {
            let sig = next_signal(&slow);
            lost += sig.lost_before;
            received.push(u32::from_le_bytes(sig.body.try_into().unwrap()));
        }
        assert!(
            slow.try_recv_event().unwrap().is_none(),
            "nothing after the newest"
        );
        assert!(lost > 0, "the queue overflowed");
        assert_eq!(
            received.len() as u64 + lost,
            u64::from(SENT),
            "every signal is read or counted"
        );
        assert!(received.windows(2).all(|w| w[0] < w[1]), "order is kept");
        assert_eq!(*received.last().unwrap(), SENT - 1, "the newest survive");
        assert!(received.len() >= SIGNAL_QUEUE_LEN);
    })
}
