//! Times a command the way Ninja runs one: spawned directly (no shell, no pipes to read),
//! waited for, `runs` times in a row. Prints the median wall time of one run in seconds.
//! The benchmark compares `packer step` with nothing to do against `/bin/true` with it, so
//! that the interpreter driving the benchmark adds nothing to either.
//!
//!     spawn_time RUNS COMMAND [ARGS…]

use std::process::{Command, Stdio};
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(runs), Some(cmd)) = (args.first().and_then(|n| n.parse::<usize>().ok()), args.get(1)) else {
        eprintln!("usage: spawn_time RUNS COMMAND [ARGS…]");
        std::process::exit(2);
    };
    let mut times: Vec<f64> = (0..runs.max(1))
        .map(|_| {
            let t = Instant::now();
            let status = Command::new(cmd).args(&args[2..]).stdout(Stdio::null()).stderr(Stdio::null()).status();
            if !status.is_ok_and(|s| s.success()) {
                eprintln!("spawn_time: {cmd} failed");
                std::process::exit(1);
            }
            t.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    println!("{}", times[times.len() / 2]);
}
