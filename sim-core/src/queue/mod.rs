//! The event queue: a 4-ary heap of packed keys with a deterministic total order, the events in a
//! slab beside it, and cheap cancellable timers.
//!
//! **Ordering rule.** Events pop in order of time, then of insertion: two events scheduled for the
//! same instant pop in the order they were scheduled (FIFO). The insertion sequence number makes the
//! order total, so no tie is ever left to the heap's internals.
//!
//! **Layout.** The heap holds one `u128` per entry: `time << 64 | seq << 32 | slot`. `seq` is the
//! insertion sequence, 32 bits wide; `slot` is where the event waits in the slab. Keys compare as
//! (time, seq) because no two pending entries share a `seq`, so the slot bits never decide. A heap
//! entry is 16 bytes whatever the event, like a plain `BinaryHeap<Reverse<(u64, u64)>>`, and the
//! heap is 4-ary with each node's children in one cache line (`heap.rs`), so a pop reads half as
//! many lines as a binary heap's; a pop leaves the root open for the next push, so an event that
//! schedules one more costs one pass down the tree, not a pass down and one up. When the 32-bit sequence runs out (after 2^32 schedules), the
//! pending entries are renumbered 0, 1, 2, … in their order — which keeps that order, and every
//! later entry gets a greater number — so the order is exactly that of a 64-bit sequence.
//!
//! **Lanes.** Events for the current instant and timers whose delay recurs (a call's timeout, a
//! probe's interval) wait in first-in first-out lanes, one per delay, sorted by construction;
//! only each lane's front is in the heap, and when it pops the lane's next key takes its place.
//! The heap stays as small as the number of other events, and the order is the keys' order
//! whichever structure holds an entry (`lanes.rs`).
//!
//! **Timers.** `schedule_timer` returns a [`TimerId`]: the entry's slot and the slot's generation.
//! `cancel` marks the slot cancelled in O(1) without touching the heap (lazy deletion); the entry
//! is dropped when it reaches the front. A slot's generation moves on whenever the slot is freed,
//! so a cancelled or already fired timer can never fire, and slot reuse is safe. Timeouts, which
//! are nearly always cancelled, therefore cost one push and one skipped pop.

mod heap;
mod lanes;

use crate::time::SimTime;
use heap::Heap4;
use lanes::{Lanes, Placed, NO_LANE};

/// A handle to a scheduled timer, for cancelling it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct TimerId {
    slot: u32,
    gen: u32,
}

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

/// Sequence numbers fit in 32 bits of the key; at this many, the pending entries are renumbered.
const SEQ_LIMIT: u64 = 1 << 32;
const SEQ_MASK: u128 = 0xffff_ffff << 32;

#[inline(always)]
fn pack(time: u64, seq: u64, slot: u32) -> u128 {
    debug_assert!(seq < SEQ_LIMIT);
    (u128::from(time) << 64) | (u128::from(seq) << 32) | u128::from(slot)
}

#[inline(always)]
fn key_time(key: u128) -> u64 {
    (key >> 64) as u64
}

#[inline(always)]
fn key_slot(key: u128) -> u32 {
    key as u32
}

/// What a slot holds.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum State {
    /// An event scheduled with `schedule`.
    Event,
    /// A pending timer.
    Timer,
    /// A cancelled timer whose heap entry has not reached the front yet.
    Cancelled,
}

/// An event waiting in the slab, with the generation its timer handle must match.
#[derive(Copy, Clone)]
struct Slot<E> {
    event: E,
    gen: u32,
    state: State,
    /// The lane the entry waits in (`lanes.rs`), or `NO_LANE` (as every free slot is).
    lane: u8,
}

/// A priority queue of events of type `E`, ordered by (time, insertion sequence). Events are
/// `Copy` (as the engine's `Model::Event` is): a pop copies the event out of its slot.
pub struct EventQueue<E> {
    heap: Heap4,
    /// Entries scheduled a fixed delay ahead (`lanes.rs`): each lane's front is in `heap` too.
    lanes: Lanes,
    /// The time of the last event popped: a new entry's delay is counted from it.
    now: u64,
    /// The events by slot; a slot is in use from its schedule until its heap entry pops.
    slots: Vec<Slot<E>>,
    free_slots: Vec<u32>,
    next_seq: u64,
    /// `SEQ_LIMIT`, lower in tests of the renumbering.
    seq_limit: u64,
    n_timers_live: usize,
}

impl<E: Copy> Default for EventQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E: Copy> EventQueue<E> {
    pub fn new() -> Self {
        Self::with_capacity(0)
    }

    pub fn with_capacity(n: usize) -> Self {
        EventQueue {
            heap: Heap4::with_capacity(n),
            lanes: Lanes::new(),
            now: 0,
            slots: Vec::with_capacity(n),
            free_slots: Vec::with_capacity(n),
            next_seq: 0,
            seq_limit: SEQ_LIMIT,
            n_timers_live: 0,
        }
    }

    /// A queue whose sequence runs out after `seq_limit` schedules, to test the renumbering.
    #[cfg(test)]
    fn with_seq_limit(seq_limit: u64) -> Self {
        EventQueue {
            seq_limit,
            ..Self::new()
        }
    }

    /// Schedules `event` at `time`. It pops after every event at an earlier time and after every
    /// event already scheduled at the same time.
    #[inline]
    pub fn schedule(&mut self, time: SimTime, event: E) {
        let slot = self.take_slot(event, State::Event);
        self.push(time, slot, false);
    }

    /// Schedules `event` as a cancellable timer.
    #[inline]
    pub fn schedule_timer(&mut self, time: SimTime, event: E) -> TimerId {
        let slot = self.take_slot(event, State::Timer);
        self.n_timers_live += 1;
        self.push(time, slot, true);
        TimerId {
            slot,
            gen: self.slots[slot as usize].gen,
        }
    }

    /// Cancels a pending timer. Returns whether it was still pending (false if it had already fired
    /// or been cancelled).
    #[inline]
    pub fn cancel(&mut self, id: TimerId) -> bool {
        match self.slots.get_mut(id.slot as usize) {
            Some(s) if s.gen == id.gen && s.state == State::Timer => {
                s.state = State::Cancelled;
                self.n_timers_live -= 1;
                true
            }
            _ => false,
        }
    }

    /// Removes and returns the earliest live event with its time.
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        match self.pop_until(SimTime::MAX) {
            Next::Event(time, event) => Some((time, event)),
            Next::Later | Next::Empty => None,
        }
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
            let time = key_time(top);
            if time > limit.as_ns() {
                return Next::Later;
            }
            self.heap.pop();
            let idx = key_slot(top) as usize;
            let slot = self.slots[idx];
            self.release_slot(idx);
            if slot.lane != NO_LANE {
                self.lane_popped(idx, slot.lane, top);
            }
            match slot.state {
                State::Event => {}
                State::Timer => self.n_timers_live -= 1,
                State::Cancelled => continue,
            }
            self.now = time;
            return Next::Event(SimTime::from_ns(time), slot.event);
        }
    }

    /// The time of the earliest entry, live or cancelled (a lower bound on the next event's time).
    pub fn peek_time(&self) -> Option<SimTime> {
        self.heap.peek().map(|k| SimTime::from_ns(key_time(k)))
    }

    /// Entries waiting (in the heap and the lanes), including cancelled timers not yet skipped.
    #[inline]
    pub fn len(&self) -> usize {
        self.heap.len() + self.lanes.behind()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Timers scheduled and neither fired nor cancelled.
    pub fn timers_pending(&self) -> usize {
        self.n_timers_live
    }

    /// A slot for `event`: the last one freed (warm in the cache), or a new one.
    #[inline(always)]
    fn take_slot(&mut self, event: E, state: State) -> u32 {
        match self.free_slots.pop() {
            Some(slot) => {
                let s = &mut self.slots[slot as usize];
                s.event = event;
                s.state = state;
                slot
            }
            None => {
                // `u32::MAX` is never a slot, so no key is the heap's empty-lane marker.
                let slot = u32::try_from(self.slots.len())
                    .ok()
                    .filter(|&s| s < u32::MAX)
                    .expect("fewer than 2^32 - 1 pending entries");
                self.slots.push(Slot {
                    event,
                    gen: 0,
                    state,
                    lane: NO_LANE,
                });
                slot
            }
        }
    }

    #[inline(always)]
    fn release_slot(&mut self, idx: usize) {
        let s = &mut self.slots[idx];
        s.gen = s.gen.wrapping_add(1);
        self.free_slots.push(idx as u32);
    }

    #[inline(always)]
    fn push(&mut self, time: SimTime, slot: u32, timer: bool) {
        if self.next_seq == self.seq_limit {
            self.renumber();
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        let key = pack(time.as_ns(), seq, slot);
        if (timer || time.as_ns() == self.now) && self.lane_holds(time, slot, key, timer) {
            return;
        }
        self.heap.push(key);
    }

    /// Offers a timer or an event for now to the lanes: true if a lane holds it behind its front
    /// (it stays out of the heap).
    #[inline(always)]
    fn lane_holds(&mut self, time: SimTime, slot: u32, key: u128, timer: bool) -> bool {
        let placed = if timer {
            self.lanes
                .push_timer(time.as_ns().saturating_sub(self.now), key)
        } else {
            self.lanes.push_now(key)
        };
        match placed {
            Placed::Heap => false,
            Placed::Front(lane) => {
                self.slots[slot as usize].lane = lane;
                false
            }
            Placed::Behind(lane) => {
                self.slots[slot as usize].lane = lane;
                true
            }
        }
    }

    /// A lane's front popped: its next key, if any, takes its place in the heap.
    #[inline(always)]
    fn lane_popped(&mut self, idx: usize, lane: u8, key: u128) {
        // A free slot is in no lane: only the lanes' path writes the field.
        self.slots[idx].lane = NO_LANE;
        if let Some(next) = self.lanes.pop_front(lane, key) {
            self.heap.push(next);
        }
    }

    /// Gives the pending entries the sequence numbers 0, 1, 2, … in their (time, seq) order. The
    /// order of every pair of entries stays as it was, and the next entry's number is greater than
    /// all of them: nobody can tell this from a sequence that never runs out.
    #[cold]
    fn renumber(&mut self) {
        // The lanes' fronts are in the heap too: one number for both.
        let mut keys = self.heap.keys();
        keys.extend(self.lanes.keys());
        keys.sort_unstable();
        keys.dedup();
        let renumbered = |key: u128| {
            let seq = keys.binary_search(&key).expect("a pending key") as u128;
            (key & !SEQ_MASK) | (seq << 32)
        };
        self.heap.map_keys(renumbered);
        self.lanes.map_keys(renumbered);
        self.next_seq = keys.len() as u64;
        assert!(
            self.next_seq < self.seq_limit,
            "more pending entries than sequence numbers"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

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

    #[test]
    fn renumbering_keeps_the_order() {
        // A sequence of 8 numbers, 1,000 schedules: renumbered about 200 times.
        let mut q = EventQueue::with_seq_limit(8);
        let mut reference = std::collections::VecDeque::new();
        for i in 0..1_000u32 {
            // Equal times in runs of three, so FIFO decides across renumberings.
            let t = u64::from(i / 3);
            q.schedule(SimTime::from_ns(t), i);
            reference.push_back((t, i));
            if reference.len() == 5 {
                assert_eq!(q.pop().map(|(t, e)| (t.as_ns(), e)), reference.pop_front());
            }
        }
        assert_eq!(drain(&mut q), Vec::from(reference));
    }

    /// One step of the property test.
    #[derive(Clone, Debug)]
    enum Op {
        Schedule(u64),
        Timer(u64),
        /// A timer a fixed delay after the last event popped, as a model schedules most of its
        /// events: these fill the lanes.
        TimerAfter(u64),
        /// Cancels the `k`-th timer handed out (modulo their number): live, fired or cancelled.
        Cancel(usize),
        PopUntil(u64),
    }

    /// The reference: every entry in a list, the least (time, seq) found by a scan.
    #[derive(Default)]
    struct Reference {
        /// (time, seq, event, timer index, cancelled); `seq` is a 64-bit count of schedules.
        entries: Vec<(u64, u64, u32, Option<usize>, bool)>,
        seq: u64,
    }

    impl Reference {
        fn push(&mut self, time: u64, event: u32, timer: Option<usize>) {
            self.entries.push((time, self.seq, event, timer, false));
            self.seq += 1;
        }

        fn cancel(&mut self, timer: usize) -> bool {
            let entry = self.entries.iter_mut().find(|e| e.3 == Some(timer) && !e.4);
            entry.map(|e| e.4 = true).is_some()
        }

        fn pop_until(&mut self, limit: u64) -> Next<u32> {
            loop {
                let Some(least) = (0..self.entries.len()).min_by_key(|&i| {
                    let e = self.entries[i];
                    (e.0, e.1)
                }) else {
                    return Next::Empty;
                };
                if self.entries[least].0 > limit {
                    return Next::Later;
                }
                let (time, _, event, _, cancelled) = self.entries.remove(least);
                if !cancelled {
                    return Next::Event(SimTime::from_ns(time), event);
                }
            }
        }

        fn timers_pending(&self) -> usize {
            self.entries
                .iter()
                .filter(|e| e.3.is_some() && !e.4)
                .count()
        }
    }

    fn op() -> impl Strategy<Value = Op> {
        // Few distinct times, so that ties are common; some beyond 2^32 ns.
        let time = prop_oneof![0u64..6, (0u64..4).prop_map(|t| (t << 33) + 1)];
        prop_oneof![
            3 => time.clone().prop_map(Op::Schedule),
            3 => time.clone().prop_map(Op::Timer),
            3 => prop_oneof![Just(0u64), Just(3), Just(1 << 33)].prop_map(Op::TimerAfter),
            2 => any::<usize>().prop_map(Op::Cancel),
            3 => prop_oneof![time, Just(u64::MAX)].prop_map(Op::PopUntil),
        ]
    }

    proptest! {
        /// The queue pops what a scan of every entry pops, in (time, insertion) order, with
        /// timers cancelled before, after and while they are pending, and a sequence that runs
        /// out and is renumbered (or not).
        #[test]
        fn pops_like_a_reference_scan(
            ops in proptest::collection::vec(op(), 0..300),
            seq_limit in prop_oneof![Just(SEQ_LIMIT), 40u64..60],
        ) {
            let mut q = EventQueue::with_seq_limit(seq_limit);
            let mut reference = Reference::default();
            let mut ids = Vec::new();
            let mut now = 0;
            for (i, op) in ops.into_iter().enumerate() {
                let event = i as u32;
                // Keep fewer entries than sequence numbers: pop instead.
                let op = match op {
                    Op::Schedule(_) | Op::Timer(_) | Op::TimerAfter(_) if q.len() + 1 >= 40 => {
                        Op::PopUntil(u64::MAX)
                    }
                    op => op,
                };
                match op {
                    Op::Schedule(t) => {
                        q.schedule(SimTime::from_ns(t), event);
                        reference.push(t, event, None);
                    }
                    Op::Timer(t) => {
                        ids.push(q.schedule_timer(SimTime::from_ns(t), event));
                        reference.push(t, event, Some(ids.len() - 1));
                    }
                    Op::TimerAfter(d) => {
                        let t = now + d;
                        ids.push(q.schedule_timer(SimTime::from_ns(t), event));
                        reference.push(t, event, Some(ids.len() - 1));
                    }
                    Op::Cancel(k) if !ids.is_empty() => {
                        let k = k % ids.len();
                        prop_assert_eq!(q.cancel(ids[k]), reference.cancel(k));
                    }
                    Op::Cancel(_) => {}
                    Op::PopUntil(limit) => {
                        let limit = SimTime::from_ns(limit);
                        let popped = q.pop_until(limit);
                        prop_assert_eq!(popped, reference.pop_until(limit.as_ns()));
                        if let Next::Event(t, _) = popped {
                            now = t.as_ns();
                        }
                    }
                }
                prop_assert_eq!(q.len(), reference.entries.len());
                prop_assert_eq!(q.timers_pending(), reference.timers_pending());
            }
            let rest = std::iter::from_fn(|| match reference.pop_until(u64::MAX) {
                Next::Event(t, e) => Some((t.as_ns(), e)),
                _ => None,
            });
            prop_assert_eq!(drain(&mut q), rest.collect::<Vec<_>>());
        }
    }
}
