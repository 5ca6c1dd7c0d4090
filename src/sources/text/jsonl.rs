//! One JSON object per line, flattened as it is parsed: nested objects give dotted names
//! (`cpu.user`), arrays indexed ones (`xs.0`), and every leaf goes straight to a callback, with
//! no intermediate `serde_json::Value` (about twice as fast on 100-byte lines).

use std::borrow::Cow;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// A leaf of a flattened object.
#[derive(Debug, Clone, PartialEq)]
pub enum Leaf<'a> {
    Number(f64),
    Bool(bool),
    Text(Cow<'a, str>),
}

/// Deepest nesting followed; deeper values are skipped (serde_json itself stops at 128).
const MAX_DEPTH: usize = 32;

/// Parses `line` as one JSON object and calls `leaf(name, value)` for each leaf in order.
/// `null`s are skipped. A line that is not one object is an error saying why.
pub fn flatten_object<'a>(
    line: &'a str,
    path: &mut String,
    leaf: &mut dyn FnMut(&str, Leaf<'a>),
) -> Result<(), String> {
    path.clear();
    let mut de = serde_json::Deserializer::from_str(line);
    let seed = Node {
        path,
        leaf,
        depth: 0,
        top: true,
    };
    seed.deserialize(&mut de).map_err(|e| describe(&e))?;
    de.end().map_err(|e| describe(&e))
}

fn describe(e: &serde_json::Error) -> String {
    let message = e.to_string();
    // serde_json appends " at line 1 column N"; the line is ours, the column is useful.
    match message.rsplit_once(" at line 1 column ") {
        Some((what, column)) => format!("not a JSON object: {what} (column {column})"),
        None => format!("not a JSON object: {message}"),
    }
}

struct Node<'p, 'f, 'a> {
    path: &'p mut String,
    leaf: &'f mut dyn FnMut(&str, Leaf<'a>),
    depth: usize,
    top: bool,
}

impl<'de> DeserializeSeed<'de> for Node<'_, '_, 'de> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        if self.top {
            d.deserialize_map(self)
        } else {
            d.deserialize_any(self)
        }
    }
}

impl<'de> Visitor<'de> for Node<'_, '_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(if self.top {
            "an object"
        } else {
            "a JSON value"
        })
    }

    fn visit_bool<E>(self, v: bool) -> Result<(), E> {
        (self.leaf)(self.path, Leaf::Bool(v));
        Ok(())
    }

    fn visit_i64<E>(self, v: i64) -> Result<(), E> {
        (self.leaf)(self.path, Leaf::Number(v as f64));
        Ok(())
    }

    fn visit_u64<E>(self, v: u64) -> Result<(), E> {
        (self.leaf)(self.path, Leaf::Number(v as f64));
        Ok(())
    }

    fn visit_f64<E>(self, v: f64) -> Result<(), E> {
        (self.leaf)(self.path, Leaf::Number(v));
        Ok(())
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<(), E> {
        (self.leaf)(self.path, Leaf::Text(Cow::Borrowed(v)));
        Ok(())
    }

    fn visit_str<E>(self, v: &str) -> Result<(), E> {
        (self.leaf)(self.path, Leaf::Text(Cow::Owned(v.to_owned())));
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let base = self.path.len();
        while map
            .next_key_seed(Key {
                path: self.path,
                dot: !self.top,
            })?
            .is_some()
        {
            if self.depth >= MAX_DEPTH {
                map.next_value::<serde::de::IgnoredAny>()?;
            } else {
                map.next_value_seed(Node {
                    path: self.path,
                    leaf: self.leaf,
                    depth: self.depth + 1,
                    top: false,
                })?;
            }
            self.path.truncate(base);
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let base = self.path.len();
        let mut index = 0usize;
        loop {
            use std::fmt::Write;
            let _ = write!(self.path, ".{index}");
            let more = if self.depth >= MAX_DEPTH {
                seq.next_element::<serde::de::IgnoredAny>()?.is_some()
            } else {
                seq.next_element_seed(Node {
                    path: self.path,
                    leaf: self.leaf,
                    depth: self.depth + 1,
                    top: false,
                })?
                .is_some()
            };
            self.path.truncate(base);
            if !more {
                return Ok(());
            }
            index += 1;
        }
    }
}

/// A key, appended to the path (after a dot below the top level).
struct Key<'p> {
    path: &'p mut String,
    dot: bool,
}

impl<'de> DeserializeSeed<'de> for Key<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E>(self, v: &str) -> Result<(), E> {
        if self.dot {
            self.path.push('.');
        }
        self.path.push_str(v);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(line: &str) -> Result<Vec<(String, Leaf<'_>)>, String> {
        let mut out = Vec::new();
        let mut path = String::new();
        flatten_object(line, &mut path, &mut |name, leaf| {
            out.push((name.to_owned(), leaf))
        })?;
        Ok(out)
    }

    #[test]
    fn nested_objects_and_arrays_are_flattened_in_order() {
        let got = leaves(r#"{"a":1,"cpu":{"user":2.5,"sys":{"k":-3}},"ok":true,"n":null,"s":"x\ty","xs":[4,{"b":5}]}"#)
            .unwrap();
        let want = vec![
            ("a".to_owned(), Leaf::Number(1.0)),
            ("cpu.user".to_owned(), Leaf::Number(2.5)),
            ("cpu.sys.k".to_owned(), Leaf::Number(-3.0)),
            ("ok".to_owned(), Leaf::Bool(true)),
            ("s".to_owned(), Leaf::Text("x\ty".into())),
            ("xs.0".to_owned(), Leaf::Number(4.0)),
            ("xs.1.b".to_owned(), Leaf::Number(5.0)),
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn non_objects_and_broken_lines_say_why() {
        assert!(leaves("42").unwrap_err().contains("expected an object"));
        assert!(leaves("[1]").unwrap_err().contains("expected an object"));
        let err = leaves(r#"{"a":1"#).unwrap_err();
        assert!(err.starts_with("not a JSON object: EOF"), "{err}");
        let err = leaves(r#"{"a":1} x"#).unwrap_err();
        assert!(err.contains("trailing characters"), "{err}");
        assert!(leaves("{}").unwrap().is_empty());
    }
}
