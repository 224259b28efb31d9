//! Job and CronJob validation, including the standard cron syntax CronJob schedules use.

use serde_json::{Map, Value};

use super::meta::{
    self, render_label_selector, selector_matches, validate_annotations, validate_labels,
};
use super::names::NameRule;
use super::pod::{normalized, validate_pod_template_spec};
use super::{
    FieldError, child, go_rendered, go_string_map, immutable, nonnegative, opt_i64, opt_str,
    present, str_of,
};

/// Validates a Job. The selector must be present (the server generates it unless
/// `manualSelector` is true) and match the template labels.
pub fn validate_job(obj: &Value) -> Vec<FieldError> {
    let mut errors = meta::validate_object_meta(obj, true, NameRule::Subdomain);
    let spec = obj
        .get("spec")
        .cloned()
        .unwrap_or_else(|| Value::Object(Map::new()));
    errors.extend(validate_job_spec(&spec, "spec"));
    match spec.get("selector").filter(|s| !s.is_null()) {
        None => errors.push(FieldError::required("spec.selector", "")),
        Some(selector) => errors.extend(meta::validate_label_selector(selector, "spec.selector")),
    }
    let labels = spec
        .pointer("/template/metadata/labels")
        .and_then(Value::as_object);
    let matches = spec
        .get("selector")
        .filter(|s| !s.is_null())
        .is_some_and(|s| selector_matches(s, labels));
    if !matches {
        errors.push(FieldError::invalid(
            "spec.template.metadata.labels",
            go_rendered(go_string_map(labels)),
            "`selector` does not match template `labels`",
        ));
    }
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    if spec.get("completionMode").and_then(Value::as_str) == Some("Indexed")
        && let Some(completions) = opt_i64(&spec, "completions").filter(|c| *c > 0)
    {
        let hostname = format!("{name}-{}", completions - 1);
        if !super::names::is_dns1123_label(&hostname).is_empty() {
            errors.push(FieldError::invalid(
                "metadata.name",
                name,
                format!("will not able to create pod with invalid DNS label: {hostname}"),
            ));
        }
    }
    errors
}

/// Upstream's `validateJobSpec`: counts, completion mode, pod template and its restart policy.
pub fn validate_job_spec(spec: &Value, path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for field in [
        "parallelism",
        "completions",
        "activeDeadlineSeconds",
        "backoffLimit",
        "ttlSecondsAfterFinished",
    ] {
        nonnegative(spec, field, path, &mut errors);
    }
    if let Some(mode) = opt_str(spec, "completionMode") {
        if !matches!(mode, "NonIndexed" | "Indexed") {
            errors.push(FieldError::not_supported(
                child(path, "completionMode"),
                mode,
                &["NonIndexed", "Indexed"],
            ));
        }
        if mode == "Indexed" && opt_i64(spec, "completions").is_none() {
            errors.push(FieldError::required(
                child(path, "completions"),
                "when completion mode is Indexed",
            ));
        }
    }
    if let Some(policy) = opt_str(spec, "podReplacementPolicy")
        && !matches!(policy, "TerminatingOrFailed" | "Failed")
    {
        errors.push(FieldError::not_supported(
            child(path, "podReplacementPolicy"),
            policy,
            &["TerminatingOrFailed", "Failed"],
        ));
    }
    let template_path = child(path, "template");
    let template = spec.get("template").cloned().unwrap_or(Value::Null);
    errors.extend(validate_pod_template_spec(&template, &template_path));
    let restart_path = child(&child(&template_path, "spec"), "restartPolicy");
    match template
        .pointer("/spec/restartPolicy")
        .and_then(Value::as_str)
        .unwrap_or("")
    {
        "" | "Always" => errors.push(FieldError::required(
            restart_path,
            "valid values: \"OnFailure\", \"Never\"",
        )),
        "OnFailure" | "Never" => {}
        other => errors.push(FieldError::not_supported(
            restart_path,
            other,
            &["OnFailure", "Never"],
        )),
    }
    if present(spec, "podFailurePolicy")
        && template
            .pointer("/spec/restartPolicy")
            .and_then(Value::as_str)
            != Some("Never")
    {
        errors.push(FieldError::invalid(
            child(&child(&template_path, "spec"), "restartPolicy"),
            template
                .pointer("/spec/restartPolicy")
                .cloned()
                .unwrap_or(Value::Null),
            "only \"Never\" is supported when podFailurePolicy is specified",
        ));
    }
    errors
}

/// Validates a Job update: selector, completion mode and (unless suspended and never started)
/// the pod template are fixed; completions only change with parallelism for Indexed Jobs.
pub fn validate_job_update(new: &Value, old: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let new_selector = new.pointer("/spec/selector").filter(|v| !v.is_null());
    let old_selector = old.pointer("/spec/selector").filter(|v| !v.is_null());
    if new_selector.map(normalized) != old_selector.map(normalized) {
        let rendered = new_selector.map_or_else(|| "null".to_string(), render_label_selector);
        errors.push(FieldError::invalid_rendered(
            "spec.selector",
            rendered,
            super::FIELD_IMMUTABLE,
        ));
    }
    let indexed = new.pointer("/spec/completionMode").and_then(Value::as_str) == Some("Indexed");
    let completions = new.pointer("/spec/completions");
    let elastic =
        indexed && completions.is_some() && completions == new.pointer("/spec/parallelism");
    if !elastic {
        immutable(
            completions,
            old.pointer("/spec/completions"),
            "spec.completions",
            &mut errors,
        );
    }
    for field in [
        "completionMode",
        "podFailurePolicy",
        "backoffLimitPerIndex",
        "managedBy",
        "successPolicy",
    ] {
        let pointer = format!("/spec/{field}");
        immutable(
            new.pointer(&pointer),
            old.pointer(&pointer),
            &format!("spec.{field}"),
            &mut errors,
        );
    }
    let mut new_template = new
        .pointer("/spec/template")
        .cloned()
        .unwrap_or(Value::Null);
    let old_template = old
        .pointer("/spec/template")
        .cloned()
        .unwrap_or(Value::Null);
    let suspended_never_started = old.pointer("/spec/suspend").and_then(Value::as_bool)
        == Some(true)
        && old.pointer("/status/startTime").is_none_or(Value::is_null);
    if suspended_never_started {
        for pointer in [
            "/metadata/labels",
            "/metadata/annotations",
            "/spec/nodeSelector",
            "/spec/affinity",
            "/spec/tolerations",
            "/spec/schedulingGates",
        ] {
            let (parent, field) = pointer.rsplit_once('/').unwrap_or(("", pointer));
            let old_value = old_template.pointer(pointer).cloned();
            if let Some(target) = new_template
                .pointer_mut(parent)
                .and_then(Value::as_object_mut)
            {
                match old_value {
                    Some(v) => target.insert(field.to_string(), v),
                    None => target.remove(field),
                };
            }
        }
    }
    if normalized(&new_template) != normalized(&old_template) {
        let rendered = new
            .pointer("/spec/template")
            .cloned()
            .unwrap_or(Value::Null);
        errors.push(FieldError::invalid_rendered(
            "spec.template",
            format!("core.PodTemplateSpec{}", rendered),
            super::FIELD_IMMUTABLE,
        ));
    }
    errors
}

/// Validates a CronJob: name length, schedule, time zone, concurrency policy, limits and the
/// job template.
pub fn validate_cron_job(obj: &Value) -> Vec<FieldError> {
    let mut errors = meta::validate_object_meta(obj, true, NameRule::Subdomain);
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    if name.len() > 52 {
        errors.push(FieldError::invalid(
            "metadata.name",
            name,
            "must be no more than 52 characters",
        ));
    }
    let spec = obj
        .get("spec")
        .cloned()
        .unwrap_or_else(|| Value::Object(Map::new()));
    let schedule = str_of(&spec, "schedule");
    let time_zone = opt_str(&spec, "timeZone");
    if schedule.is_empty() {
        errors.push(FieldError::required("spec.schedule", ""));
    } else {
        if let Err(msg) = parse_cron_schedule(schedule) {
            errors.push(FieldError::invalid("spec.schedule", schedule, msg));
        }
        if schedule.contains("TZ") {
            errors.push(FieldError::invalid(
                "spec.schedule",
                schedule,
                "cannot use TZ or CRON_TZ in schedule, use timeZone field instead",
            ));
        }
    }
    nonnegative(&spec, "startingDeadlineSeconds", "spec", &mut errors);
    match str_of(&spec, "concurrencyPolicy") {
        "" => errors.push(FieldError::required("spec.concurrencyPolicy", "")),
        "Allow" | "Forbid" | "Replace" => {}
        p => errors.push(FieldError::not_supported(
            "spec.concurrencyPolicy",
            p,
            &["Allow", "Forbid", "Replace"],
        )),
    }
    nonnegative(&spec, "successfulJobsHistoryLimit", "spec", &mut errors);
    nonnegative(&spec, "failedJobsHistoryLimit", "spec", &mut errors);
    if let Some(zone) = time_zone
        && let Err(msg) = validate_time_zone(zone)
    {
        errors.push(FieldError::invalid("spec.timeZone", zone, msg));
    }
    let template = spec.get("jobTemplate").cloned().unwrap_or(Value::Null);
    let template_meta = template.get("metadata");
    errors.extend(validate_labels(
        template_meta
            .and_then(|m| m.get("labels"))
            .and_then(Value::as_object),
        "spec.jobTemplate.metadata.labels",
    ));
    errors.extend(validate_annotations(
        template_meta
            .and_then(|m| m.get("annotations"))
            .and_then(Value::as_object),
        "spec.jobTemplate.metadata.annotations",
    ));
    let job_spec = template
        .get("spec")
        .cloned()
        .unwrap_or_else(|| Value::Object(Map::new()));
    errors.extend(validate_job_spec(&job_spec, "spec.jobTemplate.spec"));
    if let Some(selector) = job_spec.get("selector").filter(|v| !v.is_null()) {
        errors.push(FieldError::invalid_rendered(
            "spec.jobTemplate.spec.selector",
            render_label_selector(selector),
            "`selector` will be auto-generated",
        ));
    }
    if job_spec.get("manualSelector").and_then(Value::as_bool) == Some(true) {
        errors.push(FieldError::not_supported(
            "spec.jobTemplate.spec.manualSelector",
            true,
            &["nil", "false"],
        ));
    }
    errors
}

const IANA_AREAS: &[&str] = &[
    "Africa",
    "America",
    "Antarctica",
    "Arctic",
    "Asia",
    "Atlantic",
    "Australia",
    "Brazil",
    "Canada",
    "Chile",
    "Etc",
    "Europe",
    "Indian",
    "Mexico",
    "Pacific",
    "US",
];

/// Upstream's `validateTimeZone`, with the IANA database approximated by its area names
/// (this crate does no I/O, so it cannot load the zone files).
pub fn validate_time_zone(zone: &str) -> Result<(), String> {
    if zone.is_empty() {
        return Err("timeZone must be nil or non-empty string".to_string());
    }
    for part in zone.split('/') {
        let valid_chars = !part.is_empty()
            && part.len() <= 14
            && part
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'_' | b'+'));
        if part == "." || part == ".." || part.starts_with('-') || !valid_chars {
            return Err(format!("unknown time zone {zone}"));
        }
    }
    if zone.eq_ignore_ascii_case("Local") {
        return Err(
            "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones"
                .to_string(),
        );
    }
    let single = [
        "UTC",
        "GMT",
        "Zulu",
        "UCT",
        "Universal",
        "Greenwich",
        "EST",
        "MST",
        "HST",
        "CET",
        "EET",
        "WET",
        "MET",
    ];
    let known = match zone.split_once('/') {
        None => single.contains(&zone),
        Some((area, _)) => IANA_AREAS.contains(&area),
    };
    if known {
        Ok(())
    } else {
        Err(format!("unknown time zone {zone}"))
    }
}

struct CronBounds {
    min: u32,
    max: u32,
    names: &'static [(&'static str, u32)],
}

const MONTH_NAMES: &[(&str, u32)] = &[
    ("jan", 1),
    ("feb", 2),
    ("mar", 3),
    ("apr", 4),
    ("may", 5),
    ("jun", 6),
    ("jul", 7),
    ("aug", 8),
    ("sep", 9),
    ("oct", 10),
    ("nov", 11),
    ("dec", 12),
];
const DOW_NAMES: &[(&str, u32)] = &[
    ("sun", 0),
    ("mon", 1),
    ("tue", 2),
    ("wed", 3),
    ("thu", 4),
    ("fri", 5),
    ("sat", 6),
];

/// Parses a schedule the way robfig/cron's `ParseStandard` does, returning its error text.
pub fn parse_cron_schedule(spec: &str) -> Result<(), String> {
    if spec.is_empty() {
        return Err("empty spec string".to_string());
    }
    let mut spec = spec;
    for prefix in ["TZ=", "CRON_TZ="] {
        if let Some(rest) = spec.strip_prefix(prefix) {
            let (_, after) = rest.split_once(' ').unwrap_or((rest, ""));
            spec = after.trim();
        }
    }
    if spec.starts_with('@') {
        return match spec {
            "@yearly" | "@annually" | "@monthly" | "@weekly" | "@daily" | "@midnight"
            | "@hourly" => Ok(()),
            _ => match spec.strip_prefix("@every ") {
                Some(duration) if is_go_duration(duration) => Ok(()),
                Some(duration) => Err(format!(
                    "failed to parse duration {spec}: time: invalid duration {}",
                    super::go_quote(duration)
                )),
                None => Err(format!("unrecognized descriptor: {spec}")),
            },
        };
    }
    let fields: Vec<&str> = spec.split_whitespace().collect();
    if fields.len() != 5 {
        return Err(format!(
            "expected exactly 5 fields, found {}: [{}]",
            fields.len(),
            fields.join(" ")
        ));
    }
    let bounds = [
        CronBounds {
            min: 0,
            max: 59,
            names: &[],
        },
        CronBounds {
            min: 0,
            max: 23,
            names: &[],
        },
        CronBounds {
            min: 1,
            max: 31,
            names: &[],
        },
        CronBounds {
            min: 1,
            max: 12,
            names: MONTH_NAMES,
        },
        CronBounds {
            min: 0,
            max: 6,
            names: DOW_NAMES,
        },
    ];
    for (field, bound) in fields.iter().zip(bounds.iter()) {
        for expr in field.split(',') {
            parse_cron_range(expr, bound)?;
        }
    }
    Ok(())
}

fn is_go_duration(text: &str) -> bool {
    let mut rest = text.strip_prefix(['+', '-']).unwrap_or(text);
    if rest == "0" {
        return true;
    }
    if rest.is_empty() {
        return false;
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if digits == 0 {
            return false;
        }
        rest = &rest[digits..];
        let unit = ["ns", "us", "µs", "μs", "ms", "s", "m", "h"]
            .into_iter()
            .find(|u| rest.starts_with(u));
        match unit {
            Some(u) => rest = &rest[u.len()..],
            None => return false,
        }
    }
    true
}

fn cron_int(expr: &str) -> Result<u32, String> {
    match expr.parse::<i64>() {
        Ok(n) if n < 0 => Err(format!("negative number ({n}) not allowed: {expr}")),
        Ok(n) => u32::try_from(n).map_err(|_| {
            format!(
                "failed to parse int from {expr}: strconv.Atoi: parsing {}: value out of range",
                super::go_quote(expr)
            )
        }),
        Err(_) => Err(format!(
            "failed to parse int from {expr}: strconv.Atoi: parsing {}: invalid syntax",
            super::go_quote(expr)
        )),
    }
}

fn cron_int_or_name(expr: &str, bound: &CronBounds) -> Result<u32, String> {
    let lower = expr.to_lowercase();
    if let Some((_, n)) = bound.names.iter().find(|(name, _)| *name == lower) {
        return Ok(*n);
    }
    cron_int(expr)
}

fn parse_cron_range(expr: &str, bound: &CronBounds) -> Result<(), String> {
    let range_and_step: Vec<&str> = expr.split('/').collect();
    let low_and_high: Vec<&str> = range_and_step[0].split('-').collect();
    let (start, mut end) = if low_and_high[0] == "*" || low_and_high[0] == "?" {
        (bound.min, bound.max)
    } else {
        let start = cron_int_or_name(low_and_high[0], bound)?;
        let end = match low_and_high.len() {
            1 => start,
            2 => cron_int_or_name(low_and_high[1], bound)?,
            _ => return Err(format!("too many hyphens: {expr}")),
        };
        (start, end)
    };
    let step = match range_and_step.len() {
        1 => 1,
        2 => {
            let step = cron_int(range_and_step[1])?;
            if low_and_high.len() == 1 {
                end = bound.max;
            }
            step
        }
        _ => return Err(format!("too many slashes: {expr}")),
    };
    if start < bound.min {
        return Err(format!(
            "beginning of range ({start}) below minimum ({}): {expr}",
            bound.min
        ));
    }
    if end > bound.max {
        return Err(format!(
            "end of range ({end}) above maximum ({}): {expr}",
            bound.max
        ));
    }
    if start > end {
        return Err(format!(
            "beginning of range ({start}) beyond end of range ({end}): {expr}"
        ));
    }
    if step == 0 {
        return Err(format!("step of range should be a positive number: {expr}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn messages(errors: &[FieldError]) -> Vec<String> {
        errors.iter().map(FieldError::message).collect()
    }

    fn pod_template(restart: &str) -> Value {
        json!({"metadata": {"labels": {"job-name": "j"}},
               "spec": {"restartPolicy": restart, "dnsPolicy": "ClusterFirst",
                        "containers": [{"name": "c", "image": "busybox", "imagePullPolicy": "Always", "terminationMessagePolicy": "File"}]}})
    }

    fn job(restart: &str) -> Value {
        json!({"metadata": {"name": "j", "namespace": "d"},
               "spec": {"selector": {"matchLabels": {"job-name": "j"}}, "template": pod_template(restart),
                        "completions": 1, "parallelism": 1, "backoffLimit": 6, "completionMode": "NonIndexed"}})
    }

    #[test]
    fn job_restart_policy() {
        assert!(validate_job(&job("Never")).is_empty());
        assert_eq!(
            messages(&validate_job(&job("Always"))),
            vec![
                "spec.template.spec.restartPolicy: Required value: valid values: \"OnFailure\", \"Never\""
            ]
        );
    }

    #[test]
    fn job_update_immutable() {
        let old = job("Never");
        let mut new = old.clone();
        new["spec"]["template"]["spec"]["containers"][0]["image"] = json!("busybox:2");
        new["spec"]["completions"] = json!(3);
        let errors = messages(&validate_job_update(&new, &old));
        assert_eq!(
            errors[0],
            "spec.completions: Invalid value: 3: field is immutable"
        );
        assert!(errors[1].starts_with("spec.template: Invalid value: core.PodTemplateSpec{"));
        assert!(errors[1].ends_with(": field is immutable"));
    }

    #[test]
    fn cron_syntax() {
        assert!(parse_cron_schedule("*/5 * * * *").is_ok());
        assert!(parse_cron_schedule("0 0 * jan-mar mon-fri").is_ok());
        assert!(parse_cron_schedule("@hourly").is_ok());
        assert!(parse_cron_schedule("@every 1h30m").is_ok());
        assert_eq!(
            parse_cron_schedule("foo"),
            Err("expected exactly 5 fields, found 1: [foo]".to_string())
        );
        assert_eq!(
            parse_cron_schedule("61 * * * *"),
            Err("end of range (61) above maximum (59): 61".to_string())
        );
        assert_eq!(
            parse_cron_schedule("x * * * *"),
            Err(
                "failed to parse int from x: strconv.Atoi: parsing \"x\": invalid syntax"
                    .to_string()
            )
        );
        assert_eq!(
            parse_cron_schedule("@often"),
            Err("unrecognized descriptor: @often".to_string())
        );
        assert_eq!(
            parse_cron_schedule("* * 0 * *"),
            Err("beginning of range (0) below minimum (1): 0".to_string())
        );
    }

    #[test]
    fn cron_job() {
        let cj = json!({"metadata": {"name": "c", "namespace": "d"},
            "spec": {"schedule": "bad", "concurrencyPolicy": "Sometimes", "timeZone": "Mars/Olympus",
                     "jobTemplate": {"spec": {"template": pod_template("OnFailure")}}}});
        assert_eq!(
            messages(&validate_cron_job(&cj)),
            vec![
                "spec.schedule: Invalid value: \"bad\": expected exactly 5 fields, found 1: [bad]",
                "spec.concurrencyPolicy: Unsupported value: \"Sometimes\": supported values: \"Allow\", \"Forbid\", \"Replace\"",
                "spec.timeZone: Invalid value: \"Mars/Olympus\": unknown time zone Mars/Olympus"
            ]
        );
        assert!(validate_time_zone("Europe/Berlin").is_ok());
        assert!(validate_time_zone("Etc/UTC").is_ok());
    }
}
