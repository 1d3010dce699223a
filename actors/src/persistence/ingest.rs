//! One group commit of ingests, split when Postgres refuses an item: a batch that fails on
//! the data of one item (SQLSTATE classes 22, 23, 54) is bisected until the good items are
//! committed and the bad one alone is refused. A batch that fails because Postgres is
//! unavailable fails as a whole (every waiter gets 503; nothing was committed).

use std::ops::Range;
use std::sync::Arc;

use sqlx::PgPool;

use super::IngestError;
use crate::db::messages::{self, IngestItem, IngestResult};

/// Commits `items` (in as few transactions as their data allows); one result per item.
pub async fn commit(
    db: &PgPool,
    items: &[IngestItem],
    idempotency_ttl_secs: f64,
) -> Vec<Result<IngestResult, IngestError>> {
    let mut results: Vec<Option<Result<IngestResult, IngestError>>> = Vec::new();
    results.resize_with(items.len(), || None);
    let mut ranges: Vec<Range<usize>> = Vec::new();
    ranges.push(0..items.len());
    while let Some(range) = ranges.pop() {
        match messages::insert_batch(db, &items[range.clone()], idempotency_ttl_secs).await {
            Ok(done) => {
                for (i, r) in range.zip(done) {
                    results[i] = Some(Ok(r));
                }
            }
            Err(e) if crate::db::is_data_error(&e) && range.len() > 1 => {
                let mid = range.start + range.len() / 2;
                ranges.push(mid..range.end);
                ranges.push(range.start..mid);
            }
            Err(e) if crate::db::is_data_error(&e) => {
                tracing::warn!(error = %e, message_id = %items[range.start].message.id,
                    "postgres refused one ingest; the others in its batch are committed");
                results[range.start] = Some(Err(IngestError::Rejected(e.to_string())));
            }
            Err(e) => {
                let err = IngestError::from_sqlx(Arc::new(e));
                for i in range {
                    results[i] = Some(Err(err.clone()));
                }
            }
        }
    }
    results
        .into_iter()
        .map(|r| r.unwrap_or(Err(IngestError::Stopped)))
        .collect()
}
