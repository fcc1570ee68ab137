//! Defaults of a scenario and the guards on one run.

use super::*;

pub(super) fn default_seed() -> u64 {
    1
}
pub(super) fn default_resolution() -> Dur {
    Dur(SimDuration::from_secs(1))
}

/// Guards on one run. Hitting one stops the run early and is reported, never a hang.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunLimits {
    /// Most events one run may process. Default 2,000,000,000.
    #[serde(default = "default_events_max")]
    pub events_max: u64,
    /// Most requests (at all services together) in flight at once, the calls they have out
    /// counted too (one per call, waiting for a retry or in a bulkhead included); and, apart,
    /// most messages on links with a capacity and operations at disks at once. Default
    /// 1,000,000.
    #[serde(default = "default_in_flight_max")]
    pub requests_in_flight_max: u32,
    /// Most events queued at once (timeouts and other timers included, cancelled ones until
    /// their time comes): bounds the event queue's memory, 32 bytes an entry. Default 16,000,000.
    #[serde(default = "default_events_pending_max")]
    pub events_pending_max: u64,
    /// Most time-series buckets per run (horizon / resolution). Default 100,000.
    #[serde(default = "default_series_points_max")]
    pub series_points_max: u32,
    /// Most memory one run may need, in MiB, as estimated before it starts from the scenario's
    /// size and the limits above (a sweep needs this per job, plus its aggregate). Default 4096.
    #[serde(default = "default_memory_mib_max")]
    pub memory_mib_max: u32,
    /// Most wall-clock time one run may take, checked every 65,536 events and at every
    /// time-series tick; a run over it
    /// stops early and says so (`stop: "wall_time_max"`). Default: no limit.
    #[serde(default)]
    pub wall_time_max: Option<Dur>,
}

impl Default for RunLimits {
    fn default() -> Self {
        RunLimits {
            events_max: default_events_max(),
            requests_in_flight_max: default_in_flight_max(),
            events_pending_max: default_events_pending_max(),
            series_points_max: default_series_points_max(),
            memory_mib_max: default_memory_mib_max(),
            wall_time_max: None,
        }
    }
}

pub(super) fn default_events_max() -> u64 {
    2_000_000_000
}
pub(super) fn default_in_flight_max() -> u32 {
    1_000_000
}
pub(super) fn default_events_pending_max() -> u64 {
    16_000_000
}
pub(super) fn default_series_points_max() -> u32 {
    100_000
}
pub(super) fn default_memory_mib_max() -> u32 {
    4096
}
