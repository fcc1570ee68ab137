//! The run digest: a 64-bit hash folded over every processed event.
//!
//! Each event contributes its time, a kind code and an entity number chosen by the model. Equal
//! digests across two runs are the evidence that they processed the same events at the same times
//! in the same order: the proof of replay.

use crate::rng::splitmix64;

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Digest(u64);

impl Default for Digest {
    fn default() -> Self {
        Digest(0x6661_756c_746c_696e) // "faultlin"
    }
}

impl Digest {
    #[inline]
    pub fn fold(&mut self, time_ns: u64, kind: u32, entity: u64) {
        let h = self.0.rotate_left(5) ^ time_ns;
        let h = splitmix64(h) ^ (u64::from(kind) << 56) ^ entity;
        self.0 = splitmix64(h);
    }

    pub fn value(&self) -> u64 {
        self.0
    }

    /// Sixteen lowercase hex digits.
    pub fn hex(&self) -> String {
        format!("{:016x}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_matters() {
        let mut a = Digest::default();
        a.fold(1, 1, 1);
        a.fold(2, 1, 2);
        let mut b = Digest::default();
        b.fold(2, 1, 2);
        b.fold(1, 1, 1);
        assert_ne!(a, b);
        let mut c = Digest::default();
        c.fold(1, 1, 1);
        c.fold(2, 1, 2);
        assert_eq!(a, c);
        assert_eq!(a.hex().len(), 16);
    }
}
