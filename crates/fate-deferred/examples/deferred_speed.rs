//! Times the `fate-bench deferred` loop in-process: create a pending Deferred, add the
//! callbacks x+1, x*2, x-3, fire it with i, read the result — N times, one alive at a time.
//!
//! Run with: `cargo run --release -p fate-deferred --example deferred_speed [N]`

use std::time::Instant;

use fate_deferred::Deferred;

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    for round in 0..3 {
        let start = Instant::now();
        let mut sum: i64 = 0;
        for i in 0..n {
            let (d, fire) = Deferred::<i64>::pending();
            let d = d
                .add_callback(|x| x + 1)
                .add_callback(|x| x * 2)
                .add_callback(|x| x - 3);
            fire.try_callback(i as i64).ok();
            if let Ok(Ok(v)) = d.try_result() {
                sum = sum.wrapping_add(v);
            }
        }
        let secs = start.elapsed().as_secs_f64();
        let expected: i64 = (0..n as i64).map(|i| (i + 1) * 2 - 3).sum();
        assert_eq!(sum, expected);
        println!(
            "round {round}: n={n} {:.1} ns/iteration, {:.1} ns/callback",
            secs * 1e9 / n as f64,
            secs * 1e9 / (3 * n) as f64
        );
    }
}
