//! The hashing floor for the benchmark: reads the file paths on stdin and BLAKE3-hashes every
//! file on every core, doing nothing else. `packer gen` cold is compared against it.

use std::io::BufRead;

fn main() {
    let paths: Vec<String> = std::io::stdin().lock().lines().map_while(Result::ok).collect();
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let chunk = paths.len().div_ceil(threads).max(1);
    let total: u64 = std::thread::scope(|s| {
        let handles: Vec<_> = paths
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    let mut bytes = 0u64;
                    for p in part {
                        let mut h = blake3::Hasher::new();
                        if let Ok(f) = std::fs::File::open(p) {
                            bytes += h.update_reader(f).map(|_| 0).unwrap_or(0);
                            bytes += std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
                        }
                        std::hint::black_box(h.finalize());
                    }
                    bytes
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or(0)).sum()
    });
    println!("{} files, {total} bytes", paths.len());
}
