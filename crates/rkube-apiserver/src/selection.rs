//! Label and field selectors of lists, watches and deletecollection, applied to stored
//! objects.

use std::collections::HashMap;

use rkube_store::KeyValue;
use serde_json::Value;

use crate::object;
use crate::registry::Served;
use crate::rest::parse_stored;
use crate::status::{ApiError, Result};

/// Label and field selectors of a list or watch.
pub struct Filter {
    info: rkube_api::ResourceInfo,
    labels: rkube_api::selector::LabelSelector,
    fields: rkube_api::fields::FieldSelector,
}

impl Filter {
    /// The selectors of `labelSelector` and `fieldSelector`; a bad selector is 400.
    pub fn from_query(served: &Served, query: &HashMap<String, String>) -> Result<Filter> {
        let labels = match query.get("labelSelector").filter(|s| !s.is_empty()) {
            Some(s) => rkube_api::selector::LabelSelector::parse(s)
                .map_err(|e| ApiError::bad_request(format!("unable to parse requirement: {e}")))?,
            None => rkube_api::selector::LabelSelector::everything(),
        };
        let fields = match query.get("fieldSelector").filter(|s| !s.is_empty()) {
            Some(s) => {
                let f = rkube_api::fields::FieldSelector::parse(s)
                    .map_err(|e| ApiError::bad_request(e.to_string()))?;
                f.validate_for(&served.info)
                    .map_err(|e| ApiError::bad_request(e.to_string()))?;
                f
            }
            None => rkube_api::fields::FieldSelector::default(),
        };
        Ok(Filter {
            info: served.info.clone(),
            labels,
            fields,
        })
    }

    /// Whether the filter selects everything.
    pub fn is_everything(&self) -> bool {
        self.labels.is_empty() && self.fields.is_empty()
    }

    /// Whether a stored object matches.
    pub fn matches_raw(&self, kv: &KeyValue) -> Result<bool> {
        if self.is_everything() {
            return Ok(true);
        }
        let obj = parse_stored(kv)?;
        Ok(self.matches(&obj))
    }

    /// Whether an object matches.
    pub fn matches(&self, obj: &Value) -> bool {
        let empty = serde_json::Map::new();
        self.labels.matches(object::labels(obj).unwrap_or(&empty))
            && self.fields.matches(&self.info, obj)
    }
}
