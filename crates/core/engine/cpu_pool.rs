//! Dedicated OS threads for the pipeline's CPU and disk stages (parsing and encoding bodies;
//! committing). Each thread takes items straight from the stage's bounded input channel and sends
//! its results straight on, so a page crosses from thread to thread once per stage instead of
//! through a runtime task and a reply channel both ways. The same few threads do all of a stage's
//! work, so their per-thread state stays warm in cache (each parse thread keeps one zstd context;
//! a context touched once every twenty pages cost twice the CPU per body). Work never runs on a
//! runtime thread.

use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use tokio::sync::mpsc;

/// Starts `workers` threads named `{name}-{i}`, each running `work` on items from `input` until it
/// closes. `work` is handed each item by value; whatever it must send on, it sends itself.
pub(crate) fn spawn_workers<T, W>(
    name: &str,
    workers: usize,
    input: mpsc::Receiver<T>,
    work: W,
) -> std::io::Result<Vec<JoinHandle<()>>>
where
    T: Send + 'static,
    W: Fn(T) + Clone + Send + 'static,
{
    let input = Arc::new(Mutex::new(input));
    (0..workers.max(1))
        .map(|i| {
            let input = input.clone();
            let work = work.clone();
            std::thread::Builder::new()
                .name(format!("{name}-{i}"))
                .spawn(move || loop {
                    // One worker waits on the channel at a time; the others wait for the lock.
                    let item = match input.lock() {
                        Ok(mut input) => input.blocking_recv(),
                        Err(_) => None,
                    };
                    let Some(item) = item else { break };
                    work(item);
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_item_is_worked_on_named_threads_until_the_input_closes() {
        let (items, input) = mpsc::channel(4);
        let (results, mut output) = mpsc::channel(64);
        let threads = spawn_workers("stage-test", 3, input, move |i: u32| {
            let name = std::thread::current().name().map(str::to_string);
            results.blocking_send((i, name)).unwrap();
        })
        .unwrap();
        assert_eq!(threads.len(), 3);
        for i in 0..20 {
            items.blocking_send(i).unwrap();
        }
        drop(items);
        for thread in threads {
            thread.join().unwrap();
        }
        let mut seen = Vec::new();
        while let Ok((i, name)) = output.try_recv() {
            assert!(name.is_some_and(|n| n.starts_with("stage-test-")));
            seen.push(i);
        }
        seen.sort_unstable();
        assert_eq!(seen, (0..20).collect::<Vec<_>>());
    }
}
