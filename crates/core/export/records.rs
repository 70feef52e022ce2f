//! Records export (`trawl export --records`): the records the extraction rules made, one JSON
//! object per line, each with the URL of the page it came from.

use std::io::Write;

use trawl_store::{Store, UrlState};

use crate::Error;

/// Writes every stored record as one JSON object per line (`url` first, then `rule` and the
/// fields); returns how many.
pub fn export_records(store: &Store, out: &mut dyn Write) -> Result<u64, Error> {
    let io = |source| Error::Io {
        what: "records export".into(),
        source,
    };
    let mut written = 0;
    for entry in store.records() {
        let (url, record) = entry?;
        if record.state != UrlState::Done {
            continue;
        }
        let Some(text) = record
            .page
            .as_ref()
            .and_then(|page| page.records.as_deref())
        else {
            continue;
        };
        let records: Vec<serde_json::Map<String, serde_json::Value>> = serde_json::from_str(text)
            .map_err(|err| {
            Error::Store(trawl_store::StoreError::Corrupt {
                what: format!("extracted records of {url}: {err}"),
            })
        })?;
        for fields in records {
            let mut line = serde_json::Map::with_capacity(fields.len() + 1);
            line.insert("url".into(), serde_json::Value::String(url.clone()));
            line.extend(fields);
            serde_json::to_writer(&mut *out, &line).map_err(|err| io(std::io::Error::from(err)))?;
            out.write_all(b"\n").map_err(io)?;
            written += 1;
        }
    }
    Ok(written)
}
