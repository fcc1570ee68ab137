//! The hold model: `n` events pending, each popped event schedules one at `now + delay`, the
//! delays drawn once (exp, mean 1 ms, whole ns) from the ring of Faultline's `benches/engine.rs`.
//! `PlainHold`, `QueueHold` and `SimHold` are copied from that bench (same ring, same payload,
//! same `Limits`); `desque` and `simcore` run the same model through their public APIs.

use rand_core::Rng;
use sim_core::{EventQueue, Limits, Model, RngFactory, Sim, SimDuration, SimTime};
use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::rc::Rc;

const MEAN_NS: f64 = 1e6;
const RING: usize = 1 << 16;
/// Events per call of a contender's `steps` (engine.rs's criterion iteration).
pub const BATCH: u64 = 10_000;

/// engine.rs's `draw_delays`, verbatim.
pub fn draw_delays() -> Vec<u64> {
    let mut rng = RngFactory::new(1, 0).stream("bench:hold", "delay");
    (0..RING)
        .map(|_| {
            let u = ((rng.next_u64() >> 11) + 1) as f64 / (1u64 << 53) as f64;
            (-u.ln() * MEAN_NS).round() as u64
        })
        .collect()
}

#[derive(Debug)]
pub struct Delays {
    ring: Vec<u64>,
    i: usize,
}

impl Delays {
    fn new(ring: &[u64]) -> Self {
        Delays {
            ring: ring.to_vec(),
            i: 0,
        }
    }
    #[inline(always)]
    fn next(&mut self) -> u64 {
        let d = self.ring[self.i & (RING - 1)];
        self.i = self.i.wrapping_add(1);
        d
    }
}

// ---- raw heap (engine.rs `binaryheap`) ----
pub struct PlainHold {
    heap: BinaryHeap<Reverse<(u64, u64)>>,
    seq: u64,
    delays: Delays,
}

impl PlainHold {
    pub fn new(n: usize, ring: &[u64]) -> Self {
        let mut h = PlainHold {
            heap: BinaryHeap::with_capacity(n + 1),
            seq: 0,
            delays: Delays::new(ring),
        };
        for _ in 0..n {
            let t = h.delays.next();
            h.heap.push(Reverse((t, h.seq)));
            h.seq += 1;
        }
        h
    }
    pub fn steps(&mut self, k: u64) -> u64 {
        let mut last = 0;
        for _ in 0..k {
            let Reverse((t, _)) = self.heap.pop().expect("never empties");
            last = t;
            self.heap.push(Reverse((t + self.delays.next(), self.seq)));
            self.seq += 1;
        }
        last
    }
}

// ---- sim_core::EventQueue directly (engine.rs `eventqueue`) ----
pub struct QueueHold {
    q: EventQueue<u32>,
    delays: Delays,
}

impl QueueHold {
    pub fn new(n: usize, ring: &[u64]) -> Self {
        let mut h = QueueHold {
            q: EventQueue::with_capacity(n + 1),
            delays: Delays::new(ring),
        };
        for j in 0..n as u32 {
            let t = h.delays.next();
            h.q.schedule(SimTime::from_ns(t), j);
        }
        h
    }
    pub fn steps(&mut self, k: u64) -> u64 {
        let mut last = 0;
        for _ in 0..k {
            let (t, j) = self.q.pop().expect("never empties");
            last = t.as_ns();
            self.q
                .schedule(SimTime::from_ns(last + self.delays.next()), j);
        }
        last
    }
}

// ---- sim_core::run (engine.rs `sim-run`, digest included) ----
struct HoldModel {
    delays: Delays,
}

impl Model for HoldModel {
    type Event = u32;
    #[inline]
    fn handle(&mut self, sim: &mut Sim<u32>, job: u32) {
        sim.schedule_in(SimDuration::from_ns(self.delays.next()), job);
    }
    fn digest_key(job: &u32) -> (u32, u64) {
        (1, u64::from(*job))
    }
}

pub struct SimHold {
    model: HoldModel,
    sim: Sim<u32>,
}

impl SimHold {
    pub fn new(n: usize, ring: &[u64]) -> Self {
        let mut model = HoldModel {
            delays: Delays::new(ring),
        };
        let mut sim = Sim::new::<HoldModel>();
        for j in 0..n as u32 {
            sim.schedule_at(SimTime::from_ns(model.delays.next()), j);
        }
        SimHold { model, sim }
    }
    pub fn steps(&mut self, k: u64) -> u64 {
        let limits = Limits {
            horizon: SimTime::MAX,
            events_max: k,
            pending_max: usize::MAX,
        };
        let out = sim_core::run(&mut self.model, &mut self.sim, limits).expect("no model error");
        debug_assert_eq!(out.events, k);
        out.digest.value()
    }
}

// ---- desque 0.4 (serial API: boxed events, u64 time, `run` until `is_complete`) ----
#[derive(Debug)]
pub struct DqState {
    delays: Delays,
    done: u64,
    target: u64,
}

impl desque::SimState<u64> for DqState {
    fn is_complete(&self, _: &u64) -> bool {
        self.done >= self.target
    }
}

/// The job number as payload, as in engine.rs (a zero-sized event would not allocate).
#[derive(Debug)]
struct DqHoldEvent {
    job: u32,
}

impl desque::serial::Event<DqState, u64> for DqHoldEvent {
    fn execute(&mut self, sim: &mut desque::serial::Simulation<DqState, u64>) -> desque::Result {
        let st = sim.state_mut();
        st.done += 1;
        let d = st.delays.next();
        sim.schedule_with_delay(DqHoldEvent { job: self.job }, d)
    }
}

pub struct DesqueHold {
    sim: desque::serial::Simulation<DqState, u64>,
}

impl DesqueHold {
    pub fn new(n: usize, ring: &[u64]) -> Self {
        let st = DqState {
            delays: Delays::new(ring),
            done: 0,
            target: 0,
        };
        let mut sim = desque::serial::Simulation::new(st, 0u64);
        for j in 0..n as u32 {
            let t = sim.state_mut().delays.next();
            sim.schedule(DqHoldEvent { job: j }, t).unwrap();
        }
        DesqueHold { sim }
    }
    pub fn steps(&mut self, k: u64) -> u64 {
        self.sim.state_mut().target += k;
        self.sim.run().unwrap();
        *self.sim.current_time()
    }
}

// ---- simcore 0.1 (callbacks mode: a component, `emit_self`, `cast!`; time is f64, here in ns) ----
#[derive(Clone, serde::Serialize)]
struct ScHold {
    job: u32,
}

struct ScHolder {
    ctx: simcore::SimulationContext,
    delays: Delays,
}

impl simcore::EventHandler for ScHolder {
    fn on(&mut self, event: simcore::Event) {
        simcore::cast!(match event.data {
            ScHold { job } => {
                let d = self.delays.next() as f64;
                self.ctx.emit_self(ScHold { job }, d);
            }
        })
    }
}

pub struct SimcoreHold {
    sim: simcore::Simulation,
}

impl SimcoreHold {
    pub fn new(n: usize, ring: &[u64]) -> Self {
        let mut sim = simcore::Simulation::new(1);
        let ctx = sim.create_context("holder");
        let mut h = ScHolder {
            ctx,
            delays: Delays::new(ring),
        };
        for j in 0..n as u32 {
            let d = h.delays.next() as f64;
            h.ctx.emit_self(ScHold { job: j }, d);
        }
        sim.add_handler("holder", Rc::new(RefCell::new(h)));
        SimcoreHold { sim }
    }
    pub fn steps(&mut self, k: u64) -> u64 {
        assert!(self.sim.steps(k));
        self.sim.time() as u64
    }
}
