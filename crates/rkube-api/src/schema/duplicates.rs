//! Duplicate keys in raw JSON. `serde_json::Value` keeps the last of repeated keys silently;
//! strict field validation must report them (`duplicate field "spec.replicas"`), so the raw
//! bytes are walked with a visitor that remembers the keys of every object.

use std::collections::HashSet;
use std::fmt;

use serde::Deserializer;
use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};

use super::{Error, Result, child_path};

/// Paths of keys that repeat within one JSON object, in document order, e.g. `spec.replicas`
/// or `spec.containers[0].name`. Each repeat is reported once per extra occurrence.
pub fn duplicate_fields(raw_json: &[u8]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut deserializer = serde_json::Deserializer::from_slice(raw_json);
    DuplicateFinder {
        path: String::new(),
        out: &mut out,
    }
    .deserialize(&mut deserializer)
    .map_err(Error::Json)?;
    deserializer.end().map_err(Error::Json)?;
    Ok(out)
}

/// Visits one JSON value at `path`, pushing duplicate key paths to `out`.
struct DuplicateFinder<'o> {
    path: String,
    out: &'o mut Vec<String>,
}

impl<'de> DeserializeSeed<'de> for DuplicateFinder<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> std::result::Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for DuplicateFinder<'_> {
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> std::result::Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> std::result::Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> std::result::Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> std::result::Result<(), E> {
        Ok(())
    }

    fn visit_str<E>(self, _: &str) -> std::result::Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> std::result::Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<(), A::Error> {
        let mut index = 0usize;
        loop {
            let seed = DuplicateFinder {
                path: format!("{}[{index}]", self.path),
                out: &mut *self.out,
            };
            if seq.next_element_seed(seed)?.is_none() {
                return Ok(());
            }
            index += 1;
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<(), A::Error> {
        let mut seen: HashSet<String> = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            let path = child_path(&self.path, &key);
            if !seen.insert(key) {
                self.out.push(path.clone());
            }
            map.next_value_seed(DuplicateFinder {
                path,
                out: &mut *self.out,
            })?;
        }
        Ok(())
    }
}
