//! `parallel_map`: the one way packer spreads work over the cores (hashing, reading
//! declarations, per-input conversions, the pack's reads). A leaf: it knows nothing of assets.

thread_local! {
    /// Which of [`parallel_map`]'s threads this is: 0 for the caller (and any other thread),
    /// 1.. for its helpers. Recorded with per-input conversions in the step log.
    static WORKER: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// The [`parallel_map`] worker running on this thread (0: the calling thread).
pub fn worker() -> usize {
    WORKER.get()
}

/// Runs `f` over `items` on every available core, keeping the order; the error of the
/// earliest failing item wins, whichever thread met it. Work is handed out in small blocks
/// (the calling thread takes its share too), so a slow item or a late thread does not leave
/// a core idle at the end.
pub fn parallel_map<T: Sync, R: Send>(
    items: &[T],
    f: impl Fn(&T) -> anyhow::Result<R> + Sync,
) -> anyhow::Result<Vec<R>> {
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).min(items.len());
    if threads <= 1 {
        return items.iter().map(f).collect();
    }
    let block = (items.len() / (threads * 16)).max(1);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let work = || {
        let mut done = Vec::new();
        loop {
            let start = next.fetch_add(block, std::sync::atomic::Ordering::Relaxed);
            if start >= items.len() {
                return done;
            }
            let end = (start + block).min(items.len());
            done.push((start, items[start..end].iter().map(&f).collect::<anyhow::Result<Vec<R>>>()));
        }
    };
    let mut blocks = on_threads(threads, work)?;
    blocks.sort_unstable_by_key(|(start, _)| *start);
    let mut out = Vec::with_capacity(items.len());
    for (_, part) in blocks {
        out.extend(part?);
    }
    Ok(out)
}

/// [`parallel_map`] for work that changes each item in place (the pack's reads, each into its
/// slot of the container): the same blocks and threads; the earliest failing item's error wins.
pub fn parallel_for_each_mut<T: Send>(
    items: &mut [T],
    f: impl Fn(&mut T) -> anyhow::Result<()> + Sync,
) -> anyhow::Result<()> {
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).min(items.len());
    if threads <= 1 {
        return items.iter_mut().try_for_each(f);
    }
    let block = (items.len() / (threads * 16)).max(1);
    let next = std::sync::Mutex::new(items.chunks_mut(block).enumerate());
    let work = || {
        let mut done = Vec::new();
        loop {
            let taken = next.lock().unwrap_or_else(std::sync::PoisonError::into_inner).next();
            let Some((i, part)) = taken else { return done };
            done.push((i, part.iter_mut().try_for_each(&f)));
        }
    };
    let mut blocks = on_threads(threads, work)?;
    blocks.sort_unstable_by_key(|(i, _)| *i);
    blocks.into_iter().try_for_each(|(_, r)| r)
}

/// Runs `work` on `threads` threads (the caller's among them, as worker 0) and gathers what
/// each returned.
fn on_threads<B: Send>(threads: usize, work: impl Fn() -> Vec<B> + Sync) -> anyhow::Result<Vec<B>> {
    std::thread::scope(|s| {
        let work = &work;
        let helpers: Vec<_> = (1..threads)
            .map(|i| {
                s.spawn(move || {
                    WORKER.set(i);
                    work()
                })
            })
            .collect();
        let mut blocks = work();
        for h in helpers {
            blocks.extend(h.join().map_err(|_| anyhow::anyhow!("a worker thread panicked"))?);
        }
        Ok(blocks)
    })
}

#[cfg(test)]
mod tests {
    use super::{parallel_for_each_mut, parallel_map};

    #[test]
    fn parallel_for_each_mut_changes_every_item_and_reports_the_earliest_error() {
        let mut items: Vec<u32> = (0..1000).collect();
        parallel_for_each_mut(&mut items, |i| {
            *i *= 3;
            Ok(())
        })
        .unwrap();
        assert_eq!(items, (0..1000).map(|i| i * 3).collect::<Vec<_>>());
        for _ in 0..20 {
            let e = parallel_for_each_mut(&mut items, |i| match *i {
                30 | 2700 => anyhow::bail!("item {i}"),
                _ => Ok(()),
            })
            .unwrap_err();
            assert_eq!(e.to_string(), "item 30");
        }
        parallel_for_each_mut(&mut [] as &mut [u32], |_| Ok(())).unwrap();
    }

    #[test]
    fn parallel_map_keeps_order_and_uses_every_core() {
        let items: Vec<u32> = (0..64).collect();
        let out = parallel_map(&items, |i| {
            std::thread::sleep(std::time::Duration::from_millis(2));
            Ok((*i * 2, std::thread::current().id()))
        })
        .unwrap();
        assert_eq!(out.iter().map(|(v, _)| *v).collect::<Vec<_>>(), (0..64).map(|i| i * 2).collect::<Vec<_>>());
        let mut threads: Vec<_> = out.iter().map(|(_, t)| format!("{t:?}")).collect();
        threads.sort();
        threads.dedup();
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        assert_eq!(threads.len(), cores.min(64), "one worker per core (a large bank decodes on every core)");
        assert!(parallel_map(&items, |i| if *i == 40 { anyhow::bail!("no") } else { Ok(*i) }).is_err());
    }

    #[test]
    fn the_earliest_failing_item_decides_the_error() {
        let items: Vec<u32> = (0..1000).collect();
        for _ in 0..20 {
            let e = parallel_map(&items, |i| match i {
                10 | 900 => anyhow::bail!("item {i}"),
                _ => Ok(*i),
            })
            .unwrap_err();
            assert_eq!(e.to_string(), "item 10");
        }
        assert!(parallel_map(&[] as &[u32], |i| Ok(*i)).unwrap().is_empty());
        assert_eq!(parallel_map(&[7u32], |i| Ok(*i + 1)).unwrap(), vec![8]);
    }
}
