//! The small JSONPath subset CRD printer columns use: `.a.b`, `.a[0].b`, `.a[*].b`,
//! `['a.b']`, `\.`-escaped dots and filters such as `[?(@.type=="Ready")].status`.

use serde_json::Value;

/// One step of a path.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// `.name` or `['name']`.
    Field(String),
    /// `[3]` (negative counts from the end).
    Index(i64),
    /// `[*]` or `.*`.
    Wildcard,
    /// `[?(@.path op literal)]`; without an operator, the path must exist.
    Filter {
        /// The path relative to each element.
        path: Vec<Step>,
        /// `==` (false) or `!=` (true); `None` for an existence test.
        comparison: Option<(bool, Value)>,
    },
}

/// Why a path could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unrecognized column definition {0:?}")]
pub struct PathError(pub String);

/// Parses a column path (optionally wrapped in `{}`).
pub fn parse(path: &str) -> Result<Vec<Step>, PathError> {
    let trimmed = path.trim();
    let inner = trimmed
        .strip_prefix('{')
        .and_then(|p| p.strip_suffix('}'))
        .unwrap_or(trimmed);
    let chars: Vec<char> = inner.chars().collect();
    let mut position = 0;
    let steps =
        parse_steps(&chars, &mut position, false).ok_or_else(|| PathError(path.to_string()))?;
    if position != chars.len() {
        return Err(PathError(path.to_string()));
    }
    Ok(steps)
}

fn parse_steps(chars: &[char], pos: &mut usize, in_filter: bool) -> Option<Vec<Step>> {
    let mut steps = Vec::new();
    if chars.get(*pos) == Some(&'$') || (in_filter && chars.get(*pos) == Some(&'@')) {
        *pos += 1;
    }
    while let Some(&c) = chars.get(*pos) {
        match c {
            '.' => {
                *pos += 1;
                if chars.get(*pos) == Some(&'*') {
                    *pos += 1;
                    steps.push(Step::Wildcard);
                    continue;
                }
                let mut name = String::new();
                while let Some(&c) = chars.get(*pos) {
                    if c == '\\' && chars.get(*pos + 1).is_some() {
                        name.push(chars[*pos + 1]);
                        *pos += 2;
                    } else if c == '.'
                        || c == '['
                        || (in_filter && matches!(c, '=' | '!' | ')' | '<' | '>' | ' '))
                    {
                        break;
                    } else {
                        name.push(c);
                        *pos += 1;
                    }
                }
                if !name.is_empty() {
                    steps.push(Step::Field(name));
                }
            }
            '[' => {
                *pos += 1;
                steps.push(parse_bracket(chars, pos)?);
            }
            _ if in_filter => break,
            _ => return None,
        }
    }
    Some(steps)
}

fn parse_bracket(chars: &[char], pos: &mut usize) -> Option<Step> {
    let close = |pos: &mut usize| -> Option<()> {
        if chars.get(*pos) == Some(&']') {
            *pos += 1;
            Some(())
        } else {
            None
        }
    };
    match chars.get(*pos)? {
        '*' => {
            *pos += 1;
            close(pos)?;
            Some(Step::Wildcard)
        }
        quote @ ('\'' | '"') => {
            let quote = *quote;
            *pos += 1;
            let mut name = String::new();
            while *chars.get(*pos)? != quote {
                name.push(chars[*pos]);
                *pos += 1;
            }
            *pos += 1;
            close(pos)?;
            Some(Step::Field(name))
        }
        '?' => {
            *pos += 1;
            if chars.get(*pos) != Some(&'(') {
                return None;
            }
            *pos += 1;
            skip_spaces(chars, pos);
            let path = parse_steps(chars, pos, true)?;
            skip_spaces(chars, pos);
            let comparison = match (chars.get(*pos), chars.get(*pos + 1)) {
                (Some('='), Some('=')) | (Some('!'), Some('=')) => {
                    let negated = chars[*pos] == '!';
                    *pos += 2;
                    skip_spaces(chars, pos);
                    Some((negated, parse_literal(chars, pos)?))
                }
                _ => None,
            };
            skip_spaces(chars, pos);
            if chars.get(*pos) != Some(&')') {
                return None;
            }
            *pos += 1;
            close(pos)?;
            Some(Step::Filter { path, comparison })
        }
        _ => {
            let start = *pos;
            while chars
                .get(*pos)
                .is_some_and(|c| *c == '-' || c.is_ascii_digit())
            {
                *pos += 1;
            }
            let number: String = chars[start..*pos].iter().collect();
            let index = number.parse().ok()?;
            close(pos)?;
            Some(Step::Index(index))
        }
    }
}

fn skip_spaces(chars: &[char], pos: &mut usize) {
    while chars.get(*pos).is_some_and(|c| c.is_whitespace()) {
        *pos += 1;
    }
}

fn parse_literal(chars: &[char], pos: &mut usize) -> Option<Value> {
    match chars.get(*pos)? {
        quote @ ('\'' | '"') => {
            let quote = *quote;
            *pos += 1;
            let mut text = String::new();
            while *chars.get(*pos)? != quote {
                text.push(chars[*pos]);
                *pos += 1;
            }
            *pos += 1;
            Some(Value::String(text))
        }
        _ => {
            let start = *pos;
            while chars
                .get(*pos)
                .is_some_and(|c| !c.is_whitespace() && *c != ')')
            {
                *pos += 1;
            }
            let word: String = chars[start..*pos].iter().collect();
            match word.as_str() {
                "true" => Some(Value::Bool(true)),
                "false" => Some(Value::Bool(false)),
                _ => word
                    .parse::<f64>()
                    .ok()
                    .and_then(serde_json::Number::from_f64)
                    .map(Value::Number),
            }
        }
    }
}

/// Every value the path selects (missing keys select nothing).
pub fn evaluate<'a>(steps: &[Step], root: &'a Value) -> Vec<&'a Value> {
    let mut current = vec![root];
    for step in steps {
        let mut next = Vec::new();
        for value in current {
            match step {
                Step::Field(name) => {
                    if let Some(v) = value.get(name) {
                        next.push(v);
                    }
                }
                Step::Index(i) => {
                    if let Some(items) = value.as_array() {
                        let index = if *i < 0 { items.len() as i64 + i } else { *i };
                        if let Some(v) = usize::try_from(index).ok().and_then(|i| items.get(i)) {
                            next.push(v);
                        }
                    }
                }
                Step::Wildcard => match value {
                    Value::Array(items) => next.extend(items.iter()),
                    Value::Object(map) => next.extend(map.values()),
                    _ => {}
                },
                Step::Filter { path, comparison } => {
                    if let Some(items) = value.as_array() {
                        next.extend(
                            items
                                .iter()
                                .filter(|item| filter_matches(path, comparison.as_ref(), item)),
                        );
                    }
                }
            }
        }
        current = next;
    }
    current
}

fn filter_matches(path: &[Step], comparison: Option<&(bool, Value)>, item: &Value) -> bool {
    let found = evaluate(path, item);
    match comparison {
        None => !found.is_empty(),
        Some((negated, literal)) => {
            let Some(value) = found.first() else {
                return false;
            };
            let equal = match (value, literal) {
                (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
                (a, b) => *a == b,
            };
            equal != *negated
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn eval(path: &str, value: &Value) -> Vec<Value> {
        match parse(path) {
            Ok(steps) => evaluate(&steps, value).into_iter().cloned().collect(),
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn paths() {
        let obj = json!({"spec": {"replicas": 3, "items": [{"b": 1}, {"b": 2}]},
            "status": {"conditions": [{"type": "Synced", "status": "False"}, {"type": "Ready", "status": "True"}]},
            "metadata": {"labels": {"app.kubernetes.io/name": "x"}}});
        assert_eq!(eval(".spec.replicas", &obj), vec![json!(3)]);
        assert_eq!(eval("{.spec.items[0].b}", &obj), vec![json!(1)]);
        assert_eq!(eval(".spec.items[-1].b", &obj), vec![json!(2)]);
        assert_eq!(eval(".spec.items[*].b", &obj), vec![json!(1), json!(2)]);
        assert_eq!(
            eval(".status.conditions[?(@.type==\"Ready\")].status", &obj),
            vec![json!("True")]
        );
        assert_eq!(
            eval(".status.conditions[?(@.type == 'Synced')].status", &obj),
            vec![json!("False")]
        );
        assert_eq!(
            eval(".status.conditions[?(@.type!=\"Ready\")].type", &obj),
            vec![json!("Synced")]
        );
        assert_eq!(
            eval(".metadata.labels.app\\.kubernetes\\.io/name", &obj),
            vec![json!("x")]
        );
        assert_eq!(
            eval(".metadata.labels['app.kubernetes.io/name']", &obj),
            vec![json!("x")]
        );
        assert!(eval(".missing.field", &obj).is_empty());
        assert!(parse(".a[").is_err());
        assert!(parse("a b").is_err());
    }
}
