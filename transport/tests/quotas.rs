//! What one uid can make the bus master hold is bounded by that uid's quota, however many
//! connections it spreads the load over.

mod common;

use afbus_transport::{BusSocket, Fields, MAX_QUEUED_BYTES_PER_PEER, MAX_QUEUED_BYTES_PER_UID};
use common::{with_timeout, TestBus};

/// Subscribers that never read: together they could hold this many times the per-peer bound.
const SUBSCRIBERS: usize = 2 * MAX_QUEUED_BYTES_PER_UID / MAX_QUEUED_BYTES_PER_PEER;

#[test]
fn subscribers_that_never_read_hold_at_most_their_uids_quota() {
    with_timeout(120, || {
        let bus = TestBus::new();
        let rule = Fields::new().with("member", "Big");
        let subscribers: Vec<BusSocket> = (0..SUBSCRIBERS)
            .map(|_| {
                let s = BusSocket::connect(bus.path()).unwrap();
                s.add_match(&rule).unwrap();
                s
            })
            .collect();
        let sender = BusSocket::connect(bus.path()).unwrap();
        let body = vec![7u8; 64 * 1024];
        // Enough to fill every subscriber's queue to its own bound.
        let sends = 2 * MAX_QUEUED_BYTES_PER_PEER / body.len();
        for _ in 0..sends {
            sender.send_signal(&rule, &body).unwrap();
        }
        let held: u64 = sender.peers().unwrap().iter().map(|p| p.queued_bytes).sum();
        assert!(
            held <= MAX_QUEUED_BYTES_PER_UID as u64,
            "the master holds {held} bytes for one uid"
        );
        // The bus still works, and a subscriber that reads gets the latest signals.
        let reader = &subscribers[0];
        let got = reader
            .recv_event(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        assert!(matches!(got, afbus_transport::Event::Signal(_)), "{got:?}");
    });
}
