//! Bulkheads (resilience4j `Bulkhead` and `ThreadPoolBulkhead`): at most `max_concurrent` calls
//! in flight per caller instance; a semaphore bulkhead lets calls wait up to `max_wait`, a pool
//! bulkhead queues up to `queue` calls with no time limit.

#[derive(Clone, Debug)]
pub struct BulkheadPolicy {
    pub max_concurrent: u32,
    /// How long a call may wait for a permit (`u64::MAX`: as long as it takes).
    pub max_wait_ns: u64,
    /// How many calls may wait at once.
    pub queue_cap: u32,
}

use std::collections::VecDeque;

/// One caller instance's bulkhead on one edge: permits in use and the calls waiting, oldest first.
#[derive(Clone, Debug, Default)]
pub struct Bulkhead {
    in_use: u32,
    waiting: VecDeque<u32>,
}

/// What a bulkhead does with a call that asks for a permit.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Take {
    /// The call holds a permit.
    Taken,
    /// The call waits in the queue for a permit (the caller arms its wait timer).
    Queued,
    /// Every permit is in use and the queue is full (or calls may not wait).
    Full,
}

impl Bulkhead {
    /// Asks for a permit for `call`.
    pub fn take(&mut self, policy: &BulkheadPolicy, call: u32) -> Take {
        if self.in_use < policy.max_concurrent {
            self.in_use += 1;
            return Take::Taken;
        }
        if policy.max_wait_ns > 0 && self.waiting.len() < policy.queue_cap as usize {
            self.waiting.push_back(call);
            return Take::Queued;
        }
        Take::Full
    }

    /// Gives a permit back; returns the oldest waiting call, which must now ask again.
    pub fn release(&mut self) -> Option<u32> {
        assert!(self.in_use > 0, "a bulkhead permit given back twice");
        self.in_use -= 1;
        self.waiting.pop_front()
    }

    /// `call` stops waiting (its wait timed out, or it is no longer needed).
    pub fn forget(&mut self, call: u32) {
        self.waiting.retain(|&w| w != call);
    }

    pub fn in_use(&self) -> u32 {
        self.in_use
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn semaphore(max_concurrent: u32, max_wait_ns: u64) -> BulkheadPolicy {
        BulkheadPolicy {
            max_concurrent,
            max_wait_ns,
            queue_cap: u32::MAX,
        }
    }

    #[test]
    fn a_semaphore_without_wait_refuses_past_its_permits() {
        let p = semaphore(2, 0);
        let mut b = Bulkhead::default();
        assert_eq!(b.take(&p, 1), Take::Taken);
        assert_eq!(b.take(&p, 2), Take::Taken);
        assert_eq!(b.take(&p, 3), Take::Full);
        assert_eq!(b.release(), None);
        assert_eq!(b.take(&p, 4), Take::Taken);
        assert_eq!(b.in_use(), 2);
    }

    #[test]
    fn waiting_calls_get_permits_oldest_first() {
        let p = semaphore(1, 10);
        let mut b = Bulkhead::default();
        assert_eq!(b.take(&p, 1), Take::Taken);
        assert_eq!(b.take(&p, 2), Take::Queued);
        assert_eq!(b.take(&p, 3), Take::Queued);
        assert_eq!(b.take(&p, 4), Take::Queued);
        b.forget(3);
        assert_eq!(b.release(), Some(2), "the oldest waiting call asks again");
        assert_eq!(b.take(&p, 2), Take::Taken);
        assert_eq!(b.release(), Some(4));
    }

    #[test]
    fn a_pool_bulkhead_queues_up_to_its_queue() {
        let p = BulkheadPolicy {
            max_concurrent: 1,
            max_wait_ns: u64::MAX,
            queue_cap: 1,
        };
        let mut b = Bulkhead::default();
        assert_eq!(b.take(&p, 1), Take::Taken);
        assert_eq!(b.take(&p, 2), Take::Queued);
        assert_eq!(b.take(&p, 3), Take::Full);
    }
}
