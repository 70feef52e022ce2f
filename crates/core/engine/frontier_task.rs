//! The frontier task: owns the [`Frontier`], hands jobs to the fetch stage only when the job
//! channel has a free slot, applies the persist stage's commands, and pages per-host queues in from
//! the store. It decides when the crawl is done: nothing queued and nothing in flight.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use trawl_frontier::{Frontier, Job, Pop, RefillRequest};
use trawl_store::{QueuedUrl, Store, StoreError};
use url::Url;

use super::messages::{Dispatch, FrontierCmd};
use super::report::LiveStats;
use crate::Error;

/// How the frontier task ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FrontierEnd {
    /// Nothing left to do.
    Finished,
    /// Cancelled; in-flight work drained (or abandoned after the grace period).
    Interrupted,
}

type RefillResult = (RefillRequest, Result<Vec<QueuedUrl>, StoreError>);

pub(crate) struct FrontierTask {
    pub(crate) frontier: Frontier,
    pub(crate) store: Store,
    pub(crate) jobs: mpsc::Sender<Dispatch>,
    pub(crate) commands: mpsc::Receiver<FrontierCmd>,
    pub(crate) cancel: CancellationToken,
    pub(crate) abandon: CancellationToken,
    pub(crate) live: Arc<LiveStats>,
}

/// Turns a queue entry from the store into a job.
pub(crate) fn job_from_queued(entry: QueuedUrl) -> Option<Job> {
    let url = Url::parse(&entry.url).ok()?;
    Some(Job {
        seq: entry.seq,
        url,
        host_key: entry.host_key,
        depth: entry.depth,
        redirect_hops: entry.redirect_hops,
        attempts: entry.attempts,
        not_before: None,
    })
}

impl FrontierTask {
    pub(crate) async fn run(mut self) -> Result<FrontierEnd, Error> {
        let mut refills: JoinSet<RefillResult> = JoinSet::new();
        let mut permit: Option<mpsc::OwnedPermit<Dispatch>> = None;
        let mut stopping = false;
        loop {
            while let Some(request) = self.frontier.take_refill_request() {
                let store = self.store.clone();
                refills.spawn_blocking(move || {
                    let result =
                        store.queued_for_host(&request.host_key, request.after, request.limit);
                    (request, result)
                });
            }
            self.publish();
            if refills.is_empty() && self.frontier.is_done() {
                return Ok(FrontierEnd::Finished);
            }
            if stopping && self.frontier.unfinished() == 0 {
                return Ok(FrontierEnd::Interrupted);
            }
            if permit.is_none() && !stopping {
                tokio::select! {
                    reserved = self.jobs.clone().reserve_owned() => match reserved {
                        Ok(p) => permit = Some(p),
                        Err(_) => return Err(Error::Pipeline("fetch stage stopped early".into())),
                    },
                    cmd = self.commands.recv() => self.apply(cmd)?,
                    Some(done) = refills.join_next() => self.refilled(done)?,
                    _ = self.cancel.cancelled() => stopping = true,
                    _ = self.abandon.cancelled() => return Ok(FrontierEnd::Interrupted),
                }
                continue;
            }
            let wait_until = if stopping {
                None
            } else {
                match self.frontier.pop(Instant::now()) {
                    Pop::Ready(job) => {
                        self.dispatch(&mut permit, job, false);
                        continue;
                    }
                    Pop::GiveUp(job) => {
                        self.dispatch(&mut permit, job, true);
                        continue;
                    }
                    Pop::NotBefore(at) => Some(at),
                    Pop::Empty => None,
                }
            };
            let sleep = async {
                match wait_until {
                    Some(at) => tokio::time::sleep_until(at.into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = sleep => {}
                cmd = self.commands.recv() => self.apply(cmd)?,
                Some(done) = refills.join_next() => self.refilled(done)?,
                _ = self.cancel.cancelled(), if !stopping => {
                    stopping = true;
                    permit = None;
                }
                _ = self.abandon.cancelled() => return Ok(FrontierEnd::Interrupted),
            }
        }
    }

    fn apply(&mut self, cmd: Option<FrontierCmd>) -> Result<(), Error> {
        let now = Instant::now();
        match cmd {
            Some(FrontierCmd::Queued(jobs)) => {
                for job in jobs {
                    self.frontier.push(job, now);
                }
            }
            Some(FrontierCmd::Fetched { host_key, signal }) => {
                self.frontier.record(&host_key, signal, now);
                self.frontier.fetched(&host_key, now);
            }
            Some(FrontierCmd::Completed(hosts)) => {
                for host in hosts {
                    self.frontier.complete(&host, now);
                }
            }
            Some(FrontierCmd::RobotsChecked {
                host_key,
                crawl_delay,
            }) => {
                self.frontier.robots_checked(&host_key, crawl_delay, now);
            }
            None => {
                return Err(Error::Pipeline(
                    "persist stage stopped while pages were in flight".into(),
                ))
            }
        }
        Ok(())
    }

    fn dispatch(&self, permit: &mut Option<mpsc::OwnedPermit<Dispatch>>, job: Job, give_up: bool) {
        let delay_in_force = self.frontier.host_delay(&job.host_key);
        if let Some(permit) = permit.take() {
            permit.send(Dispatch {
                job,
                give_up,
                delay_in_force,
            });
        }
    }

    fn refilled(
        &mut self,
        done: Result<RefillResult, tokio::task::JoinError>,
    ) -> Result<(), Error> {
        let (request, result) = done.map_err(|err| Error::Pipeline(err.to_string()))?;
        let entries = result?;
        let exhausted = entries.len() < request.limit;
        let jobs = entries.into_iter().filter_map(job_from_queued).collect();
        self.frontier
            .refill(&request.host_key, jobs, exhausted, Instant::now());
        Ok(())
    }

    fn publish(&self) {
        self.live
            .in_flight
            .store(self.frontier.in_flight() as u64, Ordering::Relaxed);
        self.live
            .queued_in_memory
            .store(self.frontier.queued_in_memory() as u64, Ordering::Relaxed);
    }
}
