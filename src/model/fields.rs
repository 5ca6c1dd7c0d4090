//! The fields of an event record: a map from name to value whose names are stored once per
//! shape and shared by every record of that shape.
//!
//! A CSV of 10 columns gives 10 named values per row, and a log line gives the same handful
//! of keys on every line. Stored as a `BTreeMap<String, _>`, each record allocated and compared
//! every name again; that was most of the cost of parsing a row. Here the names live in a
//! sorted, shared [`FieldNames`], and a record holds one value slot per name. A parser that
//! sees the same shape again reuses the names (an `Arc` clone) and only fills in values.
//!
//! [`Fields`] behaves as the sorted map it replaces: iteration is in byte-wise name order,
//! `get` finds a name, equality compares the present pairs, and serde writes it as a map, so
//! traces and the wire format are unchanged.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::FieldValue;
use super::order;

/// Field names sorted byte-wise, without repeats, shared by every record of one shape.
///
/// One pointer wide (an `Arc` of a `Vec`, not of a slice), so that [`Value`](super::Value)
/// stays as small as it was with a `BTreeMap`: every record carries a `Value`.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct FieldNames(Arc<Vec<Box<str>>>);

impl FieldNames {
    /// The names of a shape given in any order, with repeats; also, for each given name, the
    /// slot it has in the sorted names (repeats share a slot).
    pub fn from_unsorted<S: AsRef<str>>(names: &[S]) -> (Self, Vec<usize>) {
        let mut order: Vec<usize> = (0..names.len()).collect();
        // Repeats of a name in the order given, as a stable sort would leave them.
        order::sort_unstable_by(&mut order, |&a, &b| {
            names[a].as_ref().cmp(names[b].as_ref()).then(a.cmp(&b))
        });
        let mut sorted: Vec<Box<str>> = Vec::with_capacity(names.len());
        let mut slots = vec![0; names.len()];
        for i in order {
            let name = names[i].as_ref();
            if sorted.last().is_none_or(|last| &**last != name) {
                sorted.push(name.into());
            }
            slots[i] = sorted.len() - 1;
        }
        (Self(Arc::new(sorted)), slots)
    }

    /// The slot of `name`, if the shape has it.
    pub fn slot(&self, name: &str) -> Option<usize> {
        self.0.binary_search_by(|n| (**n).cmp(name)).ok()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The names, sorted.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &str> {
        self.0.iter().map(|n| &**n)
    }

    /// Whether two shapes are the same allocation (a cheap check before comparing names).
    pub fn same_as(&self, other: &FieldNames) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl fmt::Debug for FieldNames {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// The fields of one event record: values in the slots of a shared [`FieldNames`]. A slot
/// may be empty (a CSV row's blank cell), and then the record has no such field.
#[derive(Clone, Default)]
pub struct Fields {
    names: FieldNames,
    values: Box<[Option<FieldValue>]>,
}

impl Fields {
    /// No fields.
    pub fn new() -> Self {
        Self::default()
    }

    /// A record of the shape `names` with every slot empty; fill it with [`Fields::set`].
    pub fn with_names(names: FieldNames) -> Self {
        let values = vec![None; names.len()].into_boxed_slice();
        Self { names, values }
    }

    /// Puts `value` in `slot` (an index into the names), replacing what was there.
    ///
    /// # Panics
    /// When `slot` is not below the number of names.
    pub fn set(&mut self, slot: usize, value: FieldValue) {
        self.values[slot] = Some(value);
    }

    /// The value of the field `name`, if the record has it.
    pub fn get(&self, name: &str) -> Option<&FieldValue> {
        self.names
            .slot(name)
            .and_then(|slot| self.values[slot].as_ref())
    }

    pub fn contains_key(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// How many fields the record has: a count over the slots, so linear in the shape's size
    /// (see [`Fields::slots`] for the shape's size alone).
    pub fn len(&self) -> usize {
        self.values.iter().filter(|v| v.is_some()).count()
    }

    pub fn is_empty(&self) -> bool {
        self.values.iter().all(Option::is_none)
    }

    /// The number of names in the shape: at least [`Fields::len`], known at once.
    pub fn slots(&self) -> usize {
        self.values.len()
    }

    /// The shape's names (including those of empty slots).
    pub fn names(&self) -> &FieldNames {
        &self.names
    }

    /// The fields, in byte-wise name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &FieldValue)> {
        self.names
            .0
            .iter()
            .zip(&self.values)
            .filter_map(|(name, value)| Some((&**name, value.as_ref()?)))
    }

    /// The field names, in order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.iter().map(|(name, _)| name)
    }
}

impl<'a> IntoIterator for &'a Fields {
    type Item = (&'a str, &'a FieldValue);
    type IntoIter = Box<dyn Iterator<Item = (&'a str, &'a FieldValue)> + 'a>;

    fn into_iter(self) -> Self::IntoIter {
        Box::new(self.iter())
    }
}

/// From pairs in any order; of repeated names the last one wins, as with a map's `insert`.
impl<K: AsRef<str>> FromIterator<(K, FieldValue)> for Fields {
    fn from_iter<I: IntoIterator<Item = (K, FieldValue)>>(pairs: I) -> Self {
        let (names, values): (Vec<K>, Vec<FieldValue>) = pairs.into_iter().unzip();
        let (shape, slots) = FieldNames::from_unsorted(&names);
        let mut fields = Fields::with_names(shape);
        for (slot, value) in slots.into_iter().zip(values) {
            fields.set(slot, value);
        }
        fields
    }
}

impl<K: AsRef<str>, const N: usize> From<[(K, FieldValue); N]> for Fields {
    fn from(pairs: [(K, FieldValue); N]) -> Self {
        pairs.into_iter().collect()
    }
}

/// `fields["name"]`, as with a map: panics when the record has no such field.
impl std::ops::Index<&str> for Fields {
    type Output = FieldValue;

    fn index(&self, name: &str) -> &FieldValue {
        self.get(name)
            .unwrap_or_else(|| panic!("no field {name:?} in {self:?}"))
    }
}

impl From<BTreeMap<String, FieldValue>> for Fields {
    fn from(map: BTreeMap<String, FieldValue>) -> Self {
        map.into_iter().collect()
    }
}

impl PartialEq for Fields {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

impl fmt::Debug for Fields {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// As a map of the present fields in name order: the same bytes a `BTreeMap<String, _>` gave.
impl Serialize for Fields {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.len()))?;
        for (name, value) in self.iter() {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Fields {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FieldsVisitor;

        impl<'de> Visitor<'de> for FieldsVisitor {
            type Value = Fields;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of field names to values")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Fields, A::Error> {
                // Bounded by what the input holds, not by the length it claims.
                let mut pairs: Vec<(String, FieldValue)> =
                    Vec::with_capacity(access.size_hint().unwrap_or(0).min(4096));
                while let Some(pair) = access.next_entry()? {
                    pairs.push(pair);
                }
                Ok(pairs.into_iter().collect())
            }
        }

        deserializer.deserialize_map(FieldsVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(x: f64) -> FieldValue {
        FieldValue::Number(x)
    }

    #[test]
    fn a_value_is_no_larger_than_with_a_map() {
        // 32 bytes, as when `Value::Fields` held a `BTreeMap<String, FieldValue>`.
        assert_eq!(size_of::<super::super::Value>(), 32);
    }

    #[test]
    fn names_are_sorted_bytewise_and_repeats_share_a_slot() {
        let (names, slots) = FieldNames::from_unsorted(&["b", "a", "B", "b", "é"]);
        assert_eq!(names.iter().collect::<Vec<_>>(), ["B", "a", "b", "é"]);
        assert_eq!(slots, [2, 1, 0, 2, 3]);
        assert_eq!(names.slot("b"), Some(2));
        assert_eq!(names.slot("c"), None);
    }

    #[test]
    fn fields_behave_as_the_sorted_map_they_replace() {
        let pairs = [
            ("z", num(1.0)),
            ("a", num(2.0)),
            ("m", num(3.0)),
            ("a", num(4.0)),
        ];
        let fields: Fields = pairs.iter().cloned().collect();
        let map: BTreeMap<String, FieldValue> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        assert_eq!(fields.len(), map.len());
        assert!(fields.iter().eq(map.iter().map(|(k, v)| (k.as_str(), v))));
        assert_eq!(
            fields.get("a"),
            Some(&num(4.0)),
            "the last of a repeated name wins"
        );
        assert_eq!(fields.get("b"), None);
        assert_eq!(Fields::from(map.clone()), fields);
    }

    #[test]
    fn empty_slots_are_not_fields() {
        let (names, _) = FieldNames::from_unsorted(&["a", "b", "c"]);
        let mut row = Fields::with_names(names.clone());
        row.set(2, num(1.0));
        row.set(0, FieldValue::Bool(true));
        assert_eq!((row.len(), row.slots()), (2, 3));
        assert_eq!(row.keys().collect::<Vec<_>>(), ["a", "c"]);
        assert!(!row.contains_key("b"));
        // Equal to the same pairs in another shape.
        let other: Fields = [("c", num(1.0)), ("a", FieldValue::Bool(true))]
            .into_iter()
            .collect();
        assert_eq!(row, other);
        assert!(!row.names().same_as(other.names()));
        row.set(1, num(0.0));
        assert_ne!(row, other);
    }

    #[test]
    fn serialized_as_the_map_it_replaces() {
        let map: BTreeMap<String, FieldValue> = [
            ("status".to_string(), FieldValue::Text("ok".into())),
            ("latency".to_string(), num(12.5)),
            ("error".to_string(), FieldValue::Bool(false)),
        ]
        .into();
        let fields = Fields::from(map.clone());
        let bytes = to_json(&fields);
        assert_eq!(bytes, to_json(&map));
        let back: Fields = serde_json::from_str(&bytes).unwrap();
        assert_eq!(back, fields);
    }

    /// JSON stands in for any map format (postcard is not a dependency of the model alone).
    fn to_json<T: Serialize>(value: &T) -> String {
        serde_json::to_string(value).unwrap()
    }
}
