//! The decision core, driven step by step with a hand-moved clock.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use sqlx::types::Json;
use uuid::Uuid;

use super::*;
use crate::clock::ManualClock;
use crate::db::health::Health;
use crate::db::subscriptions::SubscriptionRow;
use crate::delivery::AttemptOutcome;
use crate::domain::{DeliveryStatus, ErrorClass};
use crate::job::DeliveryJob;
use crate::retry::RetrySchedule;

fn row(max_in_flight: i32, rate: Option<i32>) -> SubscriptionRow {
    SubscriptionRow {
        id: Uuid::now_v7(),
        application_id: Uuid::nil(),
        target_url: "https://e.com/".into(),
        event_types: vec![],
        description: None,
        headers: Json(Default::default()),
        headers_sealed: None,
        filter: None,
        retry_schedule_ms: None,
        rate_limit_per_second: rate,
        max_in_flight,
        timeout_ms: None,
        status: "active".into(),
        disabled_reason: None,
        secret: "s".into(),
        previous_secret: None,
        previous_secret_expires_at: None,
        requires_signature: false,
        version: 1,
        shard: 0,
        created_at: Utc::now(),
        updated_at: Utc::now(),
    }
}

fn cfg() -> Arc<CoreConfig> {
    Arc::new(CoreConfig {
        retry_schedule: RetrySchedule::parse("10s,30s").expect("valid"),
        retry_after_cap: Duration::from_secs(3600),
        disable_after: Duration::from_secs(3 * 86_400),
        delivery_timeout: Duration::from_secs(5),
    })
}

fn core(r: &SubscriptionRow) -> (Core<ManualClock>, ManualClock) {
    let clock = ManualClock::default();
    (Core::new(clock.clone(), cfg(), r, Health::default()), clock)
}

fn job(sub: Uuid) -> DeliveryJob {
    DeliveryJob {
        delivery_id: Uuid::now_v7(),
        message_id: Uuid::now_v7(),
        subscription_id: sub,
        event_type: Arc::from("a.b"),
        payload: Some(Arc::from("{}")),
        attempts_made: 0,
        attempt_base: 0,
        due_ms: 0,
        ordering_key: None,
    }
}

fn sent(step: Step) -> DeliveryJob {
    match step {
        Step::Send(j) => j,
        other => panic!("expected a send, got {other:?}"),
    }
}

const FAIL_500: AttemptOutcome = AttemptOutcome::HttpStatus {
    status: 500,
    retry_after: None,
};

#[test]
fn jobs_go_out_in_order_up_to_max_in_flight_and_an_outcome_frees_a_slot() {
    let r = row(2, None);
    let (mut c, _) = core(&r);
    let jobs: Vec<DeliveryJob> = (0..3).map(|_| job(r.id)).collect();
    c.add_jobs(jobs.clone());
    let a = sent(c.plan(true));
    let b = sent(c.plan(true));
    assert_eq!(
        (a.delivery_id, b.delivery_id),
        (jobs[0].delivery_id, jobs[1].delivery_id)
    );
    assert!(
        matches!(c.plan(true), Step::Idle),
        "max_in_flight 2 is reached"
    );
    let d = c.outcome(&a, &AttemptOutcome::Success { status: 200 });
    assert_eq!(d.status, DeliveryStatus::Succeeded);
    assert_eq!(sent(c.plan(true)).delivery_id, jobs[2].delivery_id);
}

#[test]
fn without_a_permit_the_core_asks_for_one_and_sends_nothing() {
    let r = row(4, None);
    let (mut c, _) = core(&r);
    c.add_jobs(vec![job(r.id)]);
    assert!(matches!(c.plan(false), Step::NeedPermit));
    assert_eq!(c.in_flight(), 0);
    sent(c.plan(true));
}

#[test]
fn the_rate_limit_spaces_sends_by_the_clock() {
    let r = row(100, Some(2));
    let (mut c, clock) = core(&r);
    c.add_jobs((0..4).map(|_| job(r.id)).collect());
    // governor's bucket holds one second's worth: two go at once, the third waits.
    sent(c.plan(true));
    sent(c.plan(true));
    let wait = match c.plan(true) {
        Step::WaitUntil(at) => at.saturating_duration_since(clock.now()),
        other => panic!("expected to wait, got {other:?}"),
    };
    assert!(
        wait > Duration::from_millis(400) && wait <= Duration::from_millis(500),
        "{wait:?}"
    );
    clock.advance(wait);
    sent(c.plan(true));
}

#[test]
fn a_failure_schedules_the_retry_and_it_is_loaded_when_due() {
    let r = row(4, None);
    let (mut c, clock) = core(&r);
    c.add_jobs(vec![job(r.id)]);
    let j = sent(c.plan(true));
    let d = c.outcome(&j, &FAIL_500);
    assert_eq!(d.status, DeliveryStatus::Retrying);
    let next = d.next_attempt_at.expect("scheduled");
    let delay = (next - clock.wall()).num_milliseconds();
    assert!(
        (9_000..=11_000).contains(&delay),
        "10 s ± 10 %, got {delay} ms"
    );
    assert!(matches!(c.plan(true), Step::WaitUntil(_)));
    clock.advance(Duration::from_millis(u64::try_from(delay).unwrap_or(0) + 1));
    match c.plan(true) {
        Step::Load(ids) => assert_eq!(ids, vec![j.delivery_id]),
        other => panic!("expected a load, got {other:?}"),
    }
}

#[test]
fn the_last_attempt_fails_the_delivery() {
    let r = row(4, None);
    let (mut c, _) = core(&r);
    let mut j = job(r.id);
    j.attempts_made = 2; // the schedule has two retries: this is the third attempt
    c.add_jobs(vec![j.clone()]);
    let j = sent(c.plan(true));
    let d = c.outcome(&j, &FAIL_500);
    assert_eq!(d.status, DeliveryStatus::Failed);
    assert_eq!(d.next_attempt_at, None);
}

#[test]
fn a_throttling_answer_holds_the_whole_subscription() {
    let r = row(4, None);
    let (mut c, clock) = core(&r);
    c.add_jobs((0..3).map(|_| job(r.id)).collect());
    let j = sent(c.plan(true));
    c.outcome(
        &j,
        &AttemptOutcome::HttpStatus {
            status: 429,
            retry_after: Some(Duration::from_secs(5)),
        },
    );
    match c.plan(true) {
        Step::WaitUntil(at) => assert!(at >= clock.now() + Duration::from_secs(5)),
        other => panic!("expected to wait, got {other:?}"),
    }
    clock.advance(Duration::from_secs(5));
    sent(c.plan(true));
}

#[test]
fn gone_disables_and_stops_everything() {
    let r = row(4, None);
    let (mut c, _) = core(&r);
    c.add_jobs((0..3).map(|_| job(r.id)).collect());
    let j = sent(c.plan(true));
    let d = c.outcome(
        &j,
        &AttemptOutcome::HttpStatus {
            status: 410,
            retry_after: None,
        },
    );
    assert!(d.disable.expect("disabled").contains("410"));
    assert_eq!(d.status, DeliveryStatus::Paused);
    assert!(!c.is_active());
    assert!(matches!(c.plan(true), Step::Idle));
}

#[test]
fn failing_for_the_whole_span_disables_and_a_success_ends_the_streak() {
    let r = row(4, None);
    let clock = ManualClock::default();
    let long_ago = clock.wall() - chrono::Duration::days(4);
    let health = Health {
        failing_since: Some(long_ago),
        consecutive_failures: 40,
    };
    let mut c = Core::new(clock.clone(), cfg(), &r, health);
    c.add_jobs(vec![job(r.id)]);
    let j = sent(c.plan(true));
    let d = c.outcome(
        &j,
        &AttemptOutcome::Failed {
            class: ErrorClass::Connect,
        },
    );
    assert!(
        d.disable
            .expect("disabled")
            .contains("every delivery has failed")
    );
    assert_eq!(d.health.map(|h| h.consecutive_failures), Some(41));

    let (mut c, _) = core(&r);
    c.set_health(health);
    c.add_jobs(vec![job(r.id)]);
    let j = sent(c.plan(true));
    let d = c.outcome(&j, &AttemptOutcome::Success { status: 204 });
    assert_eq!(d.health, Some(Health::default()), "the streak ends");
}

#[test]
fn a_backlog_is_paged_by_cursor_until_a_short_page() {
    let r = row(4, None);
    let (mut c, clock) = core(&r);
    c.note_backlog();
    assert!(matches!(c.plan(true), Step::Page(None)));
    let page: Vec<DeliveryJob> = (0..LOAD_BATCH).map(|_| job(r.id)).collect();
    let cursor = (clock.wall(), page[LOAD_BATCH - 1].delivery_id);
    c.paged(page, Some(cursor), LOAD_BATCH);
    assert_eq!(c.queued(), LOAD_BATCH);
    // Drain below the low-water mark: the next page is asked for from the cursor.
    let mut next = None;
    for _ in 0..LOAD_BATCH {
        match c.plan(true) {
            Step::Send(j) => {
                c.outcome(&j, &AttemptOutcome::Success { status: 200 });
                c.written(j.delivery_id);
            }
            Step::Page(cur) => {
                next = Some(cur);
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(next, Some(Some(cursor)));
    c.paged(vec![job(r.id)], None, LOAD_BATCH);
    loop {
        match c.plan(true) {
            Step::Send(j) => {
                c.outcome(&j, &AttemptOutcome::Success { status: 200 });
                c.written(j.delivery_id);
            }
            Step::Idle => break,
            other => panic!("a short page ends the backlog, got {other:?}"),
        }
    }
    assert!(c.is_idle());
}

#[test]
fn an_outcome_not_yet_written_is_not_taken_again_from_a_page() {
    let r = row(4, None);
    let (mut c, _) = core(&r);
    let j = job(r.id);
    c.add_jobs(vec![j.clone()]);
    let s = sent(c.plan(true));
    c.outcome(&s, &AttemptOutcome::Success { status: 200 });
    c.paged(vec![j.clone()], None, LOAD_BATCH);
    assert!(
        matches!(c.plan(true), Step::Idle),
        "still unwritten: not resent"
    );
    c.written(j.delivery_id);
    c.paged(vec![j.clone()], None, LOAD_BATCH);
    assert!(
        matches!(c.plan(true), Step::Idle),
        "written a moment ago: a page naming it was read before the write, not resent"
    );
}

#[test]
fn a_page_or_hand_over_naming_a_just_written_delivery_does_not_send_it_again() {
    let r = row(4, None);
    let (mut c, clock) = core(&r);
    let j = job(r.id);
    c.add_jobs(vec![j.clone()]);
    let s = sent(c.plan(true));
    c.outcome(&s, &AttemptOutcome::Success { status: 200 });
    c.written(j.delivery_id);
    // A page read before the write, and a peer's slow hand-over, both name it as due.
    c.paged(vec![j.clone()], None, LOAD_BATCH);
    c.add_jobs(vec![j.clone()]);
    assert!(matches!(c.plan(true), Step::Idle), "not sent twice");
    // Long after, a page naming it means Postgres has it due again (an operator's requeue).
    clock.advance(RECENT + Duration::from_millis(1));
    c.paged(vec![j], None, LOAD_BATCH);
    sent(c.plan(true));
}

#[test]
fn more_jobs_than_memory_holds_leave_the_rest_to_the_backlog() {
    let r = row(4, None);
    let (mut c, _) = core(&r);
    c.add_jobs((0..READY_MAX + 10).map(|_| job(r.id)).collect());
    assert_eq!(c.queued(), READY_MAX);
    let mut paged = false;
    for _ in 0..READY_MAX {
        match c.plan(true) {
            Step::Send(j) => {
                c.outcome(&j, &AttemptOutcome::Success { status: 200 });
            }
            Step::Page(None) => {
                paged = true;
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(paged, "the jobs beyond memory are read back from Postgres");
}

#[test]
fn pausing_drops_what_memory_holds_and_resuming_starts_the_throttle_over() {
    let mut r = row(4, None);
    let (mut c, _) = core(&r);
    c.add_jobs((0..3).map(|_| job(r.id)).collect());
    let j = sent(c.plan(true));
    c.outcome(
        &j,
        &AttemptOutcome::HttpStatus {
            status: 429,
            retry_after: None,
        },
    );
    r.status = "paused".into();
    c.refresh(&r);
    assert_eq!(c.queued(), 0);
    assert!(matches!(c.plan(true), Step::Idle));
    r.status = "active".into();
    c.refresh(&r);
    c.add_jobs(vec![job(r.id)]);
    sent(c.plan(true));
}

#[test]
fn timeouts_halve_the_concurrency_and_fast_successes_grow_it_back() {
    let r = row(8, None);
    let (mut c, clock) = core(&r);
    c.add_jobs((0..40).map(|_| job(r.id)).collect());
    let batch: Vec<DeliveryJob> = (0..8).map(|_| sent(c.plan(true))).collect();
    assert!(
        matches!(c.plan(true), Step::Idle | Step::WaitUntil(_)),
        "8 is the maximum"
    );
    clock.advance(Duration::from_secs(5));
    let timeout = AttemptOutcome::Failed {
        class: ErrorClass::Timeout,
    };
    let mut recorded = Vec::new();
    for j in &batch {
        recorded.extend(c.outcome(j, &timeout).concurrency);
    }
    assert_eq!(
        recorded,
        vec![4],
        "one batch of timeouts is one cut, recorded once"
    );
    assert_eq!(c.concurrency(), 4);
    assert!(c.concurrency_reduced());
    let next: Vec<DeliveryJob> = (0..4).map(|_| sent(c.plan(true))).collect();
    assert!(
        !matches!(c.plan(true), Step::Send(_)),
        "only 4 may be in flight now"
    );
    for j in &next {
        c.outcome(j, &AttemptOutcome::Success { status: 200 });
    }
    let mut rounds = 0;
    while c.concurrency_reduced() && rounds < 100 {
        rounds += 1;
        let j = sent(c.plan(true));
        c.outcome(&j, &AttemptOutcome::Success { status: 200 });
        c.add_jobs(vec![job(r.id)]);
    }
    assert_eq!(
        c.concurrency(),
        8,
        "back to max_in_flight after {rounds} fast successes"
    );
}

fn keyed(sub: Uuid, key: &str) -> DeliveryJob {
    DeliveryJob {
        ordering_key: Some(Arc::from(key)),
        ..job(sub)
    }
}

#[test]
fn a_keys_next_head_is_read_only_after_its_last_outcome_is_written_not_an_earlier_one() {
    let r = row(4, None);
    let (mut c, clock) = core(&r);
    let x = keyed(r.id, "acct-1");
    c.add_jobs(vec![x.clone()]);
    let Step::Heads(keys) = c.plan(true) else {
        panic!("the new key's head is read first")
    };
    c.heads(
        keys,
        vec![("acct-1".into(), x.delivery_id, Some(x.clone()))],
    );
    let first = sent(c.plan(true));
    let d = c.outcome(&first, &FAIL_500);
    assert_eq!(d.status, DeliveryStatus::Retrying);
    // The retry comes due and goes out before the first outcome's write is confirmed.
    clock.advance(Duration::from_secs(12));
    let Step::Load(ids) = c.plan(true) else {
        panic!("the due retry is loaded")
    };
    c.loaded(ids, vec![x.clone()]);
    let second = sent(c.plan(true));
    let d = c.outcome(&second, &AttemptOutcome::Success { status: 200 });
    assert_eq!(d.status, DeliveryStatus::Succeeded);
    c.written(x.delivery_id);
    assert!(
        !matches!(c.plan(true), Step::Heads(_)),
        "the first outcome's write is not the final one's: Postgres may still show x unfinished"
    );
    c.written(x.delivery_id);
    assert!(matches!(c.plan(true), Step::Heads(k) if k == vec!["acct-1".to_owned()]));
}

#[test]
fn a_page_read_before_an_outcome_was_written_does_not_send_it_again() {
    let r = row(4, None);
    let (mut c, clock) = core(&r);
    let mut j = job(r.id);
    j.attempts_made = 2; // its last attempt: the schedule allows three
    c.add_jobs(vec![j.clone()]);
    c.note_backlog();
    // The sweeper saw due rows: a page is asked for, then the job goes out.
    assert!(matches!(c.plan(true), Step::Page(None)));
    let s = sent(c.plan(true));
    let timeout = AttemptOutcome::Failed {
        class: ErrorClass::Timeout,
    };
    assert_eq!(c.outcome(&s, &timeout).status, DeliveryStatus::Failed);
    c.written(s.delivery_id);
    // The page answers only now — long after the write (a slow pool after an outage) —
    // with the row as it was when it was read: still due.
    clock.advance(RECENT * 3);
    c.paged(vec![j], None, LOAD_BATCH);
    assert!(
        matches!(c.plan(true), Step::Idle),
        "a page older than the written outcome must not send the delivery again"
    );
}

#[test]
fn an_idle_core_gives_its_tables_back_once_the_written_ids_are_forgotten() {
    let r = row(4, None);
    let (mut c, clock) = core(&r);
    c.add_jobs((0..20).map(|_| job(r.id)).collect());
    let mut out = Vec::new();
    while let Step::Send(j) = c.plan(true) {
        out.push(j);
    }
    while !out.is_empty() {
        for j in out.drain(..) {
            c.outcome(&j, &AttemptOutcome::Success { status: 200 });
            c.written(j.delivery_id);
        }
        while let Step::Send(j) = c.plan(true) {
            out.push(j);
        }
    }
    assert!(c.is_idle());
    assert!(c.allocated() > 0, "the tables grew while it worked");
    c.compact();
    assert!(c.allocated() > 0, "just-written ids are still remembered");
    clock.advance(RECENT);
    c.compact();
    assert_eq!(c.allocated(), 0, "nothing left allocated");
    // And it still works as before.
    c.add_jobs(vec![job(r.id)]);
    sent(c.plan(true));
}

#[test]
fn the_ordering_key_table_exists_only_while_a_key_is_in_use() {
    let r = row(4, None);
    let (mut c, _) = core(&r);
    assert_eq!(c.allocated(), 0);
    let mut j = job(r.id);
    j.ordering_key = Some(Arc::from("k"));
    c.add_jobs(vec![j]);
    assert!(c.allocated() > 0, "a keyed delivery makes the table");
    let Step::Heads(keys) = c.plan(true) else {
        panic!("the key's head is read first");
    };
    c.heads(keys, Vec::new());
    assert!(c.is_idle(), "no unfinished delivery: the key is idle");
    c.compact();
    assert_eq!(c.allocated(), 0, "and its table is gone");
}

#[test]
fn the_core_stays_small() {
    // 100,000 of these live at once when one event fans out to every subscription.
    let size = std::mem::size_of::<Core<crate::clock::SystemClock>>();
    assert!(size <= 480, "Core is {size} bytes");
}
