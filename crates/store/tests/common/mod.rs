//! Helpers shared by the store's integration tests.

use std::path::Path;
use std::time::{Duration, Instant};

/// Opens a closed store's sled database directly (`STORE/db`), waiting while a handle the test
/// just dropped still holds sled's file lock: sled releases it from a background thread a moment
/// after the last handle goes.
pub fn open_raw_db(store_dir: &Path) -> sled::Db {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match sled::open(store_dir.join("db")) {
            Ok(db) => return db,
            Err(e)
                if e.to_string().contains("could not acquire lock")
                    && Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => panic!("opening the database of {}: {e}", store_dir.display()),
        }
    }
}
