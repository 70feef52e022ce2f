//! How the binary and the engine open a store and keep the crawl's configuration in it.

use std::path::PathBuf;

use trawl_store::{Store, StoreConfig, StoreError};

use crate::config::Config;
use crate::Error;

/// The `meta` key under which the crawl's configuration is kept (JSON).
const CONFIG_KEY: &str = "crawl_config";

/// Opens (or creates) a store off the runtime threads. Problems a user can fix by choosing another
/// path or stopping the other process (in use, unwritable, another schema version) are usage errors.
pub async fn open_store(path: PathBuf, config: StoreConfig) -> Result<Store, Error> {
    let opened = tokio::task::spawn_blocking(move || Store::open(&path, &config))
        .await
        .map_err(|err| Error::Pipeline(format!("store open task failed: {err}")))?;
    opened.map_err(|err| match err {
        StoreError::InUse { .. } | StoreError::Io { .. } | StoreError::SchemaVersion { .. } => {
            Error::Usage(err.to_string())
        }
        other => Error::Store(other),
    })
}

/// Saves the effective configuration in the store, for `resume`.
pub async fn save_config(store: &Store, config: &Config) -> Result<(), Error> {
    let json = serde_json::to_vec(config).map_err(|err| {
        Error::Pipeline(format!("cannot encode the crawl's configuration: {err}"))
    })?;
    let store = store.clone();
    crate::engine::blocking(store, move |store| Ok(store.put_meta(CONFIG_KEY, &json)?)).await
}

/// The configuration saved by the crawl that made this store, if any.
pub async fn load_config(store: &Store) -> Result<Option<Config>, Error> {
    let store = store.clone();
    let bytes = crate::engine::blocking(store, |store| Ok(store.get_meta(CONFIG_KEY)?)).await?;
    match bytes {
        None => Ok(None),
        Some(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|err| {
            Error::Store(StoreError::Corrupt {
                what: format!("saved crawl configuration: {err}"),
            })
        }),
    }
}

/// Refuses a resume whose settings would change what is crawled.
pub fn refuse_scope_change(saved: &Config, wanted: &Config) -> Result<(), Error> {
    let (s, w) = (&saved.frontier, &wanted.frontier);
    let changed = [
        ("seeds", saved.crawl.seeds != wanted.crawl.seeds),
        ("--scope", s.scope != w.scope),
        ("--include", s.include != w.include),
        ("--exclude", s.exclude != w.exclude),
        ("--max-depth", s.max_depth != w.max_depth),
    ];
    match changed.iter().find(|(_, differs)| *differs) {
        Some((what, _)) => Err(Error::Usage(format!(
            "{what} cannot change on resume: it would change what this crawl covers; start a new crawl with another --store"
        ))),
        None => Ok(()),
    }
}
