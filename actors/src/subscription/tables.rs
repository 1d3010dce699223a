//! The tables a subscription's core keeps by delivery id, made small: a fixed hasher instead
//! of a per-table random seed (the keys are delivery ids Courier generated itself, UUIDv7
//! with a random tail, so nobody outside can pick colliding keys), and helpers that give an
//! emptied table's memory back. With 100,000 subscriptions busy at once, 16 bytes of seed per
//! table and a few hundred bytes of spare capacity per idle core add up to tens of MiB.
//!
//! Must never: be used for keys a client chooses (ordering keys, headers: those keep
//! `RandomState`).

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};

use uuid::Uuid;

/// A hasher for ids Courier generated (FxHash's mix, folded at the end so the low bits the
/// table indexes by depend on every input word).
#[derive(Debug, Default, Clone, Copy)]
pub struct IdHasher(u64);

const K: u64 = 0xf135_7aea_2e62_a9c5;

impl IdHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0 ^ word).wrapping_mul(K);
    }
}

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    fn finish(&self) -> u64 {
        self.0.rotate_left(26)
    }
}

pub type IdBuild = BuildHasherDefault<IdHasher>;
pub type IdSet = HashSet<Uuid, IdBuild>;
pub type IdMap<V> = HashMap<Uuid, V, IdBuild>;

/// Gives back what an idle collection no longer needs: all of it when empty.
pub trait Shrink {
    fn shrink(&mut self);
}

impl<T> Shrink for VecDeque<T> {
    fn shrink(&mut self) {
        if self.is_empty() {
            *self = VecDeque::new();
        } else {
            self.shrink_to_fit();
        }
    }
}

impl<K: Eq + std::hash::Hash, V, S: Default + std::hash::BuildHasher> Shrink for HashMap<K, V, S> {
    fn shrink(&mut self) {
        if self.is_empty() {
            *self = HashMap::default();
        } else {
            self.shrink_to_fit();
        }
    }
}

impl<T: Eq + std::hash::Hash, S: Default + std::hash::BuildHasher> Shrink for HashSet<T, S> {
    fn shrink(&mut self) {
        if self.is_empty() {
            *self = HashSet::default();
        } else {
            self.shrink_to_fit();
        }
    }
}

impl<T: Ord> Shrink for BTreeSet<T> {
    /// A B-tree frees its nodes as they empty; nothing to give back.
    fn shrink(&mut self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_emptied_table_gives_its_memory_back() {
        let mut set = IdSet::default();
        let mut deque = VecDeque::new();
        for _ in 0..100 {
            set.insert(Uuid::now_v7());
            deque.push_back(Uuid::now_v7());
        }
        set.clear();
        deque.truncate(1);
        set.shrink();
        deque.shrink();
        assert_eq!(set.capacity(), 0);
        assert_eq!(deque.capacity(), 1);
    }

    #[test]
    fn ids_spread_over_the_table() {
        // v7 ids made in one millisecond share their first bytes: the low bits must still differ.
        let mut buckets = [0usize; 64];
        for _ in 0..6_400 {
            let mut h = IdHasher::default();
            std::hash::Hash::hash(&Uuid::now_v7(), &mut h);
            buckets[(h.finish() & 63) as usize] += 1;
        }
        assert!(
            buckets.iter().all(|n| (50..=150).contains(n)),
            "{buckets:?}"
        );
    }
}
