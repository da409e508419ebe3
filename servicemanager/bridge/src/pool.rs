//! The threads that serve peers' calls, shared fairly: one queue per peer, taken in turn, and no
//! peer served by more than its share of the threads at once, so that a peer whose calls are
//! slow (or that keeps its nested calls waiting) cannot hold every thread and starve the others.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

/// How long a thread with nothing to do stays.
const IDLE_EXIT: Duration = Duration::from_secs(10);

/// A pool running jobs of type `J`, each on behalf of a peer.
pub(crate) struct Pool<J> {
    state: Mutex<State<J>>,
    work: Condvar,
    run: Box<dyn Fn(J) + Send + Sync>,
    max_threads: usize,
    per_peer: usize,
    max_queued: usize,
    name: &'static str,
}

struct State<J> {
    queues: HashMap<String, VecDeque<J>>,
    /// Peers with queued jobs, in the order they are served.
    ready: VecDeque<String>,
    /// Jobs running, per peer.
    serving: HashMap<String, usize>,
    queued: usize,
    threads: usize,
    idle: usize,
}

impl<J: Send + 'static> Pool<J> {
    /// A pool of at most `max_threads` threads named `name`, at most `per_peer` of them for one
    /// peer, holding at most `max_queued` jobs waiting; `run` runs a job.
    pub(crate) fn new(
        name: &'static str,
        max_threads: usize,
        per_peer: usize,
        max_queued: usize,
        run: impl Fn(J) + Send + Sync + 'static,
    ) -> Arc<Pool<J>> {
        Arc::new(Pool {
            state: Mutex::new(State {
                queues: HashMap::new(),
                ready: VecDeque::new(),
                serving: HashMap::new(),
                queued: 0,
                threads: 0,
                idle: 0,
            }),
            work: Condvar::new(),
            run: Box::new(run),
            max_threads,
            per_peer: per_peer.max(1),
            max_queued,
            name,
        })
    }

    /// Queues `job` for `peer`; gives it back if `max_queued` jobs wait already.
    pub(crate) fn push(self: &Arc<Self>, peer: &str, job: J) -> Result<(), J> {
        let mut st = self.state.lock();
        if st.queued >= self.max_queued {
            return Err(job);
        }
        let queue = st.queues.entry(peer.to_string()).or_default();
        queue.push_back(job);
        if queue.len() == 1 {
            st.ready.push_back(peer.to_string());
        }
        st.queued += 1;
        if st.idle > 0 {
            self.work.notify_one();
        } else if st.threads < self.max_threads {
            st.threads += 1;
            let pool = self.clone();
            let spawned = std::thread::Builder::new()
                .name(self.name.into())
                .spawn(move || pool.work());
            if spawned.is_err() {
                st.threads -= 1;
            }
        }
        Ok(())
    }

    /// A thread's life: the next job of the first peer in turn that is under its share, until
    /// nothing has come for IDLE_EXIT.
    fn work(&self) {
        let mut st = self.state.lock();
        loop {
            if let Some((peer, job)) = self.next(&mut st) {
                drop(st);
                (self.run)(job);
                st = self.state.lock();
                if let Some(n) = st.serving.get_mut(&peer) {
                    *n -= 1;
                    if *n == 0 {
                        st.serving.remove(&peer);
                    }
                }
                // That peer may be under its share again, with jobs waiting.
                self.work.notify_one();
                continue;
            }
            st.idle += 1;
            let timed_out = self.work.wait_for(&mut st, IDLE_EXIT).timed_out();
            st.idle -= 1;
            if timed_out && st.queued == 0 {
                st.threads -= 1;
                return;
            }
        }
    }

    fn next(&self, st: &mut State<J>) -> Option<(String, J)> {
        let at = st
            .ready
            .iter()
            .position(|p| st.serving.get(p).copied().unwrap_or(0) < self.per_peer)?;
        let peer = st.ready.remove(at)?;
        let queue = st.queues.get_mut(&peer)?;
        let job = queue.pop_front()?;
        if queue.is_empty() {
            st.queues.remove(&peer);
        } else {
            st.ready.push_back(peer.clone());
        }
        st.queued -= 1;
        *st.serving.entry(peer.clone()).or_default() += 1;
        Some((peer, job))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    #[test]
    fn a_peer_with_slow_calls_leaves_threads_for_the_others() {
        // Jobs are (peer, gate): a job waits until its gate is opened, then reports.
        let (done_tx, done_rx) = mpsc::channel::<&'static str>();
        let done_tx = Mutex::new(done_tx);
        let pool = Pool::new(
            "test-pool",
            3,
            2,
            100,
            move |(peer, gate): (&'static str, mpsc::Receiver<()>)| {
                let _ = gate.recv();
                let _ = done_tx.lock().send(peer);
            },
        );
        let mut gates = Vec::new();
        for _ in 0..10 {
            let (open, gate) = mpsc::channel();
            gates.push(open);
            pool.push("slow", ("slow", gate)).map_err(drop).unwrap();
        }
        // "slow" holds its share, 2 of the 3 threads, and 8 of its jobs wait: "quick" is
        // served at once all the same.
        let (open, gate) = mpsc::channel();
        open.send(()).unwrap();
        pool.push("quick", ("quick", gate)).map_err(drop).unwrap();
        assert_eq!(
            done_rx.recv_timeout(Duration::from_secs(10)).unwrap(),
            "quick"
        );
        for open in gates {
            let _ = open.send(());
        }
        for _ in 0..10 {
            assert_eq!(
                done_rx.recv_timeout(Duration::from_secs(10)).unwrap(),
                "slow"
            );
        }
    }

    #[test]
    fn jobs_past_the_bound_are_given_back() {
        let pool = Pool::new("test-pool", 0, 1, 2, |_: u32| {});
        assert!(pool.push("a", 1).is_ok());
        assert!(pool.push("b", 2).is_ok());
        assert_eq!(pool.push("a", 3), Err(3));
    }
}
