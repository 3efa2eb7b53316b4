//! A map keyed by request id, for the core's own bookkeeping (the outbox, the settled
//! markers, the rolls in progress, the turns awaited and open, the narration previews).
//!
//! `std`'s `BTreeMap` is compiled once per value type, about 9 KB of WebAssembly each
//! (node splitting, merging, stealing for removal, the iterators); with six maps of
//! different value types that was the largest single part of the core (measured with
//! twiggy, see docs/BENCHMARKS.md). These maps hold a handful of entries (the requests
//! of the last minutes), so a sorted list does the same job: the keys live in one
//! `Vec<String>` searched by code that does not depend on the value type, the values in
//! a `Vec<V>` beside it. Iteration is in key order, as `BTreeMap`'s was, so everything
//! the core does in "each entry" order is unchanged.

/// Request id → `V`, in key order.
#[derive(Debug, Clone, PartialEq)]
pub struct IdMap<V> {
    keys: Vec<String>,
    values: Vec<V>,
}

impl<V> Default for IdMap<V> {
    fn default() -> Self {
        IdMap {
            keys: Vec::new(),
            values: Vec::new(),
        }
    }
}

/// Where `key` is, or where it would go. One function for every value type.
fn search(keys: &[String], key: &str) -> Result<usize, usize> {
    keys.binary_search_by(|probe| probe.as_str().cmp(key))
}

impl<V> IdMap<V> {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn contains_key(&self, key: &str) -> bool {
        search(&self.keys, key).is_ok()
    }

    pub fn get(&self, key: &str) -> Option<&V> {
        search(&self.keys, key).ok().map(|i| &self.values[i])
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut V> {
        search(&self.keys, key).ok().map(|i| &mut self.values[i])
    }

    /// Sets `key`'s value; returns the one it replaced.
    pub fn insert(&mut self, key: String, value: V) -> Option<V> {
        match search(&self.keys, &key) {
            Ok(i) => Some(std::mem::replace(&mut self.values[i], value)),
            Err(i) => {
                self.keys.insert(i, key);
                self.values.insert(i, value);
                None
            }
        }
    }

    pub fn remove(&mut self, key: &str) -> Option<V> {
        let i = search(&self.keys, key).ok()?;
        self.keys.remove(i);
        Some(self.values.remove(i))
    }

    /// Every entry, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &V)> {
        self.keys.iter().zip(&self.values)
    }

    /// Every entry, in key order, the values mutable.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&String, &mut V)> {
        self.keys.iter().zip(&mut self.values)
    }

    /// Every key, in order.
    pub fn keys(&self) -> std::slice::Iter<'_, String> {
        self.keys.iter()
    }

    /// Every value, in key order.
    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.values.iter()
    }

    /// The values, in key order, consuming the map.
    pub fn into_values(self) -> std::vec::IntoIter<V> {
        self.values.into_iter()
    }

    /// The keys, in order, consuming the map.
    pub fn into_keys(self) -> std::vec::IntoIter<String> {
        self.keys.into_iter()
    }
}

/// A set of request ids, in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IdSet {
    keys: Vec<String>,
}

impl IdSet {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn contains(&self, key: &str) -> bool {
        search(&self.keys, key).is_ok()
    }

    /// Adds `key`; whether it was new.
    pub fn insert(&mut self, key: String) -> bool {
        match search(&self.keys, &key) {
            Ok(_) => false,
            Err(i) => {
                self.keys.insert(i, key);
                true
            }
        }
    }

    /// Removes `key`; whether it was there.
    pub fn remove(&mut self, key: &str) -> bool {
        match search(&self.keys, key) {
            Ok(i) => {
                self.keys.remove(i);
                true
            }
            Err(_) => false,
        }
    }

    pub fn iter(&self) -> std::slice::Iter<'_, String> {
        self.keys.iter()
    }

    /// Keeps only the keys `keep` says yes to (order kept).
    pub fn retain(&mut self, keep: impl FnMut(&String) -> bool) {
        self.keys.retain(keep);
    }
}

impl IntoIterator for IdSet {
    type Item = String;
    type IntoIter = std::vec::IntoIter<String>;

    fn into_iter(self) -> Self::IntoIter {
        self.keys.into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeMap, BTreeSet};

    /// The same operations on an `IdMap` and a `BTreeMap` give the same answers and the
    /// same order.
    #[test]
    fn the_map_behaves_as_a_btree_map() {
        let mut ours = IdMap::new();
        let mut theirs = BTreeMap::new();
        let keys = [
            "roll-3", "roll-1", "turn-2", "roll-10", "roll-1", "a", "turn-2",
        ];
        for (n, key) in keys.iter().enumerate() {
            assert_eq!(
                ours.insert((*key).to_owned(), n),
                theirs.insert((*key).to_owned(), n)
            );
        }
        assert_eq!(ours.len(), theirs.len());
        assert!(ours.iter().eq(theirs.iter()));
        for key in ["roll-1", "missing", "a"] {
            assert_eq!(ours.get(key), theirs.get(key));
            assert_eq!(ours.contains_key(key), theirs.contains_key(key));
        }
        if let Some(value) = ours.get_mut("roll-3") {
            *value = 99;
        }
        theirs.insert("roll-3".to_owned(), 99);
        for key in ["roll-10", "missing", "a"] {
            assert_eq!(ours.remove(key), theirs.remove(key));
        }
        for (_, value) in ours.iter_mut() {
            *value += 1;
        }
        for value in theirs.values_mut() {
            *value += 1;
        }
        assert!(ours.values().eq(theirs.values()));
        assert!(ours.clone().into_keys().eq(theirs.clone().into_keys()));
        assert!(ours.clone().into_values().eq(theirs.clone().into_values()));
        assert!(!ours.is_empty());
    }

    #[test]
    fn the_set_behaves_as_a_btree_set() {
        let mut ours = IdSet::new();
        let mut theirs = BTreeSet::new();
        for key in ["t-2", "t-1", "t-2", "t-10"] {
            assert_eq!(ours.insert(key.to_owned()), theirs.insert(key.to_owned()));
        }
        assert_eq!(ours.remove("t-1"), theirs.remove("t-1"));
        assert_eq!(ours.remove("t-1"), theirs.remove("t-1"));
        assert_eq!(ours.contains("t-2"), theirs.contains("t-2"));
        assert_eq!(ours.len(), theirs.len());
        assert!(ours.iter().eq(theirs.iter()));
        assert!(ours.into_iter().eq(theirs.into_iter()));
    }
}
