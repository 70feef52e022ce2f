//! A precise response delay. tokio's timer works in whole milliseconds and rounds every deadline
//! up to its next tick, so `sleep(20ms)` answers after 20 to 21 ms (and later still when the
//! runtime is busy): a site configured for 20 ms of latency would really have ~20.6 ms, and a
//! crawler measured against "in flight / latency" could never reach the ideal. One thread here
//! keeps the pending deadlines in a heap and waits for the earliest with the OS's fine-grained
//! timed wait, then wakes its waiter. On Linux the thread's timer slack is set to 1 ns: the
//! default 50 µs let every wait end up to 50 µs late.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::mpsc;
use std::time::Instant;

use tokio::sync::oneshot;

/// Hands out waits that end at exact instants; the timer thread ends when the last clone is
/// dropped and every pending wait is done.
#[derive(Debug, Clone)]
pub(crate) struct PreciseDelay {
    requests: mpsc::Sender<(Instant, oneshot::Sender<()>)>,
}

impl PreciseDelay {
    /// Starts the timer thread.
    pub(crate) fn start() -> std::io::Result<PreciseDelay> {
        let (requests, incoming) = mpsc::channel();
        std::thread::Builder::new()
            .name("testsite-delay".into())
            .spawn(move || {
                precise_timer_slack();
                run(incoming)
            })?;
        Ok(PreciseDelay { requests })
    }

    /// Waits until `deadline` (at once if it has passed, or if the timer thread is gone).
    pub(crate) async fn until(&self, deadline: Instant) {
        let (wake, woken) = oneshot::channel();
        if self.requests.send((deadline, wake)).is_ok() {
            let _ = woken.await;
        }
    }
}

/// One pending wait, ordered by deadline (then arrival, so equal deadlines are FIFO).
/// Asks the kernel to end this thread's timed waits at their deadlines instead of grouping
/// wake-ups within the default 50 µs of slack.
fn precise_timer_slack() {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_TIMERSLACK takes one integer argument and only changes this thread's timer
    // slack; no memory is passed.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong);
    }
}

struct Pending {
    deadline: Instant,
    order: u64,
    wake: oneshot::Sender<()>,
}

impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        (self.deadline, self.order) == (other.deadline, other.order)
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Pending {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.deadline, self.order).cmp(&(other.deadline, other.order))
    }
}

fn run(incoming: mpsc::Receiver<(Instant, oneshot::Sender<()>)>) {
    let mut pending: BinaryHeap<Reverse<Pending>> = BinaryHeap::new();
    let mut order = 0u64;
    let mut open = true;
    while open || !pending.is_empty() {
        let now = Instant::now();
        while pending
            .peek()
            .is_some_and(|Reverse(first)| first.deadline <= now)
        {
            if let Some(Reverse(due)) = pending.pop() {
                let _ = due.wake.send(());
            }
        }
        let next = match pending.peek() {
            Some(Reverse(first)) => {
                incoming.recv_timeout(first.deadline.saturating_duration_since(now))
            }
            None if open => incoming
                .recv()
                .map_err(|_| mpsc::RecvTimeoutError::Disconnected),
            None => break,
        };
        match next {
            Ok((deadline, wake)) => {
                order += 1;
                pending.push(Reverse(Pending {
                    deadline,
                    order,
                    wake,
                }));
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => open = false,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[cfg(target_os = "linux")]
    #[test]
    fn the_timer_thread_asks_for_no_timer_slack() {
        let slack = std::thread::spawn(|| {
            precise_timer_slack();
            // SAFETY: PR_GET_TIMERSLACK takes no argument and returns this thread's slack.
            unsafe { libc::prctl(libc::PR_GET_TIMERSLACK) }
        })
        .join()
        .unwrap();
        assert_eq!(slack, 1);
    }

    #[tokio::test]
    async fn waits_end_at_their_deadlines_in_order() {
        let delay = PreciseDelay::start().unwrap();
        let start = Instant::now();
        let waits = [30u64, 10, 20].map(|ms| {
            let delay = delay.clone();
            tokio::spawn(async move {
                delay.until(start + Duration::from_millis(ms)).await;
                (ms, Instant::now())
            })
        });
        for wait in waits {
            let (ms, ended) = wait.await.unwrap();
            // Never early; the upper bound is left alone (a busy machine may be late).
            assert!(ended >= start + Duration::from_millis(ms));
        }
        // A deadline in the past ends at once.
        delay.until(start).await;
    }
}
