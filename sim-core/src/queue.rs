//! The event queue: a binary heap with a deterministic total order and cheap cancellable timers.
//!
//! **Ordering rule.** Events pop in order of time, then of insertion: two events scheduled for the
//! same instant pop in the order they were scheduled (FIFO). The insertion sequence number makes the
//! order total, so no tie is ever left to the heap's internals.
//!
//! **Timers.** `schedule_timer` returns a [`TimerId`]; `cancel` makes that entry inert in O(1)
//! without touching the heap (lazy deletion). A slot table holds one generation counter per live
//! timer; a heap entry fires only if its generation still matches, so a cancelled or already fired
//! timer can never fire, and slot reuse is safe. Timeouts, which are nearly always cancelled,
//! therefore cost one push and one skipped pop.

use crate::time::SimTime;
use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// A handle to a scheduled timer, for cancelling it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct TimerId {
    slot: u32,
    gen: u32,
}

const NO_TIMER: u32 = u32::MAX;

/// What [`EventQueue::pop_until`] found.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Next<E> {
    /// The earliest live event, at or before the limit; it has been removed.
    Event(SimTime, E),
    /// The earliest entry lies after the limit (nothing was removed but cancelled timers).
    Later,
    /// No entry is left.
    Empty,
}

struct Entry<E> {
    time: u64,
    seq: u64,
    timer_slot: u32,
    timer_gen: u32,
    event: E,
}

impl<E> Entry<E> {
    /// `(time, seq)` as one integer: the heap compares this single key. A `u128` compare compiles
    /// to one compare-with-borrow pair instead of the branchy lexicographic tuple compare, and it
    /// is exactly the same order (time first, then insertion sequence).
    #[inline(always)]
    fn key(&self) -> u128 {
        (u128::from(self.time) << 64) | u128::from(self.seq)
    }
}

// The order is reversed, because `BinaryHeap` is a max-heap and we want the earliest
// (time, seq) first. Every comparison goes through `key`; the operators are spelled out so that
// none falls back to building an `Ordering`.
impl<E> PartialEq for Entry<E> {
    #[inline(always)]
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}
impl<E> Eq for Entry<E> {}
impl<E> PartialOrd for Entry<E> {
    #[inline(always)]
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
    #[inline(always)]
    fn lt(&self, other: &Self) -> bool {
        other.key() < self.key()
    }
    #[inline(always)]
    fn le(&self, other: &Self) -> bool {
        other.key() <= self.key()
    }
    #[inline(always)]
    fn gt(&self, other: &Self) -> bool {
        other.key() > self.key()
    }
    #[inline(always)]
    fn ge(&self, other: &Self) -> bool {
        other.key() >= self.key()
    }
}
impl<E> Ord for Entry<E> {
    #[inline(always)]
    fn cmp(&self, other: &Self) -> Ordering {
        other.key().cmp(&self.key())
    }
}

/// A priority queue of events of type `E`, ordered by (time, insertion sequence).
pub struct EventQueue<E> {
    heap: BinaryHeap<Entry<E>>,
    next_seq: u64,
    /// Generation of each timer slot; a heap entry is live iff its generation matches.
    timer_gens: Vec<u32>,
    /// Whether each slot currently holds a pending timer.
    timer_live: Vec<bool>,
    free_slots: Vec<u32>,
    n_timers_live: usize,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E> EventQueue<E> {
    pub fn new() -> Self {
        EventQueue {
            heap: BinaryHeap::new(),
            next_seq: 0,
            timer_gens: Vec::new(),
            timer_live: Vec::new(),
            free_slots: Vec::new(),
            n_timers_live: 0,
        }
    }

    pub fn with_capacity(n: usize) -> Self {
        let mut q = Self::new();
        q.heap.reserve(n);
        q
    }

    /// Schedules `event` at `time`. It pops after every event at an earlier time and after every
    /// event already scheduled at the same time.
    pub fn schedule(&mut self, time: SimTime, event: E) {
        self.push(time, NO_TIMER, 0, event);
    }

    /// Schedules `event` as a cancellable timer.
    pub fn schedule_timer(&mut self, time: SimTime, event: E) -> TimerId {
        let slot = match self.free_slots.pop() {
            Some(slot) => slot,
            None => {
                let slot = u32::try_from(self.timer_gens.len()).expect("more than 4e9 live timers");
                self.timer_gens.push(0);
                self.timer_live.push(false);
                slot
            }
        };
        let idx = slot as usize;
        debug_assert!(!self.timer_live[idx]);
        self.timer_live[idx] = true;
        self.n_timers_live += 1;
        let gen = self.timer_gens[idx];
        self.push(time, slot, gen, event);
        TimerId { slot, gen }
    }

    /// Cancels a pending timer. Returns whether it was still pending (false if it had already fired
    /// or been cancelled).
    pub fn cancel(&mut self, id: TimerId) -> bool {
        let idx = id.slot as usize;
        if idx < self.timer_gens.len() && self.timer_live[idx] && self.timer_gens[idx] == id.gen {
            self.release_slot(idx);
            true
        } else {
            false
        }
    }

    /// Removes and returns the earliest live event with its time.
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        while let Some(entry) = self.heap.pop() {
            if entry.timer_slot != NO_TIMER {
                if !self.timer_is(entry.timer_slot, entry.timer_gen) {
                    continue; // cancelled: skip the inert entry
                }
                self.release_slot(entry.timer_slot as usize);
            }
            return Some((SimTime::from_ns(entry.time), entry.event));
        }
        None
    }

    /// Removes and returns the earliest live event if its time is at or before `limit`: the run
    /// loop's one call per event.
    ///
    /// Cancelled timers at the front are dropped on the way. [`Next::Later`] is returned as soon
    /// as the front entry (live or cancelled) lies after `limit`, and that entry stays queued;
    /// [`Next::Empty`] when no entry is left.
    #[inline]
    pub fn pop_until(&mut self, limit: SimTime) -> Next<E> {
        loop {
            let Some(top) = self.heap.peek() else {
                return Next::Empty;
            };
            if top.time > limit.as_ns() {
                return Next::Later;
            }
            let slot = top.timer_slot;
            let live = slot == NO_TIMER || self.timer_is(slot, top.timer_gen);
            let entry = self.heap.pop().expect("peeked an entry");
            if live {
                if slot != NO_TIMER {
                    self.release_slot(slot as usize);
                }
                return Next::Event(SimTime::from_ns(entry.time), entry.event);
            }
        }
    }

    /// The time of the earliest entry, live or cancelled (a lower bound on the next event's time).
    pub fn peek_time(&self) -> Option<SimTime> {
        self.heap.peek().map(|e| SimTime::from_ns(e.time))
    }

    /// Entries in the heap, including cancelled timers not yet skipped.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// Timers scheduled and neither fired nor cancelled.
    pub fn timers_pending(&self) -> usize {
        self.n_timers_live
    }

    fn push(&mut self, time: SimTime, timer_slot: u32, timer_gen: u32, event: E) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.heap.push(Entry {
            time: time.as_ns(),
            seq,
            timer_slot,
            timer_gen,
            event,
        });
    }

    /// Whether the heap entry of timer `slot` with generation `gen` is still pending.
    #[inline]
    fn timer_is(&self, slot: u32, gen: u32) -> bool {
        let idx = slot as usize;
        self.timer_live[idx] && self.timer_gens[idx] == gen
    }

    fn release_slot(&mut self, idx: usize) {
        self.timer_live[idx] = false;
        self.timer_gens[idx] = self.timer_gens[idx].wrapping_add(1);
        self.n_timers_live -= 1;
        self.free_slots.push(idx as u32);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(q: &mut EventQueue<u32>) -> Vec<(u64, u32)> {
        std::iter::from_fn(|| q.pop().map(|(t, e)| (t.as_ns(), e))).collect()
    }

    #[test]
    fn ties_pop_in_insertion_order() {
        let mut q = EventQueue::new();
        for i in 0..100 {
            q.schedule(SimTime::from_ns(5), i);
        }
        q.schedule(SimTime::from_ns(1), 1000);
        let out = drain(&mut q);
        assert_eq!(out[0], (1, 1000));
        let rest: Vec<u32> = out[1..].iter().map(|&(_, e)| e).collect();
        assert_eq!(rest, (0..100).collect::<Vec<_>>());
    }

    #[test]
    fn orders_by_time() {
        let mut q = EventQueue::new();
        for (t, e) in [(30, 0), (10, 1), (20, 2), (10, 3)] {
            q.schedule(SimTime::from_ns(t), e);
        }
        assert_eq!(drain(&mut q), vec![(10, 1), (10, 3), (20, 2), (30, 0)]);
    }

    #[test]
    fn cancelled_timers_never_fire() {
        let mut q = EventQueue::new();
        let mut ids = Vec::new();
        for i in 0..1000u32 {
            ids.push(q.schedule_timer(SimTime::from_ns(u64::from(i)), i));
        }
        for (i, id) in ids.iter().enumerate() {
            if i % 3 != 0 {
                assert!(q.cancel(*id));
                assert!(!q.cancel(*id), "a second cancel finds nothing");
            }
        }
        assert_eq!(q.timers_pending(), 334);
        let fired: Vec<u32> = drain(&mut q).into_iter().map(|(_, e)| e).collect();
        assert_eq!(fired, (0..1000).filter(|i| i % 3 == 0).collect::<Vec<_>>());
        assert_eq!(q.timers_pending(), 0);
    }

    #[test]
    fn pop_until_stops_at_the_limit_and_skips_cancelled_timers() {
        let mut q = EventQueue::new();
        let a = q.schedule_timer(SimTime::from_ns(1), 1);
        q.schedule(SimTime::from_ns(2), 2);
        q.schedule(SimTime::from_ns(2), 3);
        let b = q.schedule_timer(SimTime::from_ns(5), 5);
        q.schedule(SimTime::from_ns(7), 7);
        assert!(q.cancel(a));
        let limit = SimTime::from_ns(6);
        assert_eq!(q.pop_until(limit), Next::Event(SimTime::from_ns(2), 2));
        assert_eq!(q.pop_until(limit), Next::Event(SimTime::from_ns(2), 3));
        assert_eq!(q.pop_until(limit), Next::Event(SimTime::from_ns(5), 5));
        assert!(!q.cancel(b), "a fired timer cannot be cancelled");
        assert_eq!(q.pop_until(limit), Next::Later);
        assert_eq!(q.len(), 1, "the event after the limit stays queued");
        assert_eq!(
            q.pop_until(SimTime::MAX),
            Next::Event(SimTime::from_ns(7), 7)
        );
        assert_eq!(q.pop_until(SimTime::MAX), Next::Empty);

        // A cancelled timer after the limit still reads as `Later`; before it, it is dropped.
        let c = q.schedule_timer(SimTime::from_ns(10), 10);
        assert!(q.cancel(c));
        assert_eq!(q.pop_until(SimTime::from_ns(9)), Next::Later);
        assert_eq!(q.pop_until(SimTime::from_ns(10)), Next::Empty);
        assert!(q.is_empty());
        assert_eq!(q.timers_pending(), 0);
    }

    #[test]
    fn order_matches_a_reference_sort() {
        // Many ties and a wide spread of times, with timers cancelled along the way: the queue
        // must pop exactly the stable sort by time of the live events.
        let mut q = EventQueue::new();
        let mut reference = Vec::new();
        let mut x: u64 = 7;
        let mut ids = Vec::new();
        for i in 0..5_000u32 {
            x = crate::rng::splitmix64(x);
            // Times above 2^32 too, so that the high half of the time matters in the key.
            let spread = if x.is_multiple_of(3) { 16 } else { 1_000_000 };
            let t = x % spread + (((x >> 20) & 1) << 40);
            if i % 4 == 0 {
                ids.push((q.schedule_timer(SimTime::from_ns(t), i), t, i));
            } else {
                q.schedule(SimTime::from_ns(t), i);
                reference.push((t, i));
            }
        }
        for (k, (id, t, i)) in ids.into_iter().enumerate() {
            if k % 2 == 0 {
                assert!(q.cancel(id));
            } else {
                reference.push((t, i));
            }
        }
        // Events were scheduled in the order of `i`, so FIFO among ties is the order of `i`.
        reference.sort_by_key(|&(t, i)| (t, i));
        assert_eq!(drain(&mut q), reference);
    }

    #[test]
    fn stale_handle_cannot_cancel_a_reused_slot() {
        let mut q = EventQueue::new();
        let a = q.schedule_timer(SimTime::from_ns(1), 1);
        assert_eq!(q.pop(), Some((SimTime::from_ns(1), 1)));
        // Slot of `a` is reused by `b`; cancelling `a` must not touch `b`.
        let b = q.schedule_timer(SimTime::from_ns(2), 2);
        assert!(!q.cancel(a));
        assert_eq!(q.pop(), Some((SimTime::from_ns(2), 2)));
        assert!(!q.cancel(b));
    }
}
