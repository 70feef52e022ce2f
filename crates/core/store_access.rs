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

/// URLs committed per transaction by [`queue_urls`].
const QUEUE_CHUNK: usize = 10_000;

/// Queues `urls` (those the store does not know yet), in transactions of [`QUEUE_CHUNK`]. For use
/// before a crawl's pipeline starts, while nothing else writes to the store.
pub(crate) async fn queue_urls(
    store: &Store,
    mut urls: Vec<trawl_store::NewUrl>,
) -> Result<(), Error> {
    while !urls.is_empty() {
        let rest = urls.split_off(urls.len().min(QUEUE_CHUNK));
        let chunk = std::mem::replace(&mut urls, rest);
        crate::engine::blocking(store.clone(), move |store| {
            store.commit(trawl_store::CommitBatch {
                discovered: chunk,
                ..trawl_store::CommitBatch::default()
            })?;
            Ok(())
        })
        .await?;
    }
    Ok(())
}

/// Bytes a store takes on disk (its database and body segments), without opening it.
pub async fn store_size(path: &std::path::Path) -> Result<u64, Error> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || directory_size(&path))
        .await
        .map_err(|err| Error::Pipeline(format!("size task failed: {err}")))?
        .map_err(|source| Error::Io {
            what: "the store's size".into(),
            source,
        })
}

fn directory_size(path: &std::path::Path) -> std::io::Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(path)? {
        let entry = entry?;
        let meta = entry.metadata()?;
        total += if meta.is_dir() {
            directory_size(&entry.path())?
        } else {
            meta.len()
        };
    }
    Ok(total)
}

/// Helpers for `trawl bench`: building large stores quickly.
pub mod bench_support {
    use trawl_store::NewUrl;

    use super::{open_store, queue_urls, save_config, QUEUE_CHUNK};
    use crate::config::Config;
    use crate::Error;

    /// Creates the store of `config` holding `urls` as queued URLs (depth 1) and the config, as a
    /// crawl that was stopped would leave it.
    pub async fn fill_store(
        config: &Config,
        urls: impl Iterator<Item = String>,
    ) -> Result<(), Error> {
        let store = open_store(config.crawl.store_dir.clone(), config.store.clone()).await?;
        save_config(&store, config).await?;
        let mut urls = urls.peekable();
        while urls.peek().is_some() {
            let mut chunk = Vec::with_capacity(QUEUE_CHUNK);
            for url in urls.by_ref().take(QUEUE_CHUNK) {
                let host_key = url::Url::parse(&url)
                    .map(|parsed| trawl_fetcher::host_key(&parsed))
                    .map_err(|err| Error::Usage(format!("bad bench URL {url}: {err}")))?;
                chunk.push(NewUrl {
                    url,
                    host_key,
                    depth: 1,
                    ..NewUrl::default()
                });
            }
            queue_urls(&store, chunk).await?;
        }
        Ok(())
    }
}
