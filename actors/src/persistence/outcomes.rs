//! One fenced write of outcomes, split when Postgres refuses an item. A batch that fails on
//! one row's data is bisected; a single row that still fails is written again with its
//! receiver-controlled texts replaced by a note, and dropped (logged, counted) only if even
//! that fails — it can never hold up the queue. An unavailable Postgres fails the whole
//! batch, which the actor keeps and retries with backoff (the write is idempotent).

use std::ops::Range;
use std::time::Duration;

use rand::Rng as _;
use sqlx::PgPool;

use crate::db::outcomes::{self, OutcomeRow};

/// What became of a batch that reached Postgres.
#[derive(Debug, Default)]
pub struct Written {
    /// Indices refused because this node no longer holds their lease.
    pub refused: Vec<usize>,
    /// Indices Postgres would not take in any form.
    pub dropped: Vec<usize>,
}

/// Writes `batch`; `Err` only when Postgres is unavailable (nothing is lost: retry it all).
pub async fn write(db: &PgPool, node: &str, batch: &[OutcomeRow]) -> Result<Written, sqlx::Error> {
    let mut written = Written::default();
    let mut ranges: Vec<Range<usize>> = Vec::new();
    ranges.push(0..batch.len());
    while let Some(range) = ranges.pop() {
        match outcomes::write(db, node, &batch[range.clone()]).await {
            Ok(refused) => written
                .refused
                .extend(refused.into_iter().map(|i| i + range.start)),
            Err(e) if crate::db::is_data_error(&e) && range.len() > 1 => {
                let mid = range.start + range.len() / 2;
                ranges.push(mid..range.end);
                ranges.push(range.start..mid);
            }
            Err(e) if crate::db::is_data_error(&e) => {
                let i = range.start;
                tracing::warn!(error = %e, delivery_id = %batch[i].update.id,
                    "postgres refused an outcome; writing it without the receiver's texts");
                let plain = [without_answer(&batch[i], &e)];
                match outcomes::write(db, node, &plain).await {
                    Ok(refused) if refused.is_empty() => {}
                    Ok(_) => written.refused.push(i),
                    Err(e2) if crate::db::is_data_error(&e2) => {
                        tracing::error!(error = %e2, delivery_id = %batch[i].update.id, "outcome dropped");
                        metrics::counter!("courier_outcomes_dropped_total").increment(1);
                        written.dropped.push(i);
                    }
                    Err(e2) => return Err(e2),
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(written)
}

/// The outcome with what the receiver controls replaced by a note.
fn without_answer(row: &OutcomeRow, e: &sqlx::Error) -> OutcomeRow {
    let mut row = row.clone();
    let note = format!(
        "the receiver's answer could not be stored: {}",
        e.to_string().replace('\0', "")
    );
    row.attempt.response_body = None;
    row.attempt.response_body_base64 = None;
    row.attempt.response_headers = None;
    row.attempt.error_message = Some(note.clone());
    row.update.last_error = Some(note);
    row
}

/// Exponential backoff with jitter for retrying an unavailable Postgres: 100 ms doubling
/// to 30 s.
#[derive(Debug, Default)]
pub struct Backoff {
    failures: u32,
}

impl Backoff {
    pub const FIRST: Duration = Duration::from_millis(100);
    pub const CAP: Duration = Duration::from_secs(30);

    /// The wait before the next try, after one more failure.
    pub fn next_wait(&mut self) -> Duration {
        self.failures = self.failures.saturating_add(1);
        let exp = self.failures.saturating_sub(1).min(16);
        let base = Self::FIRST.saturating_mul(1u32 << exp).min(Self::CAP);
        base.mul_f64(rand::rng().random_range(0.8..=1.2))
            .min(Self::CAP)
    }

    pub fn reset(&mut self) {
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::Backoff;
    use std::time::Duration;

    #[test]
    fn backoff_grows_exponentially_to_its_cap() {
        let mut b = Backoff::default();
        let first = b.next_wait();
        assert!(first >= Duration::from_millis(80) && first <= Duration::from_millis(120));
        let second = b.next_wait();
        assert!(second >= Duration::from_millis(160));
        for _ in 0..30 {
            assert!(b.next_wait() <= Backoff::CAP);
        }
        assert!(b.next_wait() >= Backoff::CAP.mul_f64(0.8));
        b.reset();
        assert!(b.next_wait() <= Duration::from_millis(120));
    }
}
