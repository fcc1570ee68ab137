//! Operator actions: what the people on call do, at set times, to mitigate (not to break).

use super::*;

/// An operator's action at `at`: `(at: "7m", do: AddCapacity(service: "api", instances: 4))`.
/// Actions are mitigations, not faults: timelines and postmortems show them among the actions
/// taken during an incident (kind `action` in the run's log and the JSON-lines event log), never
/// as an incident of their own. Every variant takes the same actions at the same times.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionSpec {
    /// What reports call the action. Default: a label made from what it does (`add 4 instances
    /// to api`, `restart api one by one`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// When the action is taken.
    pub at: Dur,
    /// What is done.
    #[serde(rename = "do")]
    pub what: ActionKind,
}

/// What an operator does.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub enum ActionKind {
    /// Switches a feature off for the rest of the run: the calls `from` makes to `to` are no
    /// longer made (as the `FeatureOff` fault, which switches it off for a while). A feature is
    /// a call edge: the work behind one call, such as recommendations on a product page.
    FeatureOff { from: String, to: String },
    /// Starts `instances` more instances of the service, which take load `delay` after the
    /// action (cold, if the service has `cold_start`), placed as its placement says after its
    /// own. Not for a datastore or a service with tier groups.
    AddCapacity {
        service: String,
        instances: u32,
        /// Default 0.
        #[serde(default)]
        delay: Dur,
    },
    /// Moves a `share` of the users of every workload whose `region` is `from` to the entry
    /// instances in region `to`, as a weight change in DNS or a global load balancer does (the
    /// users pay the cross-region latency; the services' own calls stay in the region the
    /// request entered). The entry service must run in both regions.
    ShiftTraffic {
        from: String,
        to: String,
        share: f64,
    },
    /// Stops admitting: from then on the service's instances refuse every request that arrives
    /// (counted rejected); the requests they hold, queued or in progress, finish (a drain). For
    /// the rest of the run.
    Pause { service: String },
    /// Restarts every instance of the service: each process stops (what it holds fails, as in
    /// a crash), is down for `takes`, and starts again fresh (no leak, an empty cache, cold if
    /// the service has `cold_start`). All at once, or with `every`, one instance after the
    /// other that far apart (a rolling restart).
    Restart {
        service: String,
        /// Default: all at once.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        every: Option<Dur>,
        /// How long each process is down. Default `"10s"`.
        #[serde(default = "ten_s")]
        takes: Dur,
    },
}
