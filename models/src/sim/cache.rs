//! Keys and caches: the key each request asks for, and the cache each instance of a cache
//! service holds in front of one of its calls (`ServiceDef::cache`).
//!
//! ```text
//!  advance: a step with the fronted call ─▶ lookup(key)
//!     fresh ─▶ hit: the call is skipped            (early expiry may make it a refresh)
//!     absent or expired ─▶ a fetch out for it? (coalesce) ─▶ follower: waits for that fetch
//!                                              otherwise ─▶ leader: makes the call
//!  call_done of the fronted call ─▶ fetched: the leader fills (if answered and not doomed),
//!     and its followers take its outcome as their own
//!  lose_instance ─▶ the instance's cache is emptied (a new process starts cold)
//! ```
//!
//! The part owns `Caches`: the entries of each cache instance (an LRU of bounded capacity), the
//! fetches out, the counters of each cache service, and the key draws (`workload:<name>/keys`,
//! `edge:<from>-><to>/keys`; `svc:<name>/ttl-jitter` and `/early-expiry`). The entries
//! are found through hash maps that are looked up and cleared, never iterated, so their order
//! never reaches a result.

use super::*;
use std::hash::{BuildHasherDefault, Hasher};

/// What a request is to its service's cache.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub(super) enum Role {
    /// Not looked up (no cache, no key, or not at the fronted call yet).
    #[default]
    None,
    /// Found fresh: the fronted call is skipped.
    Hit,
    /// Made the fronted call; fills the cache when it answers.
    Leader,
    /// Waits for another request's fetch of the same key (coalescing).
    Follower,
}

/// A hasher for `u32` keys (a multiplicative mix): the maps are never iterated, so only speed
/// matters, and it is the same in every run.
#[derive(Default)]
pub(super) struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }
    fn write_u32(&mut self, k: u32) {
        self.0 = (u64::from(k) ^ self.0).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        self.0 ^= self.0 >> 29;
    }
}

/// A map from `u32` to `V` that can be looked up, changed and emptied but never iterated: the
/// one hash map of the model (a cache of a million keys needs O(1) lookups), wrapped so that
/// its order cannot reach a result.
#[derive(Debug)]
pub(super) struct KeyMap<V> {
    // The wrapper's methods are the only use, and none of them iterates.
    #[allow(clippy::disallowed_types)]
    map: std::collections::HashMap<u32, V, BuildHasherDefault<KeyHasher>>,
}

impl<V> Default for KeyMap<V> {
    fn default() -> Self {
        KeyMap {
            map: Default::default(),
        }
    }
}

impl<V> KeyMap<V> {
    pub(super) fn get(&self, k: &u32) -> Option<&V> {
        self.map.get(k)
    }
    pub(super) fn get_mut(&mut self, k: &u32) -> Option<&mut V> {
        self.map.get_mut(k)
    }
    pub(super) fn contains_key(&self, k: &u32) -> bool {
        self.map.contains_key(k)
    }
    pub(super) fn insert(&mut self, k: u32, v: V) -> Option<V> {
        self.map.insert(k, v)
    }
    pub(super) fn remove(&mut self, k: &u32) -> Option<V> {
        self.map.remove(k)
    }
    pub(super) fn clear(&mut self) {
        self.map.clear();
    }
    pub(super) fn len(&self) -> usize {
        self.map.len()
    }
}

/// One entry of an LRU: a key, when it expires, how long its fetch took, and its neighbours
/// in recency order (slots of `Lru::entries`).
#[derive(Copy, Clone, Debug)]
struct Entry {
    key: u32,
    expires_ns: u64,
    fetch_ns: u64,
    newer: u32,
    older: u32,
}

/// A least-recently-used cache of at most `capacity` keys: a map from key to slot, and the
/// slots in a doubly linked list from the most recently used (`head`) to the least (`tail`).
/// Entries are allocated as it fills; emptying keeps them for reuse.
#[derive(Debug)]
pub(super) struct Lru {
    capacity: u32,
    slots: KeyMap<u32>,
    entries: Vec<Entry>,
    /// Slots of removed entries, reused before new ones.
    free: Vec<u32>,
    head: u32,
    tail: u32,
}

/// What a lookup found.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(super) enum Found {
    /// A fresh entry (made the most recently used): its expiry and its fetch's duration.
    Fresh {
        expires_ns: u64,
        fetch_ns: u64,
    },
    /// An entry that had expired (now removed).
    Expired,
    Absent,
}

impl Lru {
    pub(super) fn new(capacity: u32) -> Lru {
        Lru {
            capacity,
            slots: KeyMap::default(),
            entries: Vec::new(),
            free: Vec::new(),
            head: NONE,
            tail: NONE,
        }
    }

    pub(super) fn len(&self) -> usize {
        self.slots.len()
    }

    /// Looks `key` up at `now_ns`.
    pub(super) fn get(&mut self, key: u32, now_ns: u64) -> Found {
        let Some(&slot) = self.slots.get(&key) else {
            return Found::Absent;
        };
        let e = self.entries[slot as usize];
        if now_ns >= e.expires_ns {
            self.remove(key);
            return Found::Expired;
        }
        self.unlink(slot);
        self.push_front(slot);
        Found::Fresh {
            expires_ns: e.expires_ns,
            fetch_ns: e.fetch_ns,
        }
    }

    /// Puts `key` in as the most recently used; returns whether a key was evicted for it.
    pub(super) fn put(&mut self, key: u32, expires_ns: u64, fetch_ns: u64) -> bool {
        if let Some(&slot) = self.slots.get(&key) {
            let e = &mut self.entries[slot as usize];
            e.expires_ns = expires_ns;
            e.fetch_ns = fetch_ns;
            self.unlink(slot);
            self.push_front(slot);
            return false;
        }
        let evicted = self.slots.len() as u32 >= self.capacity;
        if evicted {
            let victim = self.entries[self.tail as usize].key;
            self.remove(victim);
        }
        let entry = Entry {
            key,
            expires_ns,
            fetch_ns,
            newer: NONE,
            older: NONE,
        };
        let slot = match self.free.pop() {
            Some(s) => {
                self.entries[s as usize] = entry;
                s
            }
            None => {
                self.entries.push(entry);
                self.entries.len() as u32 - 1
            }
        };
        self.slots.insert(key, slot);
        self.push_front(slot);
        evicted
    }

    /// Forgets everything (a new process).
    pub(super) fn clear(&mut self) {
        self.slots.clear();
        self.entries.clear();
        self.free.clear();
        self.head = NONE;
        self.tail = NONE;
    }

    fn remove(&mut self, key: u32) {
        if let Some(slot) = self.slots.remove(&key) {
            self.unlink(slot);
            self.free.push(slot);
        }
    }

    fn unlink(&mut self, slot: u32) {
        let Entry { newer, older, .. } = self.entries[slot as usize];
        match newer {
            NONE => self.head = older,
            n => self.entries[n as usize].older = older,
        }
        match older {
            NONE => self.tail = newer,
            o => self.entries[o as usize].newer = newer,
        }
    }

    fn push_front(&mut self, slot: u32) {
        let old_head = self.head;
        let e = &mut self.entries[slot as usize];
        e.newer = NONE;
        e.older = old_head;
        match old_head {
            NONE => self.tail = slot,
            h => self.entries[h as usize].newer = slot,
        }
        self.head = slot;
    }
}

/// A fetch out at a cache instance: when its leader started it, and who waits for it.
#[derive(Debug)]
struct Flight {
    started_ns: u64,
    followers: Vec<u32>,
}

/// One cache instance: its entries, the fetches out by key (with `coalesce`), and with
/// `SecondMiss` admission, the doorkeeper: the keys missed once recently.
#[derive(Debug)]
struct CacheInstance {
    lru: Lru,
    fetching: KeyMap<u32>,
    doorkeeper: Option<Lru>,
}

/// What one cache service counts. Totals are of the measured window; the series of the whole
/// run, by time-series bucket.
#[derive(Clone, Debug, Default)]
pub(super) struct CacheCounters {
    pub(super) lookups: u64,
    pub(super) hits: u64,
    pub(super) misses: u64,
    pub(super) coalesced: u64,
    pub(super) expired: u64,
    pub(super) early_refreshes: u64,
    pub(super) fills: u64,
    pub(super) evictions: u64,
    pub(super) series_lookups: Vec<u64>,
    pub(super) series_hits: Vec<u64>,
}

/// The state of this part (`ServiceModel::caches`).
pub(super) struct Caches {
    /// By instance: its slot in `instances`, `NONE` for an instance of a service without a cache.
    slot_of: Vec<u32>,
    instances: Vec<CacheInstance>,
    /// Fetches out, by their leader request.
    flights: KeyMap<Flight>,
    /// By service (empty counters for services without a cache).
    pub(super) counters: Vec<CacheCounters>,
    /// By service with a cache: its TTL jitter draws (`svc:<name>/ttl-jitter`) and its early
    /// expiry draws (`svc:<name>/early-expiry`), apart so that one never shifts the other.
    rngs: Vec<Option<(Stream, Stream)>>,
    /// Key draws by workload (`workload:<name>/keys`) and by call edge
    /// (`edge:<from>-><to>/keys`), where keys are drawn.
    workload_keys: Vec<Option<Stream>>,
    edge_keys: Vec<Option<Stream>>,
}

impl Caches {
    pub(super) fn new(world: &World, rngs: &RngFactory, n_buckets: usize) -> Caches {
        let mut slot_of = vec![NONE; world.instances.len()];
        let mut instances = Vec::new();
        for def in &world.services {
            let Some(c) = def.cache else { continue };
            for i in def.first_instance..def.first_instance + def.n_instances {
                slot_of[i as usize] = instances.len() as u32;
                instances.push(CacheInstance {
                    lru: Lru::new(c.capacity),
                    fetching: KeyMap::default(),
                    doorkeeper: c.second_miss.then(|| Lru::new(c.capacity)),
                });
            }
        }
        let counters = (world.services.iter())
            .map(|s| CacheCounters {
                series_lookups: if s.cache.is_some() {
                    vec![0; n_buckets]
                } else {
                    Vec::new()
                },
                series_hits: if s.cache.is_some() {
                    vec![0; n_buckets]
                } else {
                    Vec::new()
                },
                ..CacheCounters::default()
            })
            .collect();
        Caches {
            slot_of,
            instances,
            flights: KeyMap::default(),
            counters,
            rngs: (world.services.iter())
                .map(|s| {
                    let name = format!("svc:{}", s.name);
                    (s.cache.is_some()).then(|| {
                        (
                            rngs.stream(&name, "ttl-jitter"),
                            rngs.stream(&name, "early-expiry"),
                        )
                    })
                })
                .collect(),
            workload_keys: (world.workloads.iter())
                .map(|w| {
                    w.keys
                        .map(|_| rngs.stream(&format!("workload:{}", w.name), "keys"))
                })
                .collect(),
            edge_keys: (world.calls.iter())
                .map(|c| {
                    c.keys.map(|_| {
                        let (from, to) = (
                            &world.services[c.from as usize].name,
                            &world.services[c.to as usize].name,
                        );
                        rngs.stream(&format!("edge:{from}->{to}"), "keys")
                    })
                })
                .collect(),
        }
    }
}

/// Whether a fetched `key` enters the instance's cache: always, or with a doorkeeper, when it
/// remembers an earlier miss of the key (else it remembers this one).
fn admitted(inst: &mut CacheInstance, key: u32) -> bool {
    let Some(door) = &mut inst.doorkeeper else {
        return true;
    };
    if matches!(door.get(key, 0), Found::Fresh { .. }) {
        return true;
    }
    door.put(key, u64::MAX, 0);
    false
}

/// Jump consistent hashing (Lamping and Veach, 2014): the bucket in `0..n` of `key`; when `n`
/// grows by one, only a `1/(n+1)` share of the keys move.
pub(super) fn jump_hash(mut key: u64, n: u32) -> u32 {
    let (mut b, mut j) = (-1i64, 0i64);
    while j < i64::from(n) {
        b = j;
        key = key.wrapping_mul(2_862_933_555_777_941_757).wrapping_add(1);
        j = ((b + 1) as f64 * ((1u64 << 31) as f64 / ((key >> 33) + 1) as f64)) as i64;
    }
    b as u32
}

impl ServiceModel<'_> {
    /// The key a workload's new request asks for (`NONE`: its workload draws none).
    #[inline]
    pub(super) fn draw_workload_key(&mut self, w: u32) -> u32 {
        match (
            &self.world.workloads[w as usize].keys,
            &mut self.caches.workload_keys[w as usize],
        ) {
            (Some(k), Some(rng)) => k.sample(rng),
            _ => NONE,
        }
    }

    /// The key a new call on `edge` asks for: its own draw, or its parent's key.
    #[inline]
    pub(super) fn draw_call_key(&mut self, edge: u32, parent_key: u32) -> u32 {
        // The edge's definition first: a call without keys never touches the stream (a cache
        // miss per call in a world of many edges).
        let Some(k) = &self.world.calls[edge as usize].keys else {
            return parent_key;
        };
        match &mut self.caches.edge_keys[edge as usize] {
            Some(rng) => k.sample(rng),
            None => parent_key,
        }
    }

    /// The instance of service `s` (among `first .. first + n`) that a key-hashed request for
    /// `key` goes to: its home instance while that is in rotation, else the next of its hash
    /// sequence that is; `None` when none of the first 16 is.
    pub(super) fn pick_by_key(&self, first: u32, n: u32, key: u32) -> Option<u32> {
        (0..16u64).find_map(|k| {
            let i = first + jump_hash(u64::from(key) | (k << 32), n);
            self.in_rotation(i).then_some(i)
        })
    }

    /// At the step of a cache service's request that makes the fronted call: looks the
    /// request's key up and decides its role. Returns whether the fronted call is skipped (a
    /// hit, or a follower) and whether the request waits for another's fetch (then its step is
    /// not over before that fetch answers).
    #[cold]
    #[inline(never)]
    pub(super) fn cache_lookup(&mut self, req: u32, now: u64) -> (bool, bool) {
        let r = self.requests[req];
        let s = r.service as usize;
        let slot = self.caches.slot_of[r.instance as usize];
        if r.key == NONE || slot == NONE {
            return (false, false);
        }
        let c = &mut self.caches.counters[s];
        c.series_lookups[self.bucket] += 1;
        if r.measured {
            c.lookups += 1;
        }
        let found = self.caches.instances[slot as usize].lru.get(r.key, now);
        let role = self.role_of(&r, found, slot, now);
        self.take_role(req, slot, role, now);
        (
            matches!(role, Role::Hit | Role::Follower),
            role == Role::Follower,
        )
    }

    /// What request `r` is to its cache, having `found` its key: a hit, unless early expiry
    /// (XFetch) makes it refresh a fresh entry; a miss is the leader of a fetch, or, coalesced,
    /// a follower of the one out.
    fn role_of(&mut self, r: &Request, found: Found, slot: u32, now: u64) -> Role {
        let s = r.service as usize;
        let def = self.world.services[s].cache.expect("a cache service");
        let cs = &mut self.caches;
        let fetching = def.coalesce && cs.instances[slot as usize].fetching.contains_key(&r.key);
        let c = &mut cs.counters[s];
        match found {
            Found::Fresh {
                expires_ns,
                fetch_ns,
            } => {
                let early = def.early_expiry.is_some_and(|beta| {
                    let u: f64 = cs.rngs[s]
                        .as_mut()
                        .expect("a cache's stream")
                        .1
                        .random::<f64>();
                    // XFetch: refresh when now − δ·β·ln(u) ≥ expiry.
                    !fetching
                        && now as f64 - fetch_ns as f64 * beta * (1.0 - u).ln() >= expires_ns as f64
                });
                if early && r.measured {
                    c.early_refreshes += 1;
                }
                if early {
                    Role::Leader
                } else {
                    Role::Hit
                }
            }
            Found::Expired | Found::Absent => {
                if r.measured {
                    c.misses += 1;
                    c.expired += u64::from(found == Found::Expired);
                    c.coalesced += u64::from(fetching);
                }
                if fetching {
                    Role::Follower
                } else {
                    Role::Leader
                }
            }
        }
    }

    /// Request `req` takes `role` at cache instance `slot`: a hit is counted, a follower joins
    /// the fetch out for its key, a leader starts one.
    fn take_role(&mut self, req: u32, slot: u32, role: Role, now: u64) {
        let r = self.requests[req];
        let s = r.service as usize;
        let coalesce = self.world.services[s].cache.is_some_and(|c| c.coalesce);
        let cs = &mut self.caches;
        let inst = &mut cs.instances[slot as usize];
        match role {
            Role::Hit => {
                cs.counters[s].series_hits[self.bucket] += 1;
                if r.measured {
                    cs.counters[s].hits += 1;
                }
            }
            Role::Follower => {
                let leader = *inst.fetching.get(&r.key).expect("a fetch out");
                let flight = cs.flights.get_mut(&leader).expect("a fetch out");
                flight.followers.push(req);
            }
            Role::Leader => {
                if coalesce {
                    inst.fetching.insert(r.key, req);
                }
                let flight = Flight {
                    started_ns: now,
                    followers: Vec::new(),
                };
                cs.flights.insert(req, flight);
            }
            Role::None => {}
        }
        self.requests[req].cache = role;
    }

    /// The fronted call of `parent` is over with `outcome`: a leader fills its instance's cache
    /// (when answered, and when its process still lives) and hands the outcome to its followers.
    #[cold]
    #[inline(never)]
    pub(super) fn cache_fetched(&mut self, sim: &mut Sim<Event>, parent: u32, outcome: Outcome) {
        let r = self.requests[parent];
        if r.cache != Role::Leader {
            return;
        }
        let now = sim.now().as_ns();
        let s = r.service as usize;
        let def = self.world.services[s].cache.expect("a cache service");
        let flight = self
            .caches
            .flights
            .remove(&parent)
            .expect("a leader's fetch");
        let slot = self.caches.slot_of[r.instance as usize] as usize;
        let cs = &mut self.caches;
        let inst = &mut cs.instances[slot];
        if inst.fetching.get(&r.key) == Some(&parent) {
            inst.fetching.remove(&r.key);
        }
        if outcome == Outcome::Completed && !r.doomed && admitted(inst, r.key) {
            let mut ttl = def.ttl_ns;
            if ttl != u64::MAX && def.ttl_jitter > 0.0 {
                let u: f64 = cs.rngs[s]
                    .as_mut()
                    .expect("a cache's stream")
                    .0
                    .random::<f64>();
                ttl = (ttl as f64 * (1.0 - def.ttl_jitter * u)).round() as u64;
            }
            let evicted = inst
                .lru
                .put(r.key, now.saturating_add(ttl), now - flight.started_ns);
            let c = &mut cs.counters[s];
            if r.measured {
                c.fills += 1;
                c.evictions += u64::from(evicted);
            }
        }
        for f in flight.followers {
            self.call_answered(sim, f, outcome);
        }
    }

    /// Instance `i`'s process is gone: its cache starts again empty. Fetches out stay out and
    /// still answer their followers, but fill nothing (their leaders are doomed).
    pub(super) fn cache_lost(&mut self, i: u32) {
        let slot = self.caches.slot_of[i as usize];
        if slot != NONE {
            let inst = &mut self.caches.instances[slot as usize];
            inst.lru.clear();
            inst.fetching.clear();
            if let Some(d) = &mut inst.doorkeeper {
                d.clear();
            }
        }
    }
}

impl Caches {
    /// Service `s`'s results (its series are taken).
    pub(super) fn result(&mut self, world: &World, s: usize) -> crate::results::CacheResult {
        let def = &world.services[s];
        let keys_held = (def.first_instance..def.first_instance + def.n_instances)
            .map(|i| self.slot_of[i as usize])
            .filter(|&slot| slot != NONE)
            .map(|slot| self.instances[slot as usize].lru.len() as u64)
            .sum();
        let c = &mut self.counters[s];
        crate::results::CacheResult {
            lookups: c.lookups,
            hits: c.hits,
            misses: c.misses,
            coalesced: c.coalesced,
            expired: c.expired,
            early_refreshes: c.early_refreshes,
            fills: c.fills,
            evictions: c.evictions,
            keys_held,
            series_lookups: std::mem::take(&mut c.series_lookups),
            series_hits: std::mem::take(&mut c.series_hits),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lru_evicts_the_least_recently_used() {
        let mut lru = Lru::new(2);
        assert!(!lru.put(1, u64::MAX, 0));
        assert!(!lru.put(2, u64::MAX, 0));
        assert!(matches!(lru.get(1, 0), Found::Fresh { .. })); // 1 is now the most recent
        assert!(lru.put(3, u64::MAX, 0)); // evicts 2
        assert_eq!(lru.get(2, 0), Found::Absent);
        assert!(matches!(lru.get(1, 0), Found::Fresh { .. }));
        assert!(matches!(lru.get(3, 0), Found::Fresh { .. }));
        assert_eq!(lru.len(), 2);
    }

    #[test]
    fn lru_expires_and_refills() {
        let mut lru = Lru::new(4);
        lru.put(7, 100, 5);
        assert_eq!(
            lru.get(7, 99),
            Found::Fresh {
                expires_ns: 100,
                fetch_ns: 5
            }
        );
        assert_eq!(lru.get(7, 100), Found::Expired);
        assert_eq!(lru.get(7, 100), Found::Absent);
        assert_eq!(lru.len(), 0);
        lru.put(7, 300, 1);
        assert!(!lru.put(7, 400, 2)); // a refill updates in place
        assert_eq!(lru.len(), 1);
        lru.clear();
        assert_eq!(lru.get(7, 0), Found::Absent);
    }

    /// Against a plain list kept in recency order, over random operations.
    #[test]
    fn lru_agrees_with_a_list() {
        use rand::{RngExt, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let mut lru = Lru::new(5);
        let mut list: Vec<u32> = Vec::new(); // most recent first
        for _ in 0..20_000 {
            let key = rng.random_range(0..12u32);
            if rng.random_bool(0.5) {
                let hit = matches!(lru.get(key, 0), Found::Fresh { .. });
                let pos = list.iter().position(|&k| k == key);
                assert_eq!(hit, pos.is_some());
                if let Some(p) = pos {
                    list.remove(p);
                    list.insert(0, key);
                }
            } else {
                let evicted = lru.put(key, u64::MAX, 0);
                let pos = list.iter().position(|&k| k == key);
                match pos {
                    Some(p) => {
                        list.remove(p);
                        assert!(!evicted);
                    }
                    None => {
                        assert_eq!(evicted, list.len() == 5);
                        if list.len() == 5 {
                            list.pop();
                        }
                    }
                }
                list.insert(0, key);
            }
            assert_eq!(lru.len(), list.len());
        }
    }

    #[test]
    fn jump_hash_is_balanced_and_moves_few_keys() {
        let n = 10;
        let mut counts = [0u32; 11];
        let mut moved = 0;
        for key in 0..100_000u64 {
            let b = jump_hash(key, n);
            counts[b as usize] += 1;
            let b11 = jump_hash(key, n + 1);
            if b11 != b {
                assert_eq!(b11, n, "a key moves only to the new bucket");
                moved += 1;
            }
        }
        for &c in &counts[..10] {
            assert!((9_500..10_500).contains(&c), "{counts:?}");
        }
        // A share 1/11 of the keys moves: 9,091 expected.
        assert!((8_700..9_500).contains(&moved), "{moved}");
    }
}
