//! The numeric conversions the module needs, named so that each loss is visible and
//! argued once: counts become floats for rates, averages and charts; measured floats
//! (already rounded by the caller) become counts or indices.

/// Exact up to 2^53 (about 9·10^15): far above any count of requests, bytes or
/// microseconds one bounded run (24 h at most) produces, so nothing is lost in practice.
#[allow(clippy::cast_precision_loss)]
pub(crate) fn to_f64(n: u64) -> f64 {
    n as f64
}

/// A length or an index as a float (exact for the same reason as [`to_f64`]).
pub(crate) fn index_to_f64(i: usize) -> f64 {
    to_f64(u64::try_from(i).unwrap_or(u64::MAX))
}

/// Truncates toward zero, saturates at 0 and `u64::MAX`, NaN becomes 0: Rust's `as`
/// semantics, which is what every caller wants after rounding or taking `ceil`.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
pub(crate) fn saturating_u64(x: f64) -> u64 {
    x as u64
}

/// A second or an index counted in `u64` (bounded by the 24 h run limit) as a `usize`;
/// saturates on 32-bit targets instead of wrapping.
pub(crate) fn to_usize(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// Truncates toward zero, saturates at 0 and `usize::MAX`, NaN becomes 0: Rust's `as`
/// semantics, which is what every caller wants after rounding or taking `ceil`.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
pub(crate) fn saturating_usize(x: f64) -> usize {
    x as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[allow(clippy::float_cmp)] // exact: whole numbers below 2^53 convert without rounding
    #[test]
    fn conversions_saturate() {
        assert_eq!(saturating_usize(-1.5), 0);
        assert_eq!(saturating_usize(f64::NAN), 0);
        assert_eq!(saturating_usize(2.9), 2);
        assert_eq!(saturating_usize(7.0), 7);
        assert_eq!(saturating_u64(-1.5), 0);
        assert_eq!(saturating_u64(f64::NAN), 0);
        assert_eq!(saturating_u64(1e30), u64::MAX);
        assert_eq!(index_to_f64(3), 3.0);
        assert_eq!(to_usize(5), 5);
        assert_eq!(to_f64(1 << 53), 9_007_199_254_740_992.0);
    }
}
