//! Sets of field paths, as `metadata.managedFields[].fieldsV1` encodes them
//! (structured-merge-diff's `fieldpath.Set`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde_json::{Map, Value};

/// One step of a field path. The variant order is the order upstream serializes them in.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PathElement {
    /// A field of a struct or a key of a map: `f:name`.
    Field(String),
    /// An item of an associative list, by its key fields as a JSON object: `k:{"name":"a"}`.
    Key(String),
    /// An item of a set-type list of primitives, as JSON: `v:"a"`.
    Value(String),
    /// An item of a list by position (atomic lists never get here): `i:0`.
    Index(usize),
}

impl PathElement {
    /// The `fieldsV1` key of this element.
    pub fn to_fields_v1_key(&self) -> String {
        match self {
            PathElement::Field(name) => format!("f:{name}"),
            PathElement::Key(key) => format!("k:{key}"),
            PathElement::Value(value) => format!("v:{value}"),
            PathElement::Index(index) => format!("i:{index}"),
        }
    }

    /// Parses a `fieldsV1` key (`f:`, `k:`, `v:`, `i:`).
    pub fn from_fields_v1_key(key: &str) -> Option<PathElement> {
        let (prefix, rest) = key.split_at_checked(2)?;
        match prefix {
            "f:" => Some(PathElement::Field(rest.to_string())),
            "k:" => {
                let parsed: Value = serde_json::from_str(rest).ok()?;
                parsed
                    .is_object()
                    .then(|| PathElement::Key(parsed.to_string()))
            }
            "v:" => {
                let parsed: Value = serde_json::from_str(rest).ok()?;
                Some(PathElement::Value(parsed.to_string()))
            }
            "i:" => rest.parse().ok().map(PathElement::Index),
            _ => None,
        }
    }
}

impl fmt::Display for PathElement {
    /// Upstream's path notation: `.name`, `[name="a",protocol="TCP"]`, `[="a"]`, `[0]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathElement::Field(name) => write!(f, ".{name}"),
            PathElement::Key(key) => {
                let parsed: Map<String, Value> = serde_json::from_str(key).unwrap_or_default();
                let parts: Vec<String> = parsed.iter().map(|(k, v)| format!("{k}={v}")).collect();
                write!(f, "[{}]", parts.join(","))
            }
            PathElement::Value(value) => write!(f, "[={value}]"),
            PathElement::Index(index) => write!(f, "[{index}]"),
        }
    }
}

/// A path from the object root.
pub type FieldPath = Vec<PathElement>;

/// Formats a path the way conflict messages show it: `.spec.containers[name="a"].image`.
pub fn format_path(path: &[PathElement]) -> String {
    path.iter().map(ToString::to_string).collect()
}

/// A set of paths stored as a tree: `members` end here, `children` continue.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSet {
    members: BTreeSet<PathElement>,
    children: BTreeMap<PathElement, FieldSet>,
}

impl FieldSet {
    /// The empty set.
    pub fn new() -> Self {
        FieldSet::default()
    }

    /// Whether the set holds no path.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty() && self.children.values().all(FieldSet::is_empty)
    }

    /// Adds `path`; the empty path is ignored.
    pub fn insert(&mut self, path: &[PathElement]) {
        match path {
            [] => {}
            [last] => {
                self.members.insert(last.clone());
            }
            [first, rest @ ..] => self.children.entry(first.clone()).or_default().insert(rest),
        }
    }

    /// Whether `path` itself is in the set.
    pub fn has(&self, path: &[PathElement]) -> bool {
        match path {
            [] => false,
            [last] => self.members.contains(last),
            [first, rest @ ..] => self
                .children
                .get(first)
                .is_some_and(|child| child.has(rest)),
        }
    }

    /// Whether `path` or any path below it is in the set.
    pub fn covers(&self, path: &[PathElement]) -> bool {
        match path {
            [] => !self.is_empty(),
            [last] => {
                self.members.contains(last)
                    || self.children.get(last).is_some_and(|c| !c.is_empty())
            }
            [first, rest @ ..] => self
                .children
                .get(first)
                .is_some_and(|child| child.covers(rest)),
        }
    }

    /// The subtree below `element`.
    pub fn child(&self, element: &PathElement) -> Option<&FieldSet> {
        self.children.get(element)
    }

    /// Elements that are members at this level.
    pub fn members(&self) -> impl Iterator<Item = &PathElement> {
        self.members.iter()
    }

    /// Elements with a subtree at this level.
    pub fn child_elements(&self) -> impl Iterator<Item = &PathElement> {
        self.children.keys()
    }

    /// Paths in either set.
    pub fn union(&self, other: &FieldSet) -> FieldSet {
        let mut out = self.clone();
        out.members.extend(other.members.iter().cloned());
        for (element, child) in &other.children {
            let merged = match out.children.get(element) {
                Some(mine) => mine.union(child),
                None => child.clone(),
            };
            out.children.insert(element.clone(), merged);
        }
        out
    }

    /// Paths of `self` not in `other` (member by member, like upstream's `Difference`).
    pub fn difference(&self, other: &FieldSet) -> FieldSet {
        let members = self.members.difference(&other.members).cloned().collect();
        let mut children = BTreeMap::new();
        for (element, child) in &self.children {
            let rest = match other.children.get(element) {
                Some(theirs) => child.difference(theirs),
                None => child.clone(),
            };
            if !rest.is_empty() {
                children.insert(element.clone(), rest);
            }
        }
        FieldSet { members, children }
    }

    /// Paths in both sets.
    pub fn intersection(&self, other: &FieldSet) -> FieldSet {
        let members = self.members.intersection(&other.members).cloned().collect();
        let mut children = BTreeMap::new();
        for (element, child) in &self.children {
            if let Some(theirs) = other.children.get(element) {
                let both = child.intersection(theirs);
                if !both.is_empty() {
                    children.insert(element.clone(), both);
                }
            }
        }
        FieldSet { members, children }
    }

    /// Every path of the set, in serialization order.
    pub fn paths(&self) -> Vec<FieldPath> {
        let mut out = Vec::new();
        self.collect_paths(&mut Vec::new(), &mut out);
        out
    }

    fn collect_paths(&self, prefix: &mut FieldPath, out: &mut Vec<FieldPath>) {
        let elements: BTreeSet<&PathElement> =
            self.members.iter().chain(self.children.keys()).collect();
        for element in elements {
            prefix.push(element.clone());
            if self.members.contains(element) {
                out.push(prefix.clone());
            }
            if let Some(child) = self.children.get(element) {
                child.collect_paths(prefix, out);
            }
            prefix.pop();
        }
    }

    /// The `fieldsV1` JSON form: `{"f:spec":{"f:replicas":{}}}`, with `".":{}` marking a path
    /// that is a member and also has children.
    pub fn to_fields_v1(&self) -> Value {
        let mut out = Map::new();
        let elements: BTreeSet<&PathElement> =
            self.members.iter().chain(self.children.keys()).collect();
        for element in elements {
            let mut node = match self.children.get(element) {
                Some(child) if !child.is_empty() => match child.to_fields_v1() {
                    Value::Object(map) => map,
                    _ => Map::new(),
                },
                _ => Map::new(),
            };
            if self.members.contains(element) && !node.is_empty() {
                let mut with_dot = Map::new();
                with_dot.insert(".".into(), Value::Object(Map::new()));
                with_dot.extend(node);
                node = with_dot;
            }
            out.insert(element.to_fields_v1_key(), Value::Object(node));
        }
        Value::Object(out)
    }

    /// Parses the `fieldsV1` JSON form; `None` when it is malformed.
    pub fn from_fields_v1(value: &Value) -> Option<FieldSet> {
        let Value::Object(map) = value else {
            return None;
        };
        let mut set = FieldSet::new();
        for (key, child) in map {
            if key == "." {
                continue;
            }
            let element = PathElement::from_fields_v1_key(key)?;
            let Value::Object(child_map) = child else {
                return None;
            };
            if child_map.is_empty() || child_map.contains_key(".") {
                set.members.insert(element.clone());
            }
            if child_map.keys().any(|k| k != ".") {
                let sub = FieldSet::from_fields_v1(child)?;
                if !sub.is_empty() {
                    set.children.insert(element, sub);
                }
            }
        }
        Some(set)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn field(name: &str) -> PathElement {
        PathElement::Field(name.into())
    }

    #[test]
    fn fields_v1_round_trips() {
        let encoded = json!({
            "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
            "f:spec": {"f:containers": {"k:{\"name\":\"nginx\"}": {".": {}, "f:image": {}, "f:name": {}}}}
        });
        let set = FieldSet::from_fields_v1(&encoded).expect("valid fieldsV1");
        assert!(set.has(&[field("metadata"), field("labels")]));
        assert!(set.has(&[
            field("spec"),
            field("containers"),
            PathElement::Key(r#"{"name":"nginx"}"#.into())
        ]));
        assert!(!set.has(&[field("spec")]));
        assert_eq!(set.to_fields_v1(), encoded);
    }

    #[test]
    fn set_operations() {
        let mut a = FieldSet::new();
        a.insert(&[field("spec"), field("replicas")]);
        a.insert(&[field("spec"), field("paused")]);
        let mut b = FieldSet::new();
        b.insert(&[field("spec"), field("replicas")]);
        assert_eq!(a.intersection(&b), b);
        let rest = a.difference(&b);
        assert_eq!(rest.paths(), vec![vec![field("spec"), field("paused")]]);
        assert!(a.covers(&[field("spec")]));
        assert!(a.union(&b).has(&[field("spec"), field("paused")]));
        assert!(b.difference(&a).is_empty());
    }

    #[test]
    fn paths_display_like_upstream() {
        let path = vec![
            field("spec"),
            field("containers"),
            PathElement::Key(r#"{"name":"nginx"}"#.into()),
            field("image"),
        ];
        assert_eq!(
            format_path(&path),
            r#".spec.containers[name="nginx"].image"#
        );
        assert_eq!(
            format_path(&[
                field("metadata"),
                field("finalizers"),
                PathElement::Value("\"a\"".into())
            ]),
            r#".metadata.finalizers[="a"]"#
        );
    }
}
