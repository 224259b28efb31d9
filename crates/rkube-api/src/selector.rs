//! Label selectors: the string syntax (`a=b,c in (x,y),!d`) of `labelSelector` query
//! parameters and the `metav1.LabelSelector` objects (`matchLabels` / `matchExpressions`)
//! found in specs, with upstream's parsing, validation, matching and canonical string form.

mod parser;

use std::fmt;

use serde_json::{Map, Value};

/// Why a label selector could not be parsed or built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectorError {
    /// The string form is malformed; the message follows upstream `labels.Parse`.
    #[error("{0}")]
    Syntax(String),
    /// A requirement in the string form is malformed or invalid (upstream wraps these in
    /// `unable to parse requirement: `).
    #[error("unable to parse requirement: {0}")]
    Requirement(String),
    /// A `metav1.LabelSelector` object is invalid (bad operator, key or value).
    #[error("{0}")]
    Invalid(String),
}

/// Result of selector operations.
pub type Result<T, E = SelectorError> = std::result::Result<T, E>;

/// A requirement's operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    /// `key in (a,b)`.
    In,
    /// `key notin (a,b)`.
    NotIn,
    /// `key=value`.
    Equals,
    /// `key==value`.
    DoubleEquals,
    /// `key!=value`.
    NotEquals,
    /// `key`.
    Exists,
    /// `!key`.
    DoesNotExist,
    /// `key>value` (integers).
    GreaterThan,
    /// `key<value` (integers).
    LessThan,
}

/// One `key op values` term of a selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    /// The label key.
    pub key: String,
    /// The operator.
    pub operator: Operator,
    /// The values (sorted as upstream prints them).
    pub values: Vec<String>,
}

/// Where a requirement came from: decides how validation errors are worded.
#[derive(Clone, Copy)]
pub(super) enum Origin {
    Parse,
    Object,
}

impl Requirement {
    /// Builds and validates a requirement like upstream `labels.NewRequirement`.
    pub fn new(key: &str, operator: Operator, mut values: Vec<String>) -> Result<Self> {
        Self::build(key, operator, &mut values, Origin::Object)?;
        values.sort();
        Ok(Requirement {
            key: key.to_string(),
            operator,
            values,
        })
    }

    pub(super) fn build(
        key: &str,
        operator: Operator,
        values: &mut [String],
        origin: Origin,
    ) -> Result<()> {
        let wrap = |msg: String| match origin {
            Origin::Parse => SelectorError::Requirement(msg),
            Origin::Object => SelectorError::Invalid(msg),
        };
        validate_key(key, "key").map_err(wrap)?;
        match operator {
            Operator::In | Operator::NotIn if values.is_empty() => {
                return Err(wrap(
                    "values: Invalid value: \"[]\": for 'in', 'notin' operators, values set can't be empty".to_string(),
                ));
            }
            Operator::Equals | Operator::DoubleEquals | Operator::NotEquals
                if values.len() != 1 =>
            {
                return Err(wrap(format!(
                    "values: Invalid value: \"{}\": exact-match compatibility requires one single value",
                    go_list(values)
                )));
            }
            Operator::Exists | Operator::DoesNotExist if !values.is_empty() => {
                return Err(wrap(format!(
                    "values: Invalid value: \"{}\": values set must be empty for exists and does not exist",
                    go_list(values)
                )));
            }
            Operator::GreaterThan | Operator::LessThan => {
                if values.len() != 1 {
                    return Err(wrap(format!(
                        "values: Invalid value: \"{}\": for 'Gt', 'Lt' operators, exactly one value is required",
                        go_list(values)
                    )));
                }
                if values.iter().any(|v| v.parse::<i64>().is_err()) {
                    return Err(wrap(format!(
                        "values[0]: Invalid value: \"{}\": for 'Gt', 'Lt' operators, the value must be an integer",
                        go_list(values)
                    )));
                }
            }
            _ => {}
        }
        for (i, value) in values.iter().enumerate() {
            if let Err(msg) = validate_value(value) {
                return Err(wrap(format!(
                    "values[{i}][{key}]: Invalid value: {value:?}: {msg}"
                )));
            }
        }
        Ok(())
    }

    /// Whether the labels satisfy this requirement (upstream `Requirement.Matches`).
    pub fn matches(&self, labels: &Map<String, Value>) -> bool {
        let value = labels.get(&self.key).map(label_text);
        match self.operator {
            Operator::In | Operator::Equals | Operator::DoubleEquals => {
                value.is_some_and(|v| self.values.contains(&v))
            }
            Operator::NotIn | Operator::NotEquals => {
                value.is_none_or(|v| !self.values.contains(&v))
            }
            Operator::Exists => value.is_some(),
            Operator::DoesNotExist => value.is_none(),
            Operator::GreaterThan | Operator::LessThan => {
                let Some(have) = value.and_then(|v| v.parse::<i64>().ok()) else {
                    return false;
                };
                let Some(want) = self.values.first().and_then(|v| v.parse::<i64>().ok()) else {
                    return false;
                };
                if self.operator == Operator::GreaterThan {
                    have > want
                } else {
                    have < want
                }
            }
        }
    }
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let first = self.values.first().map(String::as_str).unwrap_or("");
        match self.operator {
            Operator::Exists => write!(f, "{}", self.key),
            Operator::DoesNotExist => write!(f, "!{}", self.key),
            Operator::Equals => write!(f, "{}={first}", self.key),
            Operator::DoubleEquals => write!(f, "{}=={first}", self.key),
            Operator::NotEquals => write!(f, "{}!={first}", self.key),
            Operator::GreaterThan => write!(f, "{}>{first}", self.key),
            Operator::LessThan => write!(f, "{}<{first}", self.key),
            Operator::In => write!(f, "{} in ({})", self.key, self.values.join(",")),
            Operator::NotIn => write!(f, "{} notin ({})", self.key, self.values.join(",")),
        }
    }
}

/// A label selector: a conjunction of requirements, or the selector that matches nothing
/// (what a null `metav1.LabelSelector` means).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LabelSelector {
    /// The requirements, sorted by key.
    pub requirements: Vec<Requirement>,
    /// True for the selector that matches nothing.
    pub nothing: bool,
}

impl LabelSelector {
    /// The selector that matches everything.
    pub fn everything() -> Self {
        LabelSelector::default()
    }

    /// The selector that matches nothing.
    pub fn nothing() -> Self {
        LabelSelector {
            requirements: Vec::new(),
            nothing: true,
        }
    }

    /// Parses the string syntax like upstream `labels.Parse`.
    pub fn parse(text: &str) -> Result<Self> {
        let mut requirements = parser::parse_requirements(text)?;
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(LabelSelector {
            requirements,
            nothing: false,
        })
    }

    /// Builds a selector from a `metav1.LabelSelector` object like upstream
    /// `LabelSelectorAsSelector`: null matches nothing, `{}` matches everything.
    pub fn from_json(selector: &Value) -> Result<Self> {
        let object = match selector {
            Value::Null => return Ok(Self::nothing()),
            Value::Object(object) => object,
            _ => {
                return Err(SelectorError::Invalid(
                    "label selector must be an object".to_string(),
                ));
            }
        };
        let mut requirements = Vec::new();
        if let Some(match_labels) = object.get("matchLabels").and_then(Value::as_object) {
            for (key, value) in match_labels {
                requirements.push(Requirement::new(
                    key,
                    Operator::Equals,
                    vec![label_text(value)],
                )?);
            }
        }
        if let Some(expressions) = object.get("matchExpressions").and_then(Value::as_array) {
            for expression in expressions {
                let key = expression.get("key").and_then(Value::as_str).unwrap_or("");
                let operator_text = expression
                    .get("operator")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let operator = match operator_text {
                    "In" => Operator::In,
                    "NotIn" => Operator::NotIn,
                    "Exists" => Operator::Exists,
                    "DoesNotExist" => Operator::DoesNotExist,
                    other => {
                        return Err(SelectorError::Invalid(format!(
                            "{other:?} is not a valid label selector operator"
                        )));
                    }
                };
                let values = expression
                    .get("values")
                    .and_then(Value::as_array)
                    .map(|values| values.iter().map(label_text).collect())
                    .unwrap_or_default();
                requirements.push(Requirement::new(key, operator, values)?);
            }
        }
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(LabelSelector {
            requirements,
            nothing: false,
        })
    }

    /// Whether the labels (an object's `metadata.labels`) satisfy the selector.
    pub fn matches(&self, labels: &Map<String, Value>) -> bool {
        !self.nothing && self.requirements.iter().all(|r| r.matches(labels))
    }

    /// Matches an object by its `metadata.labels` (absent labels count as none).
    pub fn matches_object(&self, object: &Value) -> bool {
        let empty = Map::new();
        let labels = object
            .pointer("/metadata/labels")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        self.matches(labels)
    }

    /// True for the selector that matches everything (no requirements).
    pub fn is_empty(&self) -> bool {
        !self.nothing && self.requirements.is_empty()
    }
}

impl fmt::Display for LabelSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, requirement) in self.requirements.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{requirement}")?;
        }
        Ok(())
    }
}

/// Upstream `metav1.FormatLabelSelector`: the canonical string, `<none>` when it is empty,
/// `<error>` when the object is invalid.
pub fn format_label_selector(selector: &Value) -> String {
    match LabelSelector::from_json(selector) {
        Ok(selector) => {
            let text = selector.to_string();
            if text.is_empty() {
                "<none>".to_string()
            } else {
                text
            }
        }
        Err(_) => "<error>".to_string(),
    }
}

/// Upstream `labels.FormatLabels`: `k=v` pairs sorted by key, `<none>` when empty.
pub fn format_labels(labels: Option<&Value>) -> String {
    let Some(labels) = labels.and_then(Value::as_object) else {
        return "<none>".to_string();
    };
    let mut pairs: Vec<(String, String)> = labels
        .iter()
        .map(|(k, v)| (k.clone(), label_text(v)))
        .collect();
    pairs.sort();
    let text = pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",");
    if text.is_empty() {
        "<none>".to_string()
    } else {
        text
    }
}

/// A label value as text (labels are strings; anything else is rendered as JSON).
fn label_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Go's `%v` of a string slice, as field errors print it.
fn go_list(values: &[String]) -> String {
    format!("[{}]", values.join(" "))
}

// ---------------------------------------------------------------------------------------
// Validation (upstream k8s.io/apimachinery/pkg/util/validation).

const QUALIFIED_NAME_MSG: &str = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const QUALIFIED_NAME_EXAMPLES: &str = " (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const DNS1123_SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL_VALUE_MSG: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";

/// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`, i.e. non-empty, alphanumeric ends.
fn is_qualified_name_part(s: &str) -> bool {
    let bytes = s.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => {
            first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && bytes
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        }
        _ => false,
    }
}

/// A lowercase RFC 1123 subdomain (labels of `[a-z0-9]([-a-z0-9]*[a-z0-9])?` joined by dots).
fn is_dns1123_subdomain(s: &str) -> bool {
    !s.is_empty()
        && s.split('.').all(|label| {
            let bytes = label.as_bytes();
            match (bytes.first(), bytes.last()) {
                (Some(first), Some(last)) => {
                    (first.is_ascii_lowercase() || first.is_ascii_digit())
                        && (last.is_ascii_lowercase() || last.is_ascii_digit())
                        && bytes
                            .iter()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
                }
                _ => false,
            }
        })
}

/// Upstream `IsQualifiedName`: the error messages joined by `; `, or Ok.
pub fn qualified_name_errors(value: &str) -> Vec<String> {
    let mut errors = Vec::new();
    let parts: Vec<&str> = value.split('/').collect();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                errors.push("prefix part must be non-empty".to_string());
            } else {
                if prefix.len() > 253 {
                    errors.push("prefix part must be no more than 253 characters".to_string());
                }
                if !is_dns1123_subdomain(prefix) {
                    errors.push(format!("prefix part {DNS1123_SUBDOMAIN_MSG}"));
                }
            }
            name
        }
        _ => {
            return vec![format!(
                "a qualified name {QUALIFIED_NAME_MSG}{QUALIFIED_NAME_EXAMPLES} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
            )];
        }
    };
    if name.is_empty() {
        errors.push("name part must be non-empty".to_string());
    } else if name.len() > 63 {
        errors.push("name part must be no more than 63 characters".to_string());
    }
    if !name.is_empty() && !is_qualified_name_part(name) {
        errors.push(format!("{QUALIFIED_NAME_MSG}{QUALIFIED_NAME_EXAMPLES}"));
    }
    errors
}

/// Upstream `IsValidLabelValue`: the error messages, empty when valid.
pub fn label_value_errors(value: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if value.len() > 63 {
        errors.push("must be no more than 63 characters".to_string());
    }
    if !value.is_empty() && !is_qualified_name_part(value) {
        errors.push(LABEL_VALUE_MSG.to_string());
    }
    errors
}

pub(super) fn validate_key(key: &str, field: &str) -> std::result::Result<(), String> {
    let errors = qualified_name_errors(key);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{field}: Invalid value: {key:?}: {}",
            errors.join("; ")
        ))
    }
}

fn validate_value(value: &str) -> std::result::Result<(), String> {
    let errors = label_value_errors(value);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labels(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }

    fn parse(text: &str) -> LabelSelector {
        match LabelSelector::parse(text) {
            Ok(s) => s,
            Err(e) => panic!("{text}: {e}"),
        }
    }

    #[test]
    fn empty_matches_everything() {
        let s = parse("");
        assert!(s.is_empty());
        assert!(s.matches(&labels(json!({"a": "b"}))));
        assert!(parse("   ").is_empty());
    }

    #[test]
    fn equality_and_inequality() {
        let l = labels(json!({"app": "web", "tier": "fe"}));
        assert!(parse("app=web").matches(&l));
        assert!(parse("app==web").matches(&l));
        assert!(!parse("app=db").matches(&l));
        assert!(parse("app!=db").matches(&l));
        assert!(
            parse("missing!=x").matches(&l),
            "!= matches objects without the label"
        );
        assert!(!parse("app!=web").matches(&l));
        assert!(parse(" app = web , tier=fe ").matches(&l));
        assert!(!parse("app=web,tier=be").matches(&l));
        assert!(parse("app=").matches(&labels(json!({"app": ""}))));
        assert!(!parse("app=").matches(&l));
    }

    #[test]
    fn set_based() {
        let l = labels(json!({"env": "prod"}));
        assert!(parse("env in (prod, dev)").matches(&l));
        assert!(!parse("env notin (prod)").matches(&l));
        assert!(parse("other notin (prod)").matches(&l));
        assert!(parse("env").matches(&l));
        assert!(!parse("!env").matches(&l));
        assert!(parse("!other").matches(&l));
        assert!(!parse("other").matches(&l));
        assert!(parse("env in (in,notin,prod)").matches(&l));
    }

    #[test]
    fn numeric() {
        let l = labels(json!({"n": "5"}));
        assert!(parse("n>3").matches(&l));
        assert!(!parse("n<3").matches(&l));
        assert!(LabelSelector::parse("n>x").is_err());
    }

    #[test]
    fn canonical_string() {
        assert_eq!(
            parse("b=1,a in (z, y),!c,d").to_string(),
            "a in (y,z),b=1,!c,d"
        );
        assert_eq!(parse("x==y,w!=v").to_string(), "w!=v,x==y");
        assert_eq!(parse("k in (,a)").to_string(), "k in (,a)");
    }

    #[test]
    fn errors_like_upstream() {
        let err = |t: &str| match LabelSelector::parse(t) {
            Ok(s) => panic!("{t} parsed as {s}"),
            Err(e) => e.to_string(),
        };
        assert_eq!(
            err("a b"),
            "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"
        );
        assert_eq!(err("a=b,"), "found '', expected: identifier after ','");
        assert_eq!(err("a=b c"), "found 'c', expected: ',' or 'end of string'");
        assert_eq!(
            err("=b"),
            "found '=', expected: !, identifier, or 'end of string'"
        );
        assert_eq!(
            err("a in b"),
            "unable to parse requirement: found 'b' expected: '('"
        );
        assert_eq!(
            err("a in (b"),
            "unable to parse requirement: found '', expected: ',' or ')'"
        );
        assert!(err("a=b c=d").contains("expected: ',' or 'end of string'"));
        assert_eq!(err("!a=b"), "found '=', expected: ',' or 'end of string'");
        assert!(err("a=-bad").contains("a valid label must be an empty string"));
        assert!(err("-a=b").starts_with(
            "unable to parse requirement: <nil>: Invalid value: \"-a\": name part must consist"
        ));
        assert!(err("a/b/c=d").contains("a qualified name"));
        assert!(err("UPPER.com/x=y").contains("prefix part a lowercase RFC 1123 subdomain"));
        assert!(
            err(&format!("a={}", "x".repeat(64))).contains("must be no more than 63 characters")
        );
    }

    #[test]
    fn prefixed_keys() {
        let l = labels(json!({"app.kubernetes.io/name": "x"}));
        assert!(parse("app.kubernetes.io/name=x").matches(&l));
    }

    #[test]
    fn from_json_object() {
        let s = match LabelSelector::from_json(&json!({
            "matchLabels": {"app": "web"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["fe", "be"]},
                {"key": "legacy", "operator": "DoesNotExist"}
            ]
        })) {
            Ok(s) => s,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(s.to_string(), "app=web,!legacy,tier in (be,fe)");
        assert!(s.matches(&labels(json!({"app": "web", "tier": "fe"}))));
        assert!(!s.matches(&labels(json!({"app": "web", "tier": "fe", "legacy": "1"}))));
        let nothing = LabelSelector::from_json(&Value::Null);
        assert_eq!(nothing.as_ref().map(|s| s.matches(&Map::new())), Ok(false));
        let everything = LabelSelector::from_json(&json!({}));
        assert_eq!(
            everything.as_ref().map(|s| s.matches(&Map::new())),
            Ok(true)
        );
        let bad_op = LabelSelector::from_json(
            &json!({"matchExpressions": [{"key": "a", "operator": "Foo"}]}),
        );
        assert_eq!(
            bad_op,
            Err(SelectorError::Invalid(
                "\"Foo\" is not a valid label selector operator".into()
            ))
        );
        let empty_in = LabelSelector::from_json(
            &json!({"matchExpressions": [{"key": "a", "operator": "In", "values": []}]}),
        );
        assert!(
            matches!(empty_in, Err(SelectorError::Invalid(m)) if m.contains("values set can't be empty"))
        );
        let exists_values = LabelSelector::from_json(
            &json!({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]}),
        );
        assert!(exists_values.is_err());
        assert!(LabelSelector::from_json(&json!({"matchLabels": {"a": "b c"}})).is_err());
    }

    #[test]
    fn formatting_helpers() {
        assert_eq!(
            format_label_selector(&json!({"matchLabels": {"b": "2", "a": "1"}})),
            "a=1,b=2"
        );
        assert_eq!(format_label_selector(&json!({})), "<none>");
        assert_eq!(
            format_label_selector(&json!({"matchExpressions": [{"key": "a", "operator": "X"}]})),
            "<error>"
        );
        assert_eq!(format_labels(Some(&json!({"b": "2", "a": "1"}))), "a=1,b=2");
        assert_eq!(format_labels(None), "<none>");
    }
}
