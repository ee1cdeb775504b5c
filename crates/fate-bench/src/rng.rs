//! SplitMix64, bit-identical to shared/peers (rust/common and python/common.py), so a seed
//! gives every implementation — and the peer programs — the same delays.

/// The SplitMix64 generator: 64-bit state, one add and two multiply-xorshifts per value.
pub(crate) struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator whose first value is the same as the peers' for the same `seed`.
    pub(crate) fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    /// The next 64 random bits.
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1) with 53 bits, built like Python's floats.
    pub(crate) fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The values shared/peers/python/common.py prints for seed 42.
    #[test]
    fn matches_the_peers() {
        let mut r = SplitMix64::new(42);
        assert_eq!(r.next_u64(), 0xbdd7_3226_2feb_6e95);
        assert_eq!(r.next_u64(), 0x28ef_e333_b266_f103);
        assert_eq!(r.next_u64(), 0x4752_6757_130f_9f52);
        let mut r = SplitMix64::new(42);
        let want = [
            0.07415648787718233,
            0.01599103928769201,
            0.027860113025513864,
        ];
        for w in want {
            assert_eq!(r.next_f64() * 100.0 / 1000.0, w);
        }
    }
}
