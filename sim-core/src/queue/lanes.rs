//! Lanes: first-in first-out queues for entries scheduled a fixed delay after the time they were
//! scheduled at.
//!
//! Entries that share a delay arrive in the order of their keys (the time of scheduling never goes
//! back and the insertion sequence only grows), so a FIFO of them is sorted and its front is its
//! least key. Only the front of each lane is in the heap; when it pops, the lane's next key takes
//! its place (into the hole the pop left at the root). So the heap holds one entry per lane where
//! it would hold all of them, the order of events is exactly the order of their keys, and the pop
//! path pays nothing for the lanes beyond one test of the slot it reads anyway.
//!
//! Two kinds of entries use lanes, because they are the ones that make a heap deep and slow:
//! - events for the current instant (delay 0: a hand-off from one part of a model to another),
//!   which a heap would carry from its bottom to its root: lane 0, always there;
//! - timers, which a model schedules a fixed delay ahead (a call's timeout, a probe's interval)
//!   and mostly cancels: they would fill the heap with entries that are popped only to be thrown
//!   away. A timer's delay gets a lane when it comes back among the last few timer delays that
//!   went to the heap (random delays almost never do), up to `LANES` lanes; a lane keeps its delay
//!   for the life of the queue.
//!
//! Other events (random service times, arrivals) go to the heap as before. An entry joins its lane
//! only if its key is greater than the lane's last (always true for a real fixed delay; checked,
//! so that the queue stays correct whatever its caller does), else it goes to the heap.

use std::collections::VecDeque;

/// Lanes at most (lane 0 included).
const LANES: usize = 6;
/// Delays remembered to claim a lane: a timer's delay that comes back among the last `RECENT`
/// timer delays that went to the heap gets a lane.
const RECENT: usize = 4;
/// What a slot of `recent` holds before it is first written: no delay is that long (the time of
/// scheduling would be zero and the entry's time the end of time).
const NO_DELAY: u64 = u64::MAX;
/// The lane of an entry that is in no lane.
pub(super) const NO_LANE: u8 = u8::MAX;

/// Where a new key went.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(super) enum Placed {
    /// In no lane: it goes to the heap.
    Heap,
    /// At the front of this lane, which was empty: it goes to the heap as well.
    Front(u8),
    /// Behind the front of this lane: the lane holds it until its turn.
    Behind(u8),
}

pub(super) struct Lanes {
    /// The delay of each claimed lane: lanes `0..claimed` are in use; lane 0's delay is 0.
    delays: [u64; LANES],
    claimed: usize,
    /// The keys of each lane, in ascending order; the front is also in the heap.
    queues: [VecDeque<u128>; LANES],
    /// The last timer delays that went to the heap, a ring.
    recent: [u64; RECENT],
    recent_at: usize,
    /// Keys behind the fronts (those not in the heap).
    behind: usize,
}

impl Lanes {
    pub(super) fn new() -> Self {
        Lanes {
            delays: [0; LANES],
            claimed: 1,
            queues: std::array::from_fn(|_| VecDeque::new()),
            recent: [NO_DELAY; RECENT],
            recent_at: 0,
            behind: 0,
        }
    }

    /// Keys the lanes hold that are not in the heap.
    #[inline(always)]
    pub(super) fn behind(&self) -> usize {
        self.behind
    }

    /// Places `key`, an event for the current instant, in lane 0.
    #[inline(always)]
    pub(super) fn push_now(&mut self, key: u128) -> Placed {
        self.append(0, key)
    }

    /// Places `key`, a timer scheduled `delay` after the current instant, in its lane.
    #[inline]
    pub(super) fn push_timer(&mut self, delay: u64, key: u128) -> Placed {
        for lane in 0..self.claimed {
            if self.delays[lane] == delay {
                return self.append(lane, key);
            }
        }
        self.consider(delay, key)
    }

    /// A timer's delay without a lane: claims one if the delay came back, else remembers it.
    fn consider(&mut self, delay: u64, key: u128) -> Placed {
        if self.claimed < LANES && self.recent.contains(&delay) {
            let lane = self.claimed;
            self.claimed += 1;
            self.delays[lane] = delay;
            return self.append(lane, key);
        }
        self.recent[self.recent_at] = delay;
        self.recent_at = (self.recent_at + 1) % RECENT;
        Placed::Heap
    }

    #[inline(always)]
    fn append(&mut self, lane: usize, key: u128) -> Placed {
        let queue = &mut self.queues[lane];
        let placed = match queue.back() {
            Some(&last) if last > key => return Placed::Heap,
            Some(_) => {
                self.behind += 1;
                Placed::Behind(lane as u8)
            }
            None => Placed::Front(lane as u8),
        };
        queue.push_back(key);
        placed
    }

    /// Removes the front of `lane` (just popped from the heap) and returns the lane's next key,
    /// which must go to the heap, if there is one.
    #[inline]
    pub(super) fn pop_front(&mut self, lane: u8, key: u128) -> Option<u128> {
        let queue = &mut self.queues[usize::from(lane)];
        let front = queue.pop_front();
        debug_assert_eq!(front, Some(key), "a lane's front pops first");
        let next = queue.front().copied();
        self.behind -= usize::from(next.is_some());
        next
    }

    /// Every key in the lanes, in no particular order (the fronts are in the heap as well).
    pub(super) fn keys(&self) -> impl Iterator<Item = u128> + '_ {
        self.queues[..self.claimed].iter().flatten().copied()
    }

    /// Replaces every key `k` by `f(k)`; `f` must keep the order of keys.
    pub(super) fn map_keys(&mut self, f: impl Fn(u128) -> u128) {
        for queue in &mut self.queues[..self.claimed] {
            for key in queue.iter_mut() {
                *key = f(*key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Placed::{Behind, Front, Heap};

    #[test]
    fn a_timer_delay_gets_a_lane_when_it_comes_back() {
        let mut lanes = Lanes::new();
        assert_eq!(
            lanes.push_timer(7, 10),
            Heap,
            "a first delay goes to the heap"
        );
        assert_eq!(lanes.push_timer(3, 11), Heap);
        assert_eq!(
            lanes.push_timer(7, 12),
            Front(1),
            "7 came back: it has a lane"
        );
        assert_eq!(lanes.push_timer(7, 13), Behind(1));
        assert_eq!(lanes.push_timer(5, 14), Heap);
        assert_eq!(lanes.behind(), 1);
        assert_eq!(
            lanes.pop_front(1, 12),
            Some(13),
            "the next key goes to the heap"
        );
        assert_eq!(lanes.behind(), 0);
        assert_eq!(lanes.pop_front(1, 13), None);
        assert_eq!(lanes.push_timer(7, 15), Front(1), "the lane stays");
    }

    #[test]
    fn a_delay_forgotten_gets_no_lane() {
        let mut lanes = Lanes::new();
        assert_eq!(lanes.push_timer(7, 1), Heap);
        for (i, d) in (100..100 + RECENT as u64).enumerate() {
            assert_eq!(lanes.push_timer(d, 2 + i as u128), Heap);
        }
        assert_eq!(
            lanes.push_timer(7, 50),
            Heap,
            "7 left the ring of recent delays"
        );
        assert_eq!(lanes.push_timer(7, 51), Front(1));
    }

    #[test]
    fn a_key_below_its_lane_goes_to_the_heap() {
        let mut lanes = Lanes::new();
        assert_eq!(lanes.push_now(1), Front(0), "lane 0 is always there");
        assert_eq!(lanes.push_now(5), Behind(0));
        assert_eq!(lanes.push_now(4), Heap, "the lane must stay sorted");
        assert_eq!(
            lanes.push_timer(0, 6),
            Behind(0),
            "a timer for now joins lane 0"
        );
        assert_eq!(lanes.push_timer(3, 2), Heap);
        assert_eq!(lanes.push_timer(3, 7), Front(1));
        assert_eq!(lanes.push_timer(3, 3), Heap, "the lane must stay sorted");
        assert_eq!(lanes.pop_front(0, 1), Some(5));
        assert_eq!(lanes.pop_front(0, 5), Some(6));
        assert_eq!(lanes.pop_front(0, 6), None);
        assert_eq!(lanes.pop_front(1, 7), None);
        assert_eq!(lanes.behind(), 0);
    }

    #[test]
    fn lanes_are_bounded() {
        let mut lanes = Lanes::new();
        let mut key = 0;
        let (mut fronts, mut heap) = (0, 0);
        // Each delay twice: delay 0 has lane 0, every other delay below LANES claims a lane on
        // its second push, and the rest find none.
        for delay in 0..LANES as u64 + 2 {
            for _ in 0..2 {
                key += 1;
                match lanes.push_timer(delay, key) {
                    Front(lane) => {
                        assert_eq!(u64::from(lane), delay);
                        fronts += 1;
                    }
                    Behind(lane) => assert_eq!((lane, delay), (0, 0)),
                    Heap => heap += 1,
                }
            }
        }
        assert_eq!(fronts, LANES);
        assert_eq!(
            heap,
            (LANES - 1) + 2 * 2,
            "first pushes, and both of the last two delays"
        );
        assert_eq!(lanes.behind(), 1);
        assert_eq!(
            lanes.push_timer(LANES as u64, key + 1),
            Heap,
            "no lane is left"
        );
    }

    #[test]
    fn mapping_keys_maps_every_lane() {
        let mut lanes = Lanes::new();
        lanes.push_timer(1, 1);
        lanes.push_timer(1, 10);
        lanes.push_timer(1, 11);
        lanes.push_now(2);
        lanes.map_keys(|k| k * 2);
        let mut keys: Vec<u128> = lanes.keys().collect();
        keys.sort_unstable();
        assert_eq!(keys, vec![4, 20, 22]);
        assert_eq!(lanes.pop_front(1, 20), Some(22));
    }
}
