//! [`JsonMap`], the key-sorted object of a [`JsonValue`]: a sorted list of pairs with
//! the part of `BTreeMap<String, JsonValue>`'s API the protocol's users need.
//!
//! Why not `BTreeMap`: the standard B-tree is compiled once per key and value type, and
//! its node code (insert with splits, clone of subtrees, search, navigation) was the last
//! B-tree in the WebAssembly core, about 7 KB of its .wasm (docs/BENCHMARKS.md). A
//! `Vec` of pairs reuses the `Vec` code the core has anyway. The objects it holds are
//! small (settings, a combat snapshot, a chat message's data), where a sorted list is as
//! fast as a tree.
//!
//! It behaves as the `BTreeMap` did wherever that shows: iteration in key order (so
//! objects are written with their keys sorted, as serde writes a `BTreeMap`), a key
//! inserted twice keeps its last value, equality compares the sorted pairs, `Debug`
//! prints a map, and serde reads and writes it as a map.

use crate::JsonValue;
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde::ser::{Serialize, Serializer};
use std::fmt;

/// A JSON object: its members sorted by key (byte order, as `String`'s `Ord`), each key
/// once.
#[derive(Clone, PartialEq, Default)]
pub struct JsonMap {
    /// Sorted by key, keys unique.
    entries: Vec<(String, JsonValue)>,
}

impl JsonMap {
    /// An empty object.
    pub const fn new() -> Self {
        JsonMap {
            entries: Vec::new(),
        }
    }

    /// How many members the object has.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the object has no members.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Where `key` is, or where it would go.
    fn find(&self, key: &str) -> Result<usize, usize> {
        self.entries.binary_search_by(|(k, _)| k.as_str().cmp(key))
    }

    /// The value of `key`, when present.
    pub fn get(&self, key: &str) -> Option<&JsonValue> {
        match self.find(key) {
            Ok(i) => self.entries.get(i).map(|(_, v)| v),
            Err(_) => None,
        }
    }

    /// Whether `key` is present.
    pub fn contains_key(&self, key: &str) -> bool {
        self.find(key).is_ok()
    }

    /// Sets `key` to `value`, and returns the value it replaced. A key that comes after
    /// every other (the common case: objects written with sorted keys) is a push.
    pub fn insert(&mut self, key: String, value: JsonValue) -> Option<JsonValue> {
        match self.find(&key) {
            Ok(i) => self
                .entries
                .get_mut(i)
                .map(|(_, old)| std::mem::replace(old, value)),
            Err(i) => {
                self.entries.insert(i, (key, value));
                None
            }
        }
    }

    /// Removes `key`, and returns its value.
    pub fn remove(&mut self, key: &str) -> Option<JsonValue> {
        match self.find(key) {
            Ok(i) => Some(self.entries.remove(i).1),
            Err(_) => None,
        }
    }

    /// The members in key order.
    pub fn iter(&self) -> Iter<'_> {
        Iter(self.entries.iter())
    }
}

/// The members of a [`JsonMap`] in key order, as `(&key, &value)` (as a `BTreeMap`'s
/// iterator gives them).
#[derive(Debug, Clone)]
pub struct Iter<'a>(std::slice::Iter<'a, (String, JsonValue)>);

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a String, &'a JsonValue);

    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(|(k, v)| (k, v))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl<'a> IntoIterator for &'a JsonMap {
    type Item = (&'a String, &'a JsonValue);
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

impl IntoIterator for JsonMap {
    type Item = (String, JsonValue);
    type IntoIter = std::vec::IntoIter<(String, JsonValue)>;

    /// The members in key order.
    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

impl FromIterator<(String, JsonValue)> for JsonMap {
    /// A key given more than once keeps its last value. Sorted once at the end, so that
    /// a large object in any order costs `n log n`, not `n²`.
    fn from_iter<I: IntoIterator<Item = (String, JsonValue)>>(pairs: I) -> Self {
        let mut pairs: Vec<(String, JsonValue)> = pairs.into_iter().collect();
        // Stable: of equal keys, the last given stays last.
        pairs.sort_by(|(a, _), (b, _)| a.cmp(b));
        let mut entries: Vec<(String, JsonValue)> = Vec::with_capacity(pairs.len());
        for (key, value) in pairs {
            match entries.last_mut() {
                Some((last, old)) if *last == key => *old = value,
                _ => entries.push((key, value)),
            }
        }
        JsonMap { entries }
    }
}

impl<const N: usize> From<[(String, JsonValue); N]> for JsonMap {
    fn from(pairs: [(String, JsonValue); N]) -> Self {
        pairs.into_iter().collect()
    }
}

impl std::ops::Index<&str> for JsonMap {
    type Output = JsonValue;

    /// The value of `key`; panics when it is missing, as `BTreeMap`'s indexing does.
    fn index(&self, key: &str) -> &JsonValue {
        match self.get(key) {
            Some(value) => value,
            None => panic!("no member `{key}` in the object"),
        }
    }
}

impl fmt::Debug for JsonMap {
    /// As a `BTreeMap` prints: `{"a": 1, "b": 2}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl Serialize for JsonMap {
    /// A map, its keys in order.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
    }
}

impl<'de> Deserialize<'de> for JsonMap {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(MapVisitor)
    }
}

/// Reads a map into a [`JsonMap`].
pub(crate) struct MapVisitor;

impl<'de> Visitor<'de> for MapVisitor {
    type Value = JsonMap;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a map")
    }

    /// A key given twice keeps its last value, as `BTreeMap`'s `Deserialize` did.
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<JsonMap, A::Error> {
        let mut pairs = Vec::with_capacity(map.size_hint().unwrap_or(0).min(4096));
        while let Some(pair) = map.next_entry::<String, JsonValue>()? {
            pairs.push(pair);
        }
        Ok(pairs.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn int(i: i64) -> JsonValue {
        JsonValue::Integer(i)
    }

    #[test]
    fn members_come_out_in_key_order_whatever_the_insert_order() {
        let mut map = JsonMap::new();
        for key in ["m", "b", "z", "a", "B", "é", "ab"] {
            assert_eq!(map.insert(key.to_owned(), int(1)), None);
        }
        let keys: Vec<&str> = map.iter().map(|(k, _)| k.as_str()).collect();
        // Byte order, as `String`'s `Ord` (and so `BTreeMap`) sorts.
        assert_eq!(keys, ["B", "a", "ab", "b", "m", "z", "é"]);
        assert_eq!(map.len(), 7);
    }

    #[test]
    fn inserting_a_key_again_replaces_its_value() {
        let mut map = JsonMap::new();
        assert_eq!(map.insert("a".into(), int(1)), None);
        assert_eq!(map.insert("a".into(), int(2)), Some(int(1)));
        assert_eq!(map.len(), 1);
        assert_eq!(map.get("a"), Some(&int(2)));
        assert_eq!(map["a"], int(2));
    }

    #[test]
    fn get_remove_and_contains_find_only_present_keys() {
        let mut map = JsonMap::from([("a".to_owned(), int(1)), ("c".to_owned(), int(3))]);
        assert_eq!(map.get("b"), None);
        assert!(map.contains_key("c"));
        assert!(!map.contains_key("b"));
        assert_eq!(map.remove("b"), None);
        assert_eq!(map.remove("a"), Some(int(1)));
        assert_eq!(map.get("a"), None);
        assert!(!map.is_empty());
        assert_eq!(map.remove("c"), Some(int(3)));
        assert!(map.is_empty());
    }

    #[test]
    fn collecting_keeps_the_last_value_of_a_repeated_key() {
        let map: JsonMap = [
            ("b".to_owned(), int(1)),
            ("a".to_owned(), int(2)),
            ("b".to_owned(), int(3)),
            ("a".to_owned(), int(4)),
            ("b".to_owned(), int(5)),
        ]
        .into_iter()
        .collect();
        let pairs: Vec<(String, JsonValue)> = map.into_iter().collect();
        assert_eq!(pairs, [("a".to_owned(), int(4)), ("b".to_owned(), int(5))]);
    }

    /// The same operations on a `JsonMap` and a `BTreeMap` give the same answers, the same
    /// members in the same order, and equal maps compare equal.
    #[test]
    fn behaves_as_a_btree_map() {
        let mut ours = JsonMap::new();
        let mut theirs = BTreeMap::new();
        // A fixed pseudo-random sequence of keys (some repeated) and operations.
        let mut seed: u32 = 7;
        for step in 0..2000_i64 {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let key = format!("k{}", (seed >> 16) % 97);
            if seed.is_multiple_of(5) {
                assert_eq!(ours.remove(&key), theirs.remove(&key));
            } else {
                assert_eq!(
                    ours.insert(key.clone(), int(step)),
                    theirs.insert(key, int(step))
                );
            }
        }
        let ours_pairs: Vec<_> = ours.iter().collect();
        let theirs_pairs: Vec<_> = theirs.iter().collect();
        assert_eq!(ours_pairs, theirs_pairs);
        assert_eq!(ours.len(), theirs.len());
        let collected: JsonMap = theirs.clone().into_iter().collect();
        assert_eq!(collected, ours);
        assert_eq!(format!("{ours:?}"), format!("{theirs:?}"));
    }

    #[test]
    fn serde_reads_and_writes_it_as_a_map_with_sorted_keys() {
        let map: JsonMap =
            serde_json::from_str(r#"{"b":[1],"a":{"y":null,"x":true},"b":"last"}"#).expect("a map");
        assert_eq!(map["b"], JsonValue::String("last".into()));
        let text = serde_json::to_string(&map).expect("written");
        assert_eq!(text, r#"{"a":{"x":true,"y":null},"b":"last"}"#);
        let back: JsonMap = serde_json::from_str(&text).expect("read back");
        assert_eq!(back, map);
        assert!(serde_json::from_str::<JsonMap>("[1]").is_err());
    }
}
