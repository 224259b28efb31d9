//! The event printer (core `v1` and `events.k8s.io/v1` events print alike).

use serde_json::{Value, json};

use super::duration::since;
use super::{Column, NAME, Printer, int_at, name, opt_str, str_at, text};

/// The printer of events, if the kind is one.
pub(super) fn printer(group: &str, kind: &str) -> Option<Printer> {
    match (group, kind) {
        ("", "Event") | ("events.k8s.io", "Event") => Some((EVENT_COLUMNS, event_cells)),
        _ => None,
    }
}

const EVENT_COLUMNS: &[Column] = &[
    text("Last Seen", "The time at which the most recent occurrence of this event was recorded."),
    text("Type", "Type of this event (Normal, Warning), new types could be added in the future"),
    text("Reason", "This should be a short, machine understandable string that gives the reason for the transition into the object's current status."),
    text("Object", "The object that this event is about."),
    text("Subobject", "If referring to a piece of an object instead of an entire object, this string should contain a valid JSON/Go field access statement.").wide(),
    text("Source", "The component reporting this event. Should be a short machine understandable string.").wide(),
    text("Message", "A human-readable description of the status of this operation."),
    text("First Seen", "The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)").wide(),
    text("Count", "The number of times this event has occurred.").wide(),
    Column { priority: 1, ..NAME },
];

/// The first present, non-null string among pointers (core and `events.k8s.io` shapes).
fn first_str<'a>(obj: &'a Value, pointers: &[&str]) -> Option<&'a str> {
    pointers
        .iter()
        .find_map(|p| opt_str(obj, p).filter(|s| !s.is_empty()))
}

fn event_cells(ev: &Value, now: i64) -> Vec<Value> {
    let first = match first_str(ev, &["/firstTimestamp", "/deprecatedFirstTimestamp"]) {
        Some(t) => since(Some(t), now),
        None => since(opt_str(ev, "/eventTime"), now),
    };
    let mut last = match first_str(ev, &["/lastTimestamp", "/deprecatedLastTimestamp"]) {
        Some(t) => since(Some(t), now),
        None => first.clone(),
    };
    let mut count = ev
        .get("count")
        .or_else(|| ev.get("deprecatedCount"))
        .and_then(Value::as_i64)
        .unwrap_or(0);
    if ev.get("series").is_some_and(|s| !s.is_null()) {
        last = since(opt_str(ev, "/series/lastObservedTime"), now);
        count = int_at(ev, "/series/count");
    } else if count == 0 {
        count = 1;
    }
    let reference = if ev.get("involvedObject").is_some() {
        "/involvedObject"
    } else {
        "/regarding"
    };
    let kind = str_at(ev, &format!("{reference}/kind")).to_lowercase();
    let object_name = str_at(ev, &format!("{reference}/name"));
    let target = if object_name.is_empty() {
        kind
    } else {
        format!("{kind}/{object_name}")
    };
    let component = first_str(
        ev,
        &[
            "/source/component",
            "/deprecatedSource/component",
            "/reportingController",
            "/reportingComponent",
        ],
    )
    .unwrap_or("");
    let instance = first_str(
        ev,
        &[
            "/source/host",
            "/deprecatedSource/host",
            "/reportingInstance",
        ],
    )
    .unwrap_or("");
    let source = if instance.is_empty() {
        component.to_string()
    } else {
        format!("{component}, {instance}")
    };
    let message = first_str(ev, &["/message", "/note"])
        .unwrap_or("")
        .trim()
        .to_string();
    vec![
        json!(last),
        json!(str_at(ev, "/type")),
        json!(str_at(ev, "/reason")),
        json!(target),
        json!(str_at(ev, &format!("{reference}/fieldPath"))),
        json!(source),
        json!(message),
        json!(first),
        json!(count),
        json!(name(ev)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_714_557_600; // 2024-05-01T10:00:00Z

    #[test]
    fn events() {
        let ev = json!({"metadata": {"name": "p.123"}, "involvedObject": {"kind": "Pod", "name": "p", "fieldPath": "spec.containers{a}"},
            "reason": "Pulled", "message": " pulled \n", "type": "Normal", "source": {"component": "kubelet", "host": "n1"},
            "firstTimestamp": "2024-05-01T09:50:00Z", "lastTimestamp": "2024-05-01T09:59:00Z", "count": 2});
        assert_eq!(
            event_cells(&ev, NOW),
            vec![
                json!("60s"),
                json!("Normal"),
                json!("Pulled"),
                json!("pod/p"),
                json!("spec.containers{a}"),
                json!("kubelet, n1"),
                json!("pulled"),
                json!("10m"),
                json!(2),
                json!("p.123")
            ]
        );
        let new_style = json!({"metadata": {"name": "x"}, "regarding": {"kind": "Node", "name": "n1"}, "note": "hi",
            "eventTime": "2024-05-01T09:59:50.000000Z", "reportingController": "ctrl", "type": "Warning", "reason": "R"});
        let cells = event_cells(&new_style, NOW);
        assert_eq!(cells[0], "10s");
        assert_eq!(cells[3], "node/n1");
        assert_eq!(cells[5], "ctrl");
        assert_eq!(cells[6], "hi");
        assert_eq!(cells[8], json!(1));
    }
}
