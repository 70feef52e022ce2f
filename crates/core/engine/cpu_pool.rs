//! A small pool of OS threads for the crawl's CPU work (parsing, encoding bodies), one thread
//! per worker. Unlike tokio's blocking pool, which spreads tasks over dozens of threads, the same
//! few threads do all of it, so their per-thread state stays warm in cache (each keeps one zstd
//! context; a context touched once every twenty pages cost twice the CPU per body). Work never
//! runs on a runtime thread; the queue is bounded; a panicking task fails alone.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, oneshot};

type Task = Box<dyn FnOnce() + Send>;

/// The pool's sending side; the threads end when the last clone is dropped.
#[derive(Clone)]
pub(crate) struct CpuPool {
    tasks: mpsc::Sender<Task>,
}

/// A task that did not finish: it panicked, or the pool is gone.
#[derive(Debug)]
pub(crate) struct TaskFailed;

impl CpuPool {
    /// Starts `workers` threads named `{name}-{i}`.
    pub(crate) fn new(workers: usize, name: &str) -> std::io::Result<CpuPool> {
        let workers = workers.max(1);
        let (tasks, queue) = mpsc::channel::<Task>(workers);
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..workers {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("{name}-{i}"))
                .spawn(move || loop {
                    // One worker waits on the queue at a time; the others wait for the lock.
                    let task = match queue.lock() {
                        Ok(mut queue) => queue.blocking_recv(),
                        Err(_) => None,
                    };
                    let Some(task) = task else { break };
                    task();
                })?;
        }
        Ok(CpuPool { tasks })
    }

    /// Runs `work` on the pool and waits for its result without blocking the runtime.
    pub(crate) async fn run<R: Send + 'static>(
        &self,
        work: impl FnOnce() -> R + Send + 'static,
    ) -> Result<R, TaskFailed> {
        let (done, result) = oneshot::channel();
        let task: Task = Box::new(move || {
            if let Ok(value) = catch_unwind(AssertUnwindSafe(work)) {
                let _ = done.send(value);
            }
        });
        self.tasks.send(task).await.map_err(|_| TaskFailed)?;
        result.await.map_err(|_| TaskFailed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn runs_on_named_threads_and_survives_a_panic() {
        let pool = CpuPool::new(2, "cpu-test").unwrap();
        let name = pool
            .run(|| std::thread::current().name().map(str::to_string))
            .await
            .unwrap();
        assert!(name.is_some_and(|n| n.starts_with("cpu-test-")));
        assert!(pool.run(|| panic!("boom")).await.is_err());
        let results = futures::future::join_all((0..10).map(|i| pool.run(move || i * 2))).await;
        let results: Vec<i32> = results.into_iter().map(Result::unwrap).collect();
        assert_eq!(results, (0..10).map(|i| i * 2).collect::<Vec<_>>());
    }
}
