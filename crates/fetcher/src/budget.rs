//! A byte budget for response bodies held at once, across every fetch of a [`Fetcher`]
//! (`body_bytes_in_flight`). Without it, a crawl with 64 fetches in flight on a site with
//! multi-megabyte pages held as many of them as happened to overlap. A fetch reserves room for
//! its body once its response head is in (the declared length, capped at the body limit; a fixed
//! share when the length is unknown or the body is compressed). The room travels with the body
//! as [`BodyRoom`] in [`Fetched::room`](crate::Fetched::room) and is given back when that is
//! dropped, so a caller can keep it until it is done with the body (a crawler: parsed and
//! stored). Each fetch reserves once, never holding room while waiting for more, so fetches
//! cannot deadlock each other; a body larger than its reservation is still read (the budget is
//! exceeded rather than the fetch failed).
//!
//! [`Fetcher`]: crate::Fetcher

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Reserved for a body whose decoded size the head does not tell.
pub(crate) const UNKNOWN_LENGTH_RESERVE: u64 = 256 * 1024;

/// Budget units: KiB, so a `u32` of permits covers any sensible budget.
const UNIT: u64 = 1024;

/// Room for bodies being read; cheap to share.
#[derive(Debug)]
pub(crate) struct BodyBudget {
    room: Arc<Semaphore>,
    units: u32,
}

impl BodyBudget {
    /// A budget of `bytes` (at least one unit).
    pub(crate) fn new(bytes: u64) -> BodyBudget {
        let units = u32::try_from(bytes.div_ceil(UNIT).max(1)).unwrap_or(u32::MAX);
        let units = units.min(Semaphore::MAX_PERMITS as u32);
        BodyBudget {
            room: Arc::new(Semaphore::new(units as usize)),
            units,
        }
    }

    /// Waits for room for `bytes` (at most the whole budget) and holds it until dropped.
    pub(crate) async fn reserve(&self, bytes: u64) -> BodyRoom {
        let wanted = u32::try_from(bytes.div_ceil(UNIT).max(1))
            .unwrap_or(u32::MAX)
            .min(self.units);
        // The semaphore is never closed; an error would only mean "no room taken".
        BodyRoom(self.room.clone().acquire_many_owned(wanted).await.ok())
    }

    /// Room free now, in bytes (for tests).
    #[cfg(test)]
    pub(crate) fn available(&self) -> u64 {
        self.room.available_permits() as u64 * UNIT
    }
}

/// The room one fetched body takes in its fetcher's body budget; given back when dropped (or on
/// [`BodyRoom::release`]). Keep it as long as the body is held; a default one holds no room, and
/// so does a clone (the room stays with the original).
#[derive(Debug, Default)]
pub struct BodyRoom(Option<OwnedSemaphorePermit>);

impl Clone for BodyRoom {
    fn clone(&self) -> Self {
        BodyRoom(None)
    }
}

impl BodyRoom {
    /// Gives the room back now (the body is no longer held).
    pub fn release(&mut self) {
        self.0 = None;
    }

    /// Bytes of budget held (rounded up to whole KiB); 0 once released.
    pub fn bytes(&self) -> u64 {
        self.0
            .as_ref()
            .map_or(0, |permit| permit.num_permits() as u64 * UNIT)
    }
}

/// What to reserve for a body, from its response head: the declared length for an unencoded
/// body, four times it for a compressed one, a fixed share when there is none; never more than
/// the body limit.
pub(crate) fn reservation(declared: Option<u64>, compressed: bool, limit: u64) -> u64 {
    let expected = match declared {
        Some(len) if compressed => len.saturating_mul(4),
        Some(len) => len,
        None => UNKNOWN_LENGTH_RESERVE,
    };
    expected.min(limit)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn reservations_follow_the_head_within_the_limit() {
        assert_eq!(reservation(Some(5_000), false, 10 << 20), 5_000);
        assert_eq!(reservation(Some(5_000), true, 10 << 20), 20_000);
        assert_eq!(reservation(None, false, 10 << 20), UNKNOWN_LENGTH_RESERVE);
        assert_eq!(reservation(Some(50 << 20), false, 10 << 20), 10 << 20);
        assert_eq!(reservation(None, true, 1000), 1000);
    }

    #[tokio::test]
    async fn a_reservation_waits_for_room_and_gives_it_back() {
        let budget = Arc::new(BodyBudget::new(100 * 1024));
        let mut first = budget.reserve(60 * 1024).await;
        assert_eq!(first.bytes(), 60 * 1024);
        assert_eq!(budget.available(), 40 * 1024);
        let waiting = {
            let budget = budget.clone();
            tokio::spawn(async move { budget.reserve(60 * 1024).await.bytes() })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            !waiting.is_finished(),
            "no room until the first body is let go"
        );
        first.release();
        assert_eq!(first.bytes(), 0);
        assert_eq!(waiting.await.unwrap(), 60 * 1024);
        assert_eq!(budget.available(), 100 * 1024);
        // More than the whole budget takes the whole budget rather than waiting forever.
        let all = budget.reserve(1 << 30).await;
        assert_eq!(budget.available(), 0);
        drop(all);
        assert_eq!(budget.available(), 100 * 1024);
    }
}
