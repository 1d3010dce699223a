use std::time::Duration;

use proptest::prelude::*;
use uuid::Uuid;

use super::*;

fn subs(n: usize) -> Vec<Uuid> {
    (0..n).map(|_| Uuid::new_v4()).collect()
}

/// Takes permits for `sub` until refused.
fn grab(cap: &Capacity, sub: Uuid) -> Vec<Permit> {
    std::iter::from_fn(|| cap.try_acquire(sub)).collect()
}

#[test]
fn one_subscription_alone_leaves_a_share_free() {
    let cap = Capacity::new(16);
    let s = subs(1)[0];
    let held = grab(&cap, s);
    assert_eq!(held.len(), 8);
    assert_eq!(cap.figures().in_use, 8);
}

#[test]
fn stalled_subscriptions_never_take_the_last_share_and_a_newcomer_finds_one() {
    let cap = Capacity::new(1024);
    let stalled = subs(64);
    // Each grabs greedily in turn, as stalled actors at max_in_flight 16 would.
    let mut held = Vec::new();
    for _ in 0..16 {
        for s in &stalled {
            held.extend(cap.try_acquire(*s));
        }
    }
    let f = cap.figures();
    assert!(f.in_use < 1024, "{f:?}");
    let newcomer = Uuid::new_v4();
    assert!(
        cap.try_acquire(newcomer).is_some(),
        "a healthy subscription starts at once"
    );
}

#[tokio::test]
async fn a_waiter_is_served_when_a_permit_comes_back() {
    let cap = Capacity::new(3);
    let [a, b, c, d] = subs(4)[..] else {
        unreachable!()
    };
    let pa = cap.try_acquire(a).expect("a");
    assert!(cap.try_acquire(a).is_none(), "a alone may hold 3 / 2 = 1");
    let _pb = cap.try_acquire(b).expect("b");
    let _pc = cap.try_acquire(c).expect("c");
    assert!(cap.try_acquire(d).is_none(), "all three are held");
    let wait = cap.acquire(d);
    drop(pa);
    let got = tokio::time::timeout(Duration::from_secs(1), wait)
        .await
        .expect("served");
    assert!(got.is_some());
}

#[tokio::test]
async fn a_waiter_that_gives_up_leaks_nothing() {
    let cap = Capacity::new(1);
    let [a, b] = subs(2)[..] else { unreachable!() };
    let pa = cap.try_acquire(a).expect("a");
    let wait = cap.acquire(b);
    drop(wait);
    drop(pa);
    assert_eq!(
        cap.figures(),
        CapacityFigures {
            total: 1,
            in_use: 0,
            waiting: 0,
            demanders: 0
        }
    );
    // Granted but never polled: dropping the wait gives the permit back.
    let pa = cap.try_acquire(a).expect("a again");
    let wait = cap.acquire(b);
    drop(pa);
    drop(wait);
    assert_eq!(cap.figures().in_use, 0);
    assert_eq!(cap.figures().demanders, 0);
}

#[tokio::test]
async fn waiters_below_their_share_go_before_those_at_it() {
    let cap = Capacity::new(4);
    let [hog, fresh] = subs(2)[..] else {
        unreachable!()
    };
    let mut hog_permits = grab(&cap, hog);
    assert_eq!(hog_permits.len(), 2);
    let others = subs(2);
    let _held: Vec<_> = others.iter().filter_map(|s| cap.try_acquire(*s)).collect();
    assert_eq!(cap.figures().in_use, 4);
    let hog_wait = cap.acquire(hog);
    let fresh_wait = cap.acquire(fresh);
    hog_permits.pop();
    let got = tokio::time::timeout(Duration::from_secs(1), fresh_wait)
        .await
        .expect("fresh first");
    assert!(got.is_some());
    drop(hog_wait);
}

#[derive(Debug, Clone)]
enum Op {
    Try(usize),
    Wait(usize),
    Release(usize),
    GiveUp(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..6usize).prop_map(Op::Try),
        (0..6usize).prop_map(Op::Wait),
        (0..64usize).prop_map(Op::Release),
        (0..64usize).prop_map(Op::GiveUp),
    ]
}

proptest! {
    #[test]
    fn permits_are_conserved_and_shares_respected(total in 1usize..12, ops in prop::collection::vec(op(), 1..200)) {
        let cap = Capacity::new(total);
        let ids = subs(6);
        let mut permits: Vec<Permit> = Vec::new();
        let mut waits: Vec<Wait> = Vec::new();
        for op in ops {
            match op {
                Op::Try(i) => permits.extend(cap.try_acquire(ids[i])),
                Op::Wait(i) => waits.push(cap.acquire(ids[i])),
                Op::Release(i) if !permits.is_empty() => { permits.swap_remove(i % permits.len()); }
                Op::GiveUp(i) if !waits.is_empty() => { waits.swap_remove(i % waits.len()); }
                _ => {}
            }
            // Collect granted waits without blocking.
            let mut still = Vec::new();
            for mut w in waits.drain(..) {
                match w.rx.try_recv() {
                    Ok(p) => { w.cancel = None; permits.push(p); }
                    Err(_) => still.push(w),
                }
            }
            waits = still;
            let f = cap.figures();
            prop_assert!(f.in_use <= total);
            prop_assert_eq!(f.in_use, permits.len(), "every permit out is one we hold");
            let inner = cap.lock();
            let held: usize = inner.subs.values().map(|e| e.held).sum();
            prop_assert_eq!(held + inner.free, total);
            if inner.free > 0 {
                for (sub, e) in &inner.subs {
                    let waiting = e.waiter.as_ref().is_some_and(|tx| !tx.is_closed());
                    prop_assert!(!waiting || e.held >= inner.share_with(*sub), "a waiter below its share is served while permits are free");
                }
            }
        }
        drop(permits);
        drop(waits);
        let f = cap.figures();
        prop_assert_eq!(f.in_use, 0);
        prop_assert_eq!(f.demanders, 0);
    }
}
