//! Message queues: brokers that store published messages (`ServiceDef::broker`), and the
//! consumer groups that take them off (`ServiceDef::consumes`), at least once.
//!
//! ```text
//!  a call with op: Publish ─▶ the broker instance's work ─▶ publish: stored in that instance's
//!     partition (full: the call fails) ─▶ dispatch
//!  dispatch: a ready message and a consumer instance up with room ─▶ a delivery: a request of
//!     the consumer group's workload (created when the message was published), Deliver
//!  the delivery answered well ─▶ ack if it is the message's current delivery (a message
//!     answered well before counts a duplicate); a delivery lost on the way fails and goes
//!  Visibility (its timeout) and the message still out with that delivery ─▶ ready again, or
//!     dead-lettered after max_deliveries; a delivery lost on the way is counted failed then
//!  lose_instance of a broker instance ─▶ its waiting messages are lost (unless replicated)
//! ```
//!
//! The part owns `Queues`: the messages (a slab), each broker instance's partition (its ready
//! messages in order, and how many it holds), each consumer instance's deliveries in progress,
//! which message each delivery request carries, and each broker's counters. The ledger
//! `published = acked + dead-lettered + lost + ready + out` is audited at the end of every run.

use super::*;

/// Where a message is.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum State {
    /// In its partition's ready list.
    Ready,
    /// Delivered to request `req`, not yet acknowledged.
    Out { req: u32 },
    /// Acknowledged, dead-lettered or lost: its slot is freed when no delivery of it is left.
    Gone,
}

#[derive(Copy, Clone, Debug)]
struct Message {
    published_ns: u64,
    /// The broker instance that holds it.
    partition: u32,
    deliveries: u32,
    /// Told apart from the messages that held its slot before.
    serial: u32,
    state: State,
    /// Its visibility timeout while it is out.
    timer: Option<TimerId>,
    /// Delivery requests of it still alive (its slot is kept while any is).
    alive: u32,
    /// Some delivery of it was answered well.
    processed: bool,
    /// Its partition's losses when it was stored: a loss since then took it.
    epoch: u32,
    measured: bool,
    crit: u8,
    key: u32,
}

/// One broker instance's share of the queue.
#[derive(Debug, Default)]
struct Partition {
    ready: VecDeque<u32>,
    /// Ready and out.
    held: u32,
    /// Times its instance lost what it held (without replication).
    losses: u32,
}

/// What one broker counts, over the whole run (the ledger's terms), and its series.
#[derive(Clone, Debug, Default)]
pub(super) struct QueueCounters {
    published: u64,
    refused: u64,
    delivered: u64,
    acked: u64,
    redeliveries: u64,
    duplicates: u64,
    dead_letters: u64,
    lost: u64,
    series_backlog: Vec<u64>,
    series_oldest_ns: Vec<u64>,
}

/// The state of this part (`ServiceModel::queues`).
pub(super) struct Queues {
    messages: Slab<Message>,
    /// By instance (empty for instances of services that are not brokers).
    partitions: Vec<Partition>,
    /// By instance: deliveries in progress at a consumer instance.
    taken: Vec<u32>,
    /// By request slot: the (message, serial, delivery) a consumer's delivery request carries;
    /// empty when the scenario has no consumer.
    carried: Vec<(u32, u32, u32)>,
    /// By broker service: where the next dispatch starts looking (consumer instance, partition).
    next: Vec<(u32, u32)>,
    counters: Vec<QueueCounters>,
    serials: u32,
    /// A consumer found room: dispatch after the event.
    pub(super) dirty: bool,
    /// Whether the scenario has a broker (then `partitions` is by instance).
    pub(super) any: bool,
}

impl Queues {
    pub(super) fn new(world: &World, n_buckets: usize) -> Queues {
        let any = world.services.iter().any(|s| s.broker.is_some());
        let n = if any { world.instances.len() } else { 0 };
        Queues {
            messages: Slab::with_capacity(0),
            partitions: (0..n).map(|_| Partition::default()).collect(),
            taken: vec![0; n],
            carried: Vec::new(),
            next: vec![(0, 0); world.services.len()],
            counters: (world.services.iter())
                .map(|s| QueueCounters {
                    series_backlog: if s.broker.is_some() {
                        vec![0; n_buckets]
                    } else {
                        Vec::new()
                    },
                    series_oldest_ns: if s.broker.is_some() {
                        vec![0; n_buckets]
                    } else {
                        Vec::new()
                    },
                    ..QueueCounters::default()
                })
                .collect(),
            serials: 0,
            dirty: false,
            any,
        }
    }
}

impl ServiceModel<'_> {
    /// A publish answered by broker instance `r.instance`: the message is stored there, or the
    /// publish fails when the instance is full.
    #[cold]
    #[inline(never)]
    pub(super) fn publish(&mut self, sim: &mut Sim<Event>, req: u32) -> Outcome {
        let r = self.requests[req];
        let s = r.service as usize;
        let def = self.world.services[s].broker.expect("a broker");
        let i = r.instance;
        let q = &mut self.queues;
        if q.partitions[i as usize].held >= def.capacity {
            q.counters[s].refused += 1;
            return Outcome::Failed;
        }
        q.serials = q.serials.wrapping_add(1);
        let msg = q.messages.insert(Message {
            published_ns: sim.now().as_ns(),
            partition: i,
            deliveries: 0,
            serial: q.serials,
            timer: None,
            alive: 0,
            processed: false,
            epoch: q.partitions[i as usize].losses,
            state: State::Ready,
            measured: r.measured,
            crit: r.crit,
            key: r.key,
        });
        let p = &mut q.partitions[i as usize];
        p.ready.push_back(msg);
        p.held += 1;
        q.counters[s].published += 1;
        self.dispatch(sim, s as u32);
        Outcome::Completed
    }

    /// Delivers ready messages of broker `b` to its consumer group's instances that are up and
    /// have room, each looked at in turn from where the last dispatch stopped.
    pub(super) fn dispatch(&mut self, sim: &mut Sim<Event>, b: u32) {
        let def = &self.world.services[b as usize];
        let Some(broker) = def.broker else { return };
        if broker.consumer == NONE {
            return;
        }
        let consumer = &self.world.services[broker.consumer as usize];
        let cdef = consumer.consumes.expect("a consumer group");
        let (p0, pn) = (def.first_instance, def.n_instances);
        let (c0, cn) = (consumer.first_instance, consumer.n_instances);
        let (mut nc, mut np) = self.queues.next[b as usize];
        let mut idle_partitions = 0;
        let mut full_consumers = 0;
        while idle_partitions < pn && full_consumers < cn {
            let c = c0 + nc % cn;
            if self.queues.taken[c as usize] >= cdef.concurrency || !self.is_up(c) {
                full_consumers += 1;
                nc = (nc + 1) % cn;
                continue;
            }
            full_consumers = 0;
            let p = p0 + np % pn;
            np = (np + 1) % pn;
            if !self.is_up(p) {
                idle_partitions += 1;
                continue;
            }
            let Some(msg) = self.queues.partitions[p as usize].ready.pop_front() else {
                idle_partitions += 1;
                continue;
            };
            idle_partitions = 0;
            self.deliver_message(sim, msg, c, &cdef);
            nc = (nc + 1) % cn;
        }
        self.queues.next[b as usize] = (nc, np);
    }

    /// Message `msg` goes to consumer instance `c`: a request of the consumer group's workload,
    /// created at its publish, and its visibility timeout.
    fn deliver_message(&mut self, sim: &mut Sim<Event>, msg: u32, c: u32, cdef: &ConsumerDef) {
        let now = sim.now().as_ns();
        let m = self.queues.messages[msg];
        let consumer = self.world.instances[c as usize].service_idx;
        let mut request = self.new_request(consumer, c, cdef.workload, now);
        request.created_ns = m.published_ns;
        request.measured = m.measured;
        request.crit = m.crit;
        request.key = m.key;
        let req = self.alloc(sim, request);
        let timer = sim.timer_in(
            SimDuration::from_ns(cdef.visibility_ns),
            Event::Visibility { msg },
        );
        let q = &mut self.queues;
        if q.carried.len() <= req as usize {
            q.carried.resize(req as usize + 1, (NONE, 0, 0));
        }
        q.carried[req as usize] = (msg, m.serial, m.deliveries + 1);
        q.taken[c as usize] += 1;
        let b = self.world.instances[m.partition as usize].service_idx as usize;
        q.counters[b].delivered += 1;
        let m = &mut q.messages[msg];
        m.deliveries += 1;
        m.alive += 1;
        m.state = State::Out { req };
        m.timer = Some(timer);
        let ws = &mut self.workloads[cdef.workload as usize];
        ws.all.arrived += 1;
        if m.measured {
            ws.measured.arrived += 1;
        }
        let (from, to) = (self.host_of[m.partition as usize], self.host_of[c as usize]);
        let (lost, add) = self.link(from, to, MsgSize::Bytes(0));
        if lost {
            return self.drop_message(req);
        }
        sim.schedule_in(SimDuration::from_ns(add), Event::Deliver { req });
    }

    /// A consumer's delivery request was answered: a good answer acknowledges its message (a
    /// duplicate if the message was delivered again meanwhile, or is gone).
    #[cold]
    #[inline(never)]
    pub(super) fn delivery_answered(&mut self, sim: &mut Sim<Event>, req: u32) {
        let r = self.requests[req];
        let Some(&(msg, serial, delivery)) = self.queues.carried.get(req as usize) else {
            return;
        };
        if msg == NONE || !r.outcome.is_success() {
            return; // a failure: the message waits for its visibility timeout
        }
        let q = &mut self.queues;
        // The message's slot is kept while a delivery of it is alive: it is this one's.
        let m = q.messages[msg];
        debug_assert_eq!(m.serial, serial);
        let b = self.world.services[r.service as usize]
            .consumes
            .expect("a consumer")
            .broker as usize;
        if m.processed {
            q.counters[b].duplicates += 1; // processed well before: work done twice
        }
        q.messages[msg].processed = true;
        let current = m.deliveries == delivery && m.state == State::Out { req };
        if !current {
            return;
        }
        if let Some(t) = m.timer {
            sim.cancel(t);
        }
        q.partitions[m.partition as usize].held.dec();
        q.counters[b].acked += 1;
        self.retire(msg);
    }

    /// Message `msg` is done with (acknowledged, dead-lettered, lost): its slot is freed once no
    /// delivery of it is alive.
    fn retire(&mut self, msg: u32) {
        let q = &mut self.queues;
        q.messages[msg].state = State::Gone;
        q.messages[msg].timer = None;
        if q.messages[msg].alive == 0 {
            q.messages.remove(msg);
        }
    }

    /// A delivery request leaves the slab: its consumer instance has room again (its broker
    /// dispatches after the event, `flush_dispatch`).
    #[cold]
    #[inline(never)]
    pub(super) fn delivery_released(&mut self, req: u32) {
        let q = &mut self.queues;
        let (msg, ..) = q.carried[req as usize];
        q.carried[req as usize] = (NONE, 0, 0);
        let c = self.requests[req].instance;
        q.taken[c as usize].dec();
        q.dirty = true;
        let m = &mut q.messages[msg];
        m.alive.dec();
        if m.alive == 0 && m.state == State::Gone {
            q.messages.remove(msg);
        }
    }

    /// A delivery's message (or its answer) was lost on the way: nobody will answer it, so it
    /// is counted failed now and goes (its message waits for its visibility timeout).
    #[cold]
    #[inline(never)]
    pub(super) fn delivery_dropped(&mut self, req: u32) {
        let now = self.now_ns;
        let r = self.requests[req];
        let ws = &mut self.workloads[r.workload as usize];
        count(&mut ws.all, Outcome::Failed);
        ws.series_bad[self.bucket] += 1;
        if r.measured {
            count(&mut ws.measured, Outcome::Failed);
            ws.answers.record(false, now - r.created_ns);
        }
        self.release(req);
    }

    /// Whether request slot `req` is a consumer's delivery.
    #[inline]
    pub(super) fn is_delivery(&self, req: u32) -> bool {
        self.queues
            .carried
            .get(req as usize)
            .is_some_and(|c| c.0 != NONE)
    }

    /// A message's visibility timeout (cancelled when it is acknowledged): it is delivered
    /// again (or dead-lettered); a delivery lost on the way is counted failed now.
    pub(super) fn on_visibility(&mut self, sim: &mut Sim<Event>, msg: u32) {
        let m = self.queues.messages[msg];
        self.queues.messages[msg].timer = None;
        let State::Out { req } = m.state else {
            unreachable!("a visibility timeout of a message that is not out")
        };
        let b = self.world.instances[m.partition as usize].service_idx;
        let broker = self.world.services[b as usize].broker.expect("a broker");
        let cdef = self.world.services[broker.consumer as usize]
            .consumes
            .expect("a consumer");
        let _ = req;
        let q = &mut self.queues;
        if m.epoch != q.partitions[m.partition as usize].losses {
            // Its broker instance died without replication since it was stored: gone with it.
            q.partitions[m.partition as usize].held.dec();
            q.counters[b as usize].lost += 1;
            return self.retire(msg);
        }
        if m.deliveries >= cdef.max_deliveries {
            q.partitions[m.partition as usize].held.dec();
            q.counters[b as usize].dead_letters += 1;
            return self.retire(msg);
        }
        q.messages[msg].state = State::Ready;
        q.partitions[m.partition as usize].ready.push_back(msg);
        q.counters[b as usize].redeliveries += 1;
        self.dispatch(sim, b);
    }

    /// Broker instance `i`'s process or host is gone: without replication, its waiting
    /// messages are lost (those out with consumers may still be acknowledged).
    pub(super) fn partition_lost(&mut self, i: u32) {
        if !self.queues.any {
            return;
        }
        let s = self.world.instances[i as usize].service_idx as usize;
        let Some(def) = self.world.services[s].broker else {
            return;
        };
        if def.replicated {
            return;
        }
        let q = &mut self.queues;
        let p = &mut q.partitions[i as usize];
        let lost = p.ready.len() as u32;
        p.held -= lost;
        p.losses += 1;
        q.counters[s].lost += u64::from(lost);
        for msg in std::mem::take(&mut self.queues.partitions[i as usize].ready) {
            self.retire(msg);
        }
    }

    /// At the end of a time-series bucket: each broker's backlog and its oldest waiting
    /// message's age (the oldest at the head of a partition).
    pub(super) fn queues_tick(&mut self, sim: &mut Sim<Event>, b: usize) {
        let now = sim.now().as_ns();
        for (s, def) in self.world.services.iter().enumerate() {
            if def.broker.is_none() {
                continue;
            }
            let parts = def.first_instance..def.first_instance + def.n_instances;
            let q = &mut self.queues;
            let backlog: u64 = parts
                .clone()
                .map(|i| u64::from(q.partitions[i as usize].held))
                .sum();
            let oldest = parts
                .filter_map(|i| q.partitions[i as usize].ready.front())
                .map(|&m| now - q.messages[m].published_ns)
                .max()
                .unwrap_or(0);
            q.counters[s].series_backlog[b] = backlog;
            q.counters[s].series_oldest_ns[b] = oldest;
            self.dispatch(sim, s as u32);
        }
    }

    /// Dispatches the brokers whose consumers found room since the last event.
    #[cold]
    #[inline(never)]
    pub(super) fn flush_dispatch(&mut self, sim: &mut Sim<Event>) {
        self.queues.dirty = false;
        for b in 0..self.world.services.len() as u32 {
            if self.world.services[b as usize].broker.is_some() {
                self.dispatch(sim, b);
            }
        }
    }
}

impl Queues {
    /// Broker service `s`'s results; its ledger must balance.
    pub(super) fn result(
        &mut self,
        world: &World,
        s: usize,
        (seed, run): (u64, u64),
    ) -> crate::results::QueueResult {
        let def = &world.services[s];
        let q = self;
        let parts = def.first_instance..def.first_instance + def.n_instances;
        let ready: u64 = parts
            .clone()
            .map(|i| q.partitions[i as usize].ready.len() as u64)
            .sum();
        let held: u64 = parts
            .map(|i| u64::from(q.partitions[i as usize].held))
            .sum();
        let c = &mut q.counters[s];
        let result = crate::results::QueueResult {
            published: c.published,
            refused: c.refused,
            delivered: c.delivered,
            acked: c.acked,
            redeliveries: c.redeliveries,
            duplicates: c.duplicates,
            dead_letters: c.dead_letters,
            lost: c.lost,
            ready,
            out: held - ready,
            series_backlog: std::mem::take(&mut c.series_backlog),
            series_oldest_ns: std::mem::take(&mut c.series_oldest_ns),
        };
        assert!(
            result.balanced(),
            "message ledger of `{}` does not balance in seed {seed} run {run}: {result:?}",
            def.name
        );
        result
    }
}
