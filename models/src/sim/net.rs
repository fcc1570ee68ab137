//! Links with bandwidth: every transfer that crosses a link with a capacity — a message with a
//! size, a replication message, a rebuild's or a bulk transfer's chunk, background traffic — is
//! a *flow* on the links of its path, and the flows share each link **max-min fairly** (each gets
//! an equal share of its bottleneck, and what a flow bottlenecked elsewhere leaves is shared by
//! the others: SimGrid's flow model, computed exactly by progressive filling). Rates are
//! recomputed whenever a flow starts or ends or a link's capacity changes; one timer, at the
//! earliest completion, stands for all flows.
//!
//! ```text
//!  send (bytes > 0, path has a capacity) ─▶ Fluid::add ─▶ rates ─▶ Event::Net at the first end
//!  Event::Net ─▶ advance (bytes move at their rates) ─▶ finished flows ─▶ their event after the
//!  latency of the distance (Deliver, Reply, Replicate, a chunk's next stage)
//! ```
//!
//! A message's time on the wire is its transfer (queueing on the links included, as sharing)
//! plus its latency. Bytes are conserved: sent = delivered + in flight (`Fluid::ledger`).
//! Floats: rates and remaining bytes are `f64` (deterministic on one platform); a completion
//! time is rounded up to whole nanoseconds before it meets the clock.

use super::*;
use crate::network::Path;

/// What a flow carries, for the bytes-by-class results.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(super) enum Class {
    /// Requests and answers.
    User = 0,
    /// Datastore replication.
    Replication = 1,
    /// Rebuilds of datastore copies.
    Recovery = 2,
    /// Bulk transfers (`transfers`).
    Bulk = 3,
    /// Background traffic (`Congestion`).
    Background = 4,
}

pub(super) const CLASSES: usize = 5;

/// One transfer on its path.
#[derive(Copy, Clone, Debug)]
struct Flow {
    path: Path,
    /// Bytes still to cross (`f64::INFINITY`: background traffic, until it is removed).
    remaining: f64,
    /// Bytes per ns now, and at most (`f64::INFINITY`: no limit of its own).
    rate: f64,
    cap: f64,
    bytes: u64,
    class: Class,
    /// What happens when its last byte has crossed: this event, `delay_ns` later.
    then: Event,
    delay_ns: u64,
    /// Its index in `Fluid::active`.
    at: u32,
    /// Where it goes, to route it again when a link under it goes down: hosts `from` (`NONE`:
    /// the clients) and `to`, and its rate-limit link (`NO_LINK`: none); `NONE` to `NONE` for
    /// background traffic, which stays on its link.
    route: [u32; 3],
}

/// The flows on the links and their rates.
pub(super) struct Fluid {
    /// Bytes per ns of each link as built, and now (after `LinkDegraded` faults).
    base: Vec<f64>,
    cap: Vec<f64>,
    flows: Slab<Flow>,
    /// Slots of the flows in progress.
    active: Vec<u32>,
    /// When the flows' remaining bytes were last brought up to date.
    updated_ns: u64,
    /// The earliest completion (`u64::MAX`: none).
    pub(super) next_ns: u64,
    pub(super) timer: Option<TimerId>,
    // Scratch space of `recompute`, per link and per active flow.
    rem: Vec<f64>,
    count: Vec<u32>,
    frozen: Vec<bool>,
    /// Per link: bytes carried by class, the time-integral of its flows, most flows at once.
    pub(super) carried: Vec<[f64; CLASSES]>,
    pub(super) flow_area: Vec<f64>,
    pub(super) flows_now: Vec<u32>,
    pub(super) flows_max: Vec<u32>,
    /// Bytes of finished flows (in whole), and of flows started, by class.
    pub(super) sent: [u64; CLASSES],
    pub(super) delivered: [u64; CLASSES],
    /// Where the timer stands (`u64::MAX`: none).
    timer_at: u64,
    /// Flows finishing now (reused).
    finished: Vec<u32>,
    /// Flows that just finished (reused).
    done: Vec<(Event, u64)>,
    /// Per link: whether it is down (no link goes down yet: routes around zone links are
    /// computed against it), and the share of its bandwidth it keeps.
    pub(super) down: Vec<bool>,
    share: Vec<f64>,
    /// No link down (every entry false): the usual paths.
    up: Vec<bool>,
    /// Background flows in force: ((fault, link of the fault), flow).
    congestion: Vec<((u32, u32), u32)>,
    /// `LinkDegraded` faults in force per link.
    degraded: Vec<u32>,
    /// `LinkDown` faults in force per link, and links down now.
    down_faults: Vec<u32>,
    pub(super) links_down: u32,
    /// Per link: bytes carried up to the last tick, and per bucket (allocated when it first
    /// carries something).
    tick_carried: Vec<f64>,
    series: Vec<Vec<f64>>,
}

/// The size draws of calls and workloads whose sizes are not constant (`edge:<from>-><to>/sizes`,
/// `workload:<name>/sizes`), and each request's sizes in a side table by slot (a request stays
/// small): its own, and its answer's plus one once drawn (a datastore's read draws it for its
/// disk, and its answer is as large).
pub(super) struct Sizes {
    edge: Vec<Option<Stream>>,
    workload: Vec<Option<Stream>>,
    pub(super) any: bool,
    of: Vec<[u32; 2]>,
}

impl Sizes {
    pub(super) fn new(world: &World, rngs: &RngFactory) -> Sizes {
        let random =
            |d: &Option<crate::network::SizeDist>| d.as_ref().is_some_and(|d| d.is_random());
        let any = world
            .calls
            .iter()
            .any(|c| c.request_bytes.is_some() || c.response_bytes.is_some())
            || world.workloads.iter().any(|w| w.request_bytes.is_some());
        Sizes {
            any,
            of: Vec::new(),
            edge: world
                .calls
                .iter()
                .map(|c| {
                    (random(&c.request_bytes) || random(&c.response_bytes)).then(|| {
                        let (a, b) = (
                            &world.services[c.from as usize].name,
                            &world.services[c.to as usize].name,
                        );
                        rngs.stream(&format!("edge:{a}->{b}"), "sizes")
                    })
                })
                .collect(),
            workload: world
                .workloads
                .iter()
                .map(|w| {
                    random(&w.request_bytes)
                        .then(|| rngs.stream(&format!("workload:{}", w.name), "sizes"))
                })
                .collect(),
        }
    }
}

impl Sizes {
    /// A request moved from slot `from` to slot `to` (a client's retry after its timeout)
    /// keeps its size.
    #[inline]
    pub(super) fn moved(&mut self, from: u32, to: u32) {
        if self.any {
            let v = self.of[from as usize];
            self.set(to, v);
        }
    }

    /// A new request in slot `req` has no size yet.
    #[inline]
    pub(super) fn clear(&mut self, req: u32) {
        self.set(req, [0, 0]);
    }

    fn set(&mut self, req: u32, v: [u32; 2]) {
        let k = req as usize;
        if k >= self.of.len() {
            self.of.resize(k + 1, [0, 0]);
        }
        self.of[k] = v;
    }
}

/// A size from `dist` (0 without one), drawn from `rng` when it is not constant.
#[inline]
fn draw(dist: &Option<crate::network::SizeDist>, rng: &mut Option<Stream>) -> u32 {
    match (dist, rng) {
        (None, _) => 0,
        (Some(crate::network::SizeDist::Constant(b)), _) => (*b).min(u64::from(u32::MAX)) as u32,
        (Some(d), Some(rng)) => d.sample(rng),
        (Some(_), None) => 0,
    }
}

impl Fluid {
    /// The links of `world` that have a capacity, no flow on them yet.
    pub(super) fn for_world(world: &World) -> Fluid {
        let capacities: Vec<f64> = world.network.links.iter().map(|l| l.capacity).collect();
        Fluid::new(&capacities)
    }

    pub(super) fn new(capacities: &[f64]) -> Fluid {
        let n = capacities.len();
        Fluid {
            base: capacities.to_vec(),
            cap: capacities.to_vec(),
            flows: Slab::with_capacity(0),
            active: Vec::new(),
            updated_ns: 0,
            next_ns: u64::MAX,
            timer: None,
            rem: vec![0.0; n],
            count: vec![0; n],
            frozen: Vec::new(),
            carried: vec![[0.0; CLASSES]; n],
            flow_area: vec![0.0; n],
            flows_now: vec![0; n],
            flows_max: vec![0; n],
            sent: [0; CLASSES],
            delivered: [0; CLASSES],
            timer_at: u64::MAX,
            finished: Vec::new(),
            done: Vec::new(),
            down: vec![false; n],
            share: vec![1.0; n],
            up: vec![false; n],
            congestion: Vec::new(),
            down_faults: vec![0; n],
            degraded: vec![0; n],
            links_down: 0,
            tick_carried: vec![0.0; n],
            series: vec![Vec::new(); n],
        }
    }

    /// Whether the network has any link with a capacity.
    pub(super) fn is_empty(&self) -> bool {
        self.base.is_empty()
    }

    /// A link of its own for a rate limit (a rebuild's or a transfer's `rate`): the flows that
    /// cross it share `capacity` between them, max-min like any link. Not in the results.
    pub(super) fn add_link(&mut self, capacity: f64) -> u32 {
        self.base.push(capacity);
        self.cap.push(capacity);
        self.rem.push(0.0);
        self.count.push(0);
        self.carried.push([0.0; CLASSES]);
        self.flow_area.push(0.0);
        self.flows_now.push(0);
        self.flows_max.push(0);
        self.down.push(false);
        self.up.push(false);
        self.down_faults.push(0);
        self.degraded.push(0);
        self.share.push(1.0);
        self.tick_carried.push(0.0);
        self.series.push(Vec::new());
        self.base.len() as u32 - 1
    }

    /// Bytes still in flight, by class (background traffic not counted).
    pub(super) fn in_flight(&self) -> [u64; CLASSES] {
        let mut out = [0; CLASSES];
        for &f in &self.active {
            let flow = &self.flows[f];
            if flow.remaining.is_finite() {
                out[flow.class as usize] += flow.bytes;
            }
        }
        out
    }

    /// Starts a flow of `bytes` (`None`: background traffic, endless) at `now`; `cap` limits
    /// its own rate. Returns its slot.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn add(
        &mut self,
        now: u64,
        path: Path,
        bytes: Option<u64>,
        cap: f64,
        class: Class,
        then: Event,
        delay_ns: u64,
    ) -> u32 {
        self.advance(now);
        let at = self.active.len() as u32;
        let slot = self.flows.insert(Flow {
            path,
            remaining: bytes.map_or(f64::INFINITY, |b| b as f64),
            rate: 0.0,
            cap,
            bytes: bytes.unwrap_or(0),
            class,
            then,
            delay_ns,
            at,
            route: [NONE, NONE, crate::network::NO_LINK],
        });
        self.active.push(slot);
        for &l in path.as_slice() {
            let n = &mut self.flows_now[l as usize];
            *n += 1;
            self.flows_max[l as usize] = self.flows_max[l as usize].max(*n);
        }
        if bytes.is_some() {
            self.sent[class as usize] += bytes.unwrap_or(0);
        }
        if self.alone(&path, 1) {
            // No other flow on its links: nobody else's rate changes, and it takes the
            // narrowest of them (or its own cap).
            let rate = (path.as_slice().iter())
                .map(|&l| self.cap[l as usize])
                .fold(cap, f64::min);
            let flow = &mut self.flows[slot];
            flow.rate = rate;
            if flow.remaining.is_finite() && rate > 0.0 {
                let t = (flow.remaining / rate).ceil().max(1.0);
                self.next_ns = self.next_ns.min(now.saturating_add(t as u64));
            }
        } else {
            self.recompute(now);
        }
        slot
    }

    /// Whether at most `n` flows cross each link of `path`: after an add, 1 (the new one
    /// alone), after a removal, 0 (none left): max-min rates elsewhere are then what they were.
    fn alone(&self, path: &Path, n: u32) -> bool {
        (path.as_slice().iter()).all(|&l| self.flows_now[l as usize] <= n)
    }

    /// The earliest completion, when no rate changed.
    fn next_completion(&mut self, now: u64) {
        self.next_ns = u64::MAX;
        for &f in &self.active {
            let flow = &self.flows[f];
            if flow.remaining.is_finite() && flow.rate > 0.0 {
                let t = (flow.remaining / flow.rate).ceil().max(1.0);
                self.next_ns = self.next_ns.min(now.saturating_add(t as u64));
            }
        }
    }

    /// Removes a flow (finished, or background traffic that stops).
    pub(super) fn remove(&mut self, now: u64, slot: u32) {
        self.advance(now);
        self.detach(slot);
        self.recompute(now);
    }

    fn detach(&mut self, slot: u32) {
        let flow = self.flows[slot];
        self.flows.remove(slot);
        let at = flow.at as usize;
        self.active.swap_remove(at);
        if let Some(&moved) = self.active.get(at) {
            self.flows[moved].at = at as u32;
        }
        for &l in flow.path.as_slice() {
            self.flows_now[l as usize].dec();
        }
    }

    /// Link `l` keeps `share` of its bandwidth from `now` (none while it is down).
    pub(super) fn set_share(&mut self, now: u64, l: u32, share: f64) {
        self.advance(now);
        self.cap[l as usize] = self.base[l as usize] * share * f64::from(!self.down[l as usize]);
        self.recompute(now);
    }

    /// The flows in progress whose path crosses a link that is down (slots, in the order of
    /// `active`).
    fn stalled(&self) -> Vec<u32> {
        let (flows, down) = (&self.flows, &self.down);
        (self.active.iter().copied())
            .filter(|&f| flows[f].path.as_slice().iter().any(|&l| down[l as usize]))
            .collect()
    }

    /// Flow `slot` moves from its links to `path` with the bytes it has left (rates are
    /// recomputed by the caller).
    fn repath(&mut self, slot: u32, path: Path) {
        let old = self.flows[slot].path;
        for &l in old.as_slice() {
            self.flows_now[l as usize].dec();
        }
        for &l in path.as_slice() {
            let n = &mut self.flows_now[l as usize];
            *n += 1;
            self.flows_max[l as usize] = self.flows_max[l as usize].max(*n);
        }
        self.flows[slot].path = path;
    }

    /// The flows finished at `now` (their remaining bytes cross within a nanosecond), taken
    /// out, with the events they lead to: `(event, delay)`, in the order of their slots.
    pub(super) fn finish(&mut self, now: u64, out: &mut Vec<(Event, u64)>) {
        self.advance(now);
        let mut done = std::mem::take(&mut self.finished);
        done.clear();
        let flows = &self.flows;
        done.extend(self.active.iter().copied().filter(|&f| {
            let flow = &flows[f];
            flow.remaining <= flow.rate.max(1e-12)
        }));
        done.sort_unstable();
        let mut others_unchanged = true;
        for &f in &done {
            let flow = self.flows[f];
            self.delivered[flow.class as usize] += flow.bytes;
            for &l in flow.path.as_slice() {
                // The last fraction of a byte that rounding left.
                self.carried[l as usize][flow.class as usize] += flow.remaining.max(0.0);
            }
            out.push((flow.then, flow.delay_ns));
            self.detach(f);
            others_unchanged &= self.alone(&flow.path, 0);
        }
        self.finished = done;
        if others_unchanged {
            self.next_completion(now);
        } else {
            self.recompute(now);
        }
    }

    /// Moves every flow's bytes on to `now`.
    pub(super) fn advance(&mut self, now: u64) {
        let dt = now.saturating_sub(self.updated_ns) as f64;
        self.updated_ns = now;
        if dt == 0.0 {
            return;
        }
        for &f in &self.active {
            let flow = &mut self.flows[f];
            let moved = (flow.rate * dt).min(flow.remaining);
            flow.remaining -= moved;
            for &l in flow.path.as_slice() {
                self.carried[l as usize][flow.class as usize] += moved;
                self.flow_area[l as usize] += dt;
            }
        }
    }

    /// Max-min fair rates by progressive filling: every unfrozen flow's rate rises by the
    /// same amount until a link is full (its flows freeze) or a flow reaches its own cap; then
    /// the earliest completion.
    fn recompute(&mut self, now: u64) {
        // Every link of a flow in progress starts full, with all its flows unfrozen (their
        // number is `flows_now`, kept as flows come and go).
        self.frozen.clear();
        for &f in &self.active {
            let flow = &mut self.flows[f];
            flow.rate = 0.0;
            for &l in flow.path.as_slice() {
                self.rem[l as usize] = self.cap[l as usize];
                self.count[l as usize] = self.flows_now[l as usize];
            }
            self.frozen.push(false);
        }
        let mut left = self.active.len();
        while left > 0 {
            left = self.fill_round(left);
        }
        self.next_ns = u64::MAX;
        for &f in &self.active {
            let flow = &self.flows[f];
            if flow.remaining.is_finite() && flow.rate > 0.0 {
                let t = (flow.remaining / flow.rate).ceil().max(1.0);
                self.next_ns = self.next_ns.min(now.saturating_add(t as u64));
            }
        }
    }

    /// One round of progressive filling; returns the flows left unfrozen.
    fn fill_round(&mut self, mut left: usize) -> usize {
        let mut step = f64::INFINITY;
        for (k, &f) in self.active.iter().enumerate() {
            if self.frozen[k] {
                continue;
            }
            let flow = &self.flows[f];
            step = step.min(flow.cap - flow.rate);
            for &l in flow.path.as_slice() {
                let l = l as usize;
                step = step.min(self.rem[l] / f64::from(self.count[l]));
            }
        }
        if !step.is_finite() {
            // Flows with no limit at all (never: every flow crosses a link).
            return 0;
        }
        let step = step.max(0.0);
        for (k, &f) in self.active.iter().enumerate() {
            if self.frozen[k] {
                continue;
            }
            let flow = &mut self.flows[f];
            flow.rate += step;
            for &l in flow.path.as_slice() {
                self.rem[l as usize] -= step;
            }
        }
        for (k, &f) in self.active.iter().enumerate() {
            if self.frozen[k] {
                continue;
            }
            let flow = &self.flows[f];
            let full = |l: u32| self.rem[l as usize] <= self.cap[l as usize] * 1e-9;
            if flow.rate >= flow.cap * (1.0 - 1e-12)
                || flow.path.as_slice().iter().any(|&l| full(l))
            {
                self.frozen[k] = true;
                left -= 1;
                for &l in flow.path.as_slice() {
                    self.count[l as usize] -= 1;
                }
            }
        }
        left
    }

    /// The rate of a flow now (tests).
    #[cfg(test)]
    fn rate(&self, slot: u32) -> f64 {
        self.flows[slot].rate
    }

    /// Utilization of link `l` over `span_ns`, from its bytes carried: against its built
    /// capacity.
    pub(super) fn utilization(&self, l: usize, span_ns: u64) -> f64 {
        let bytes: f64 = self.carried[l].iter().sum();
        if span_ns == 0 {
            0.0
        } else {
            bytes / (self.base[l] * span_ns as f64)
        }
    }
}

impl ServiceModel<'_> {
    /// Draws the size of attempt `req` on call edge `edge`.
    #[inline]
    pub(super) fn size_attempt(&mut self, req: u32, edge: u32) {
        if self.sizes.any {
            let e = edge as usize;
            let b = draw(&self.world.calls[e].request_bytes, &mut self.sizes.edge[e]);
            self.sizes.set(req, [b, 0]);
        }
    }

    /// Draws the size of workload `w`'s request `req`.
    #[inline]
    pub(super) fn size_workload_request(&mut self, req: u32, w: u32) {
        if self.sizes.any {
            let wi = w as usize;
            let b = draw(
                &self.world.workloads[wi].request_bytes,
                &mut self.sizes.workload[wi],
            );
            self.sizes.set(req, [b, 0]);
        }
    }

    /// The size of request `req` (0: none).
    #[inline]
    pub(super) fn request_bytes(&self, req: u32) -> u32 {
        if self.sizes.any {
            self.sizes.of[req as usize][0]
        } else {
            0
        }
    }

    /// The size of request `req`'s answer: drawn once.
    #[inline]
    pub(super) fn response_size(&mut self, req: u32) -> u32 {
        if !self.sizes.any {
            return 0;
        }
        let e = self.requests[req].edge;
        let drawn = self.sizes.of[req as usize][1];
        if drawn > 0 || e == NONE {
            return drawn.saturating_sub(1);
        }
        let e = e as usize;
        let b = draw(&self.world.calls[e].response_bytes, &mut self.sizes.edge[e]);
        self.sizes.of[req as usize][1] = b.saturating_add(1);
        b.min(u32::MAX - 1)
    }

    /// Sends a message of `bytes` from host `from` to host `to`: `then` happens after its
    /// transfer (when its path has links with a capacity and it has a size) and `delay_ns`.
    #[inline]
    pub(super) fn transmit(
        &mut self,
        sim: &mut Sim<Event>,
        (from, to): (u32, u32),
        bytes: u32,
        class: Class,
        then: Event,
        delay_ns: u64,
    ) {
        if bytes == 0 || self.net.is_empty() {
            sim.schedule_in(SimDuration::from_ns(delay_ns), then);
            return;
        }
        self.transmit_slow(sim, (from, to), u64::from(bytes), class, then, delay_ns)
    }

    #[cold]
    #[inline(never)]
    fn transmit_slow(
        &mut self,
        sim: &mut Sim<Event>,
        (from, to): (u32, u32),
        bytes: u64,
        class: Class,
        then: Event,
        delay_ns: u64,
    ) {
        let route = [from, to, crate::network::NO_LINK];
        let path = self.path(from, to);
        self.on_wire(sim, (path, route), bytes, (class, then, delay_ns));
    }

    /// A transfer of `bytes` over `path` (of `route`: from, to, rate limit) becomes a flow;
    /// `then` happens `delay_ns` after its last byte (at once after `delay_ns` when the path
    /// has no capacity or it has no size).
    fn on_wire(
        &mut self,
        sim: &mut Sim<Event>,
        (path, route): (Path, [u32; 3]),
        bytes: u64,
        (class, then, delay_ns): (Class, Event, u64),
    ) {
        if path.is_empty() || bytes == 0 {
            sim.schedule_in(SimDuration::from_ns(delay_ns), then);
            return;
        }
        let now = sim.now().as_ns();
        let slot = self
            .net
            .add(now, path, Some(bytes), f64::INFINITY, class, then, delay_ns);
        self.net.flows[slot].route = route;
        self.net_rearm(sim);
        self.check_backlog(sim);
    }

    /// Flows on the links and operations at disks are work in flight (a message in a flow is
    /// not an event; an asynchronous replica's writes pile up behind a slow disk without
    /// bound): they count against `limits.requests_in_flight_max` (separately from the
    /// requests and calls, which it bounds too).
    pub(super) fn check_backlog(&mut self, sim: &mut Sim<Event>) {
        let held = self.net.active.len() as u64 + self.disk_waiting;
        if held > u64::from(self.world.requests_in_flight_max) && self.guard_hit.is_none() {
            self.guard_hit = Some(StopReason::RequestsInFlightMax);
            sim.request_stop();
        }
    }

    /// A link's bandwidth is set anew (a reused rate-limit link).
    pub(super) fn set_link_capacity(&mut self, sim: &mut Sim<Event>, l: u32, capacity: f64) {
        let now = sim.now().as_ns();
        self.net.base[l as usize] = capacity;
        self.net.set_share(now, l, 1.0);
    }

    /// A chunk of `bytes` of a rebuild or a transfer, through the job's own rate-limit link
    /// (`limit`, `NO_LINK` for none) as well as the network's.
    pub(super) fn transmit_bulk(
        &mut self,
        sim: &mut Sim<Event>,
        (from, to): (u32, u32),
        bytes: u64,
        limit: u32,
        class: Class,
        then: Event,
    ) {
        let mut path = self.path(from, to);
        if self.net.links_down > 0 && self.no_route(from, to) {
            // No route now: the chunk waits on its usual path, at no rate, for one.
            let up = &self.net.up;
            path = (self.world.network)
                .path(&self.world.hosts, from, to, up)
                .unwrap_or(Path::EMPTY);
        }
        let path = with_limit(path, limit);
        self.on_wire(sim, (path, [from, to, limit]), bytes, (class, then, 0));
    }

    /// Whether links that are down leave no route from host `from` to host `to`.
    #[cold]
    pub(super) fn no_route(&self, from: u32, to: u32) -> bool {
        let net = &self.world.network;
        if from == NONE {
            let nic = net
                .nic
                .get(to as usize)
                .map_or(crate::network::NO_LINK, |n| n.1);
            return nic != crate::network::NO_LINK && self.net.down[nic as usize];
        }
        net.path(&self.world.hosts, from, to, &self.net.down)
            .is_none()
    }

    /// The links from host `from` to host `to` (`NONE`: from the clients, through the
    /// receiver's NIC only).
    pub(super) fn path(&self, from: u32, to: u32) -> Path {
        let net = &self.world.network;
        if from == NONE {
            let mut p = Path::EMPTY;
            let nic = net
                .nic
                .get(to as usize)
                .map_or(crate::network::NO_LINK, |n| n.1);
            if nic != crate::network::NO_LINK {
                p.links[0] = nic;
                p.len = 1;
            }
            return p;
        }
        net.path(&self.world.hosts, from, to, &self.net.down)
            .unwrap_or(Path::EMPTY)
    }

    /// The timer at the earliest completion, moved if it changed.
    pub(super) fn net_rearm(&mut self, sim: &mut Sim<Event>) {
        let next = self.net.next_ns;
        if let Some(t) = self.net.timer {
            if self.net.timer_at == next {
                return;
            }
            sim.cancel(t);
            self.net.timer = None;
        }
        self.net.timer_at = next;
        if next != u64::MAX {
            let now = sim.now().as_ns();
            let delay = SimDuration::from_ns(next.saturating_sub(now));
            self.net.timer = Some(sim.timer_in(delay, Event::Net));
        }
    }

    /// Flows finish: each one's event follows, after its latency.
    #[cold]
    #[inline(never)]
    pub(super) fn on_net(&mut self, sim: &mut Sim<Event>) {
        self.net.timer = None;
        self.net.timer_at = u64::MAX;
        let now = sim.now().as_ns();
        let mut done = std::mem::take(&mut self.net.done);
        self.net.finish(now, &mut done);
        for &(then, delay) in &done {
            sim.schedule_in(SimDuration::from_ns(delay), then);
        }
        done.clear();
        self.net.done = done;
        self.net_rearm(sim);
    }

    /// A fault on capacity starts or ends on links `links`.
    pub(super) fn capacity_fault(&mut self, sim: &mut Sim<Event>, fault: u32, start: bool) {
        let now = sim.now().as_ns();
        let def = &self.world.faults[fault as usize];
        match def.effect {
            FaultEffect::LinkDegraded(share) => {
                for &l in &def.net_links {
                    let (s, n) = (
                        &mut self.net.share[l as usize],
                        &mut self.net.degraded[l as usize],
                    );
                    if start {
                        *n += 1;
                        *s *= share;
                    } else {
                        n.dec();
                        // Exactly whole again when no degradation is left (no float drift).
                        *s = if *n == 0 { 1.0 } else { *s / share };
                    }
                    let s = *s;
                    self.net.set_share(now, l, s);
                }
            }
            FaultEffect::LinkDown => {
                for &l in &def.net_links {
                    let n = &mut self.net.down_faults[l as usize];
                    if start {
                        *n += 1;
                    } else {
                        n.dec();
                    }
                    let down = *n > 0;
                    if down != self.net.down[l as usize] {
                        self.net.down[l as usize] = down;
                        if down {
                            self.net.links_down += 1;
                        } else {
                            self.net.links_down.dec();
                        }
                        let share = self.net.share[l as usize];
                        self.net.set_share(now, l, share);
                    }
                }
                self.reroute(now);
            }
            FaultEffect::Congestion(rate) => {
                for (k, &l) in def.net_links.iter().enumerate() {
                    let key = (fault, k as u32);
                    if start {
                        let mut path = Path::EMPTY;
                        path.links[0] = l;
                        path.len = 1;
                        let slot =
                            self.net
                                .add(now, path, None, rate, Class::Background, Event::Net, 0);
                        self.net.congestion.push((key, slot));
                    } else if let Some(p) = self.net.congestion.iter().position(|&(k, _)| k == key)
                    {
                        let (_, slot) = self.net.congestion.remove(p);
                        self.net.remove(now, slot);
                    }
                }
            }
            _ => {}
        }
        self.net_rearm(sim);
    }
}

impl ServiceModel<'_> {
    /// Links went down or came back: the flows on a link that is down move to a route around
    /// it with the bytes they have left; a flow with no route left waits on its path (at no
    /// rate) until one is back, and its sender's timeout decides.
    #[cold]
    fn reroute(&mut self, now: u64) {
        self.net.advance(now);
        let mut moved = false;
        for slot in self.net.stalled() {
            let [from, to, limit] = self.net.flows[slot].route;
            if to == NONE {
                continue; // background traffic belongs to its link
            }
            if from != NONE && !self.no_route(from, to) {
                let path = with_limit(self.path(from, to), limit);
                self.net.repath(slot, path);
                moved = true;
            }
        }
        if moved {
            self.net.recompute(now);
        }
    }
}

/// `path` followed by the rate-limit link `limit` (`NO_LINK`: none).
fn with_limit(mut path: Path, limit: u32) -> Path {
    if limit != crate::network::NO_LINK {
        path.links[path.len as usize] = limit;
        path.len += 1;
    }
    path
}

impl ServiceModel<'_> {
    /// The end of time-series bucket `b`: each link's utilization over it, each disk's queue.
    pub(super) fn net_tick(&mut self, now: u64, b: usize) {
        let (n, res) = (self.n_buckets, self.world.resolution.as_ns().max(1) as f64);
        if !self.net.is_empty() {
            self.net.advance(now);
            let net = &mut self.net;
            for l in 0..net.base.len() {
                let total: f64 = net.carried[l].iter().sum();
                let moved = total - net.tick_carried[l];
                net.tick_carried[l] = total;
                if moved > 0.0 {
                    let series = &mut net.series[l];
                    if series.is_empty() {
                        series.resize(n, 0.0);
                    }
                    series[b] = moved / (net.base[l] * res);
                }
            }
        }
        for (h, d) in self.disks.iter().enumerate() {
            let waiting = d.waiting() as u64;
            if waiting > 0 || d.ops > 0 {
                let series = &mut self.disk_series[h];
                if series.is_empty() {
                    series.resize(n, 0);
                }
                series[b] = waiting;
            }
        }
    }

    /// The network's and the disks' results (`None` for a scenario with neither); the bytes'
    /// ledger is checked here.
    pub(super) fn network_result(
        &mut self,
        end_ns: u64,
        seed: u64,
        run: u64,
    ) -> Option<crate::results::NetworkResult> {
        use crate::results::{ByClass, NetworkResult};
        if self.net.is_empty() && self.disks.is_empty() && self.world.transfers.is_empty() {
            return None;
        }
        self.net.advance(end_ns);
        let in_flight = self.net.in_flight();
        for (c, held) in in_flight.iter().enumerate() {
            assert_eq!(
                self.net.sent[c],
                self.net.delivered[c] + held,
                "bytes not conserved on the network (class {c}, seed {seed}, run {run})"
            );
        }
        let span = end_ns.max(1);
        Some(NetworkResult {
            sent: ByClass::from_array(self.net.sent),
            delivered: ByClass::from_array(self.net.delivered),
            in_flight: ByClass::from_array(in_flight),
            links: self.link_results(span),
            disks: self.disk_results(span),
            transfers: self.transfer_results(),
        })
    }

    /// Every link that carried something, over `span`.
    fn link_results(&mut self, span: u64) -> Vec<crate::results::LinkResult> {
        use crate::results::{ByClass, LinkResult};
        let used: Vec<usize> = (0..self.net.base.len())
            .filter(|&l| self.net.carried[l].iter().sum::<f64>() > 0.0)
            .collect();
        let real = self.world.network.links.len();
        used.into_iter()
            .filter(|&l| l < real)
            .map(|l| LinkResult {
                name: self.world.network.links[l].name.clone(),
                capacity_bps: self.net.base[l] * 8e9,
                utilization: self.net.utilization(l, span),
                bytes: ByClass::from_array(self.net.carried[l].map(|b| b.round() as u64)),
                flows_mean: self.net.flow_area[l] / span as f64,
                flows_max: self.net.flows_max[l],
                utilization_series: std::mem::take(&mut self.net.series[l]),
            })
            .collect()
    }

    /// Every disk that served something, over `span`.
    fn disk_results(&mut self, span: u64) -> Vec<crate::results::DiskResult> {
        use crate::results::{ByClass, DiskResult};
        (0..self.disks.len())
            .filter(|&h| self.disks[h].ops > 0)
            .map(|h| {
                let d = &self.disks[h];
                DiskResult {
                    host: self.world.hosts[h].name.clone(),
                    ops: d.ops,
                    bytes: ByClass::from_array(d.bytes),
                    utilization: (d.busy_ns as f64 / span as f64).min(1.0),
                    queue_mean: d.queue_area / span as f64,
                    queue_max: d.queue_max,
                    queue_series: std::mem::take(&mut self.disk_series[h]),
                    used_bytes: d.used,
                    full_refusals: d.full_refusals,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(links: &[u32]) -> Path {
        let mut p = Path::EMPTY;
        for (k, &l) in links.iter().enumerate() {
            p.links[k] = l;
        }
        p.len = links.len() as u8;
        p
    }

    fn flow(f: &mut Fluid, links: &[u32], bytes: u64) -> u32 {
        let then = Event::Deliver { req: bytes as u32 };
        f.add(
            0,
            path(links),
            Some(bytes),
            f64::INFINITY,
            Class::User,
            then,
            0,
        )
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9 * b.abs().max(1.0)
    }

    #[test]
    fn two_flows_share_one_link_equally() {
        let mut f = Fluid::new(&[1.0]);
        let a = flow(&mut f, &[0], 1000);
        assert!(close(f.rate(a), 1.0));
        let b = flow(&mut f, &[0], 1000);
        assert!(close(f.rate(a), 0.5) && close(f.rate(b), 0.5));
    }

    #[test]
    fn the_parking_lot_gets_max_min_shares() {
        // Links 0 and 1 of capacity 1; flow A crosses both, B only link 0, C only link 1:
        // every flow gets 1/2.
        let mut f = Fluid::new(&[1.0, 1.0]);
        let a = flow(&mut f, &[0, 1], 10_000);
        let b = flow(&mut f, &[0], 10_000);
        let c = flow(&mut f, &[1], 10_000);
        for x in [a, b, c] {
            assert!(close(f.rate(x), 0.5), "{}", f.rate(x));
        }
        // Link 1 twice as wide, and a fourth flow D on it: A and B split link 0 (1/2 each),
        // C and D share what A leaves of link 1: (2 - 1/2) / 2 = 3/4 each. (Sharing each link
        // on its own, ignoring where A is bottlenecked, would give A, C, D 2/3 on link 1.)
        let mut f = Fluid::new(&[1.0, 2.0]);
        let a = flow(&mut f, &[0, 1], 10_000);
        let b = flow(&mut f, &[0], 10_000);
        let c = flow(&mut f, &[1], 10_000);
        let d = flow(&mut f, &[1], 10_000);
        assert!(close(f.rate(a), 0.5) && close(f.rate(b), 0.5));
        assert!(close(f.rate(c), 0.75) && close(f.rate(d), 0.75));
    }

    #[test]
    fn a_capped_flow_leaves_the_rest_to_the_others() {
        let mut f = Fluid::new(&[1.0]);
        let slow = f.add(
            0,
            path(&[0]),
            Some(100),
            0.1,
            Class::Recovery,
            Event::Net,
            0,
        );
        let fast = flow(&mut f, &[0], 100);
        assert!(close(f.rate(slow), 0.1) && close(f.rate(fast), 0.9));
    }

    #[test]
    fn flows_finish_when_their_bytes_have_crossed_and_bytes_are_conserved() {
        // 1 byte/ns; A of 1,000 bytes from 0, B of 500 bytes from 0: both at 0.5 until B ends
        // at 1,000 ns (A has 500 left), then A alone at 1: it ends at 1,500 ns.
        let mut f = Fluid::new(&[1.0]);
        flow(&mut f, &[0], 1000);
        flow(&mut f, &[0], 500);
        assert_eq!(f.next_ns, 1000);
        let mut out = Vec::new();
        f.finish(1000, &mut out);
        assert_eq!(out, vec![(Event::Deliver { req: 500 }, 0)]);
        assert_eq!(f.next_ns, 1500);
        assert_eq!(f.in_flight()[0], 1000);
        out.clear();
        f.finish(1500, &mut out);
        assert_eq!(out, vec![(Event::Deliver { req: 1000 }, 0)]);
        assert_eq!(f.sent[0], 1500);
        assert_eq!(f.delivered[0], 1500);
        assert_eq!(f.in_flight()[0], 0);
        assert!(close(f.carried[0][0], 1500.0));
        assert!(close(f.utilization(0, 1500), 1.0));
    }

    #[test]
    fn a_degraded_link_slows_its_flows_and_background_traffic_takes_its_share() {
        let mut f = Fluid::new(&[1.0]);
        let a = flow(&mut f, &[0], 1000);
        f.set_share(0, 0, 0.25);
        assert!(close(f.rate(a), 0.25));
        f.set_share(0, 0, 1.0);
        let bg = f.add(0, path(&[0]), None, 0.8, Class::Background, Event::Net, 0);
        // Max-min: the background flow is capped at 0.8 but the fair share is 0.5 each.
        assert!(close(f.rate(a), 0.5) && close(f.rate(bg), 0.5));
        f.remove(0, bg);
        assert!(close(f.rate(a), 1.0));
    }
}
