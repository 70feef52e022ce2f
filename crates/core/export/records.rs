//! Records export (`trawl export --records`): the records the extraction rules made, one JSON
//! object per line, each with the URL of the page it came from.

use std::io::Write;

use trawl_store::{Store, UrlState};

use super::readable::{Exported, Readable};
use crate::Error;

/// Writes every stored record as one JSON object per line (`url` first, then `rule` and the
/// fields); returns how many, and how many pages' records were left out as unreadable.
pub fn export_records(store: &Store, out: &mut dyn Write) -> Result<Exported, Error> {
    let readable = Readable::new(store);
    let io = |source| Error::Io {
        what: "records export".into(),
        source,
    };
    let mut written = 0;
    for entry in readable.records() {
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
        let records: Vec<serde_json::Map<String, serde_json::Value>> =
            match serde_json::from_str(text) {
                Ok(records) => records,
                Err(err) => {
                    readable.skip(Some(&url), &format!("its extracted records: {err}"));
                    continue;
                }
            };
        for fields in records {
            let mut line = serde_json::Map::with_capacity(fields.len() + 1);
            line.insert("url".into(), serde_json::Value::String(url.clone()));
            line.extend(fields);
            serde_json::to_writer(&mut *out, &line).map_err(|err| io(std::io::Error::from(err)))?;
            out.write_all(b"\n").map_err(io)?;
            written += 1;
        }
    }
    Ok(readable.finish(written))
}
