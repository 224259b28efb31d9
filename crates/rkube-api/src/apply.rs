//! Server-side apply and field ownership (`metadata.managedFields`), as pure functions.
//!
//! Every write records which manager owns which fields. [`apply`] merges an applied
//! configuration into the live object, removes fields its manager applied before but no longer
//! applies (unless someone else owns them) and refuses to change fields other managers own
//! unless forced. [`update_managed_fields`] records ownership for ordinary writes (create,
//! update, patch). Field sets use upstream's `FieldsV1` encoding, list types come from the same
//! [`PatchSchema`] that strategic merge patch uses.
//!
//! Like upstream: an existing object nobody owns is not tracked by updates, and its fields go
//! to `before-first-apply` at the first apply; the `kubectl` applier may take over fields
//! kubectl's client-side apply set (and keeps its last-applied annotation in step); at most
//! ten `Update` entries are kept, older ones merge into `ancient-changes`.
//!
//! Deviation from upstream: writes to the main resource never own `status`, and writes to the
//! `status` subresource own only `status` (upstream does this through per-kind reset fields).

mod field_set;
mod last_applied;
mod merge;

use serde_json::{Map, Value};

pub use field_set::{FieldPath, FieldSet, PathElement, format_path};
use merge::{OwnedPart, Walker};

use crate::patch::PatchSchema;

/// Results of this module.
pub type Result<T, E = ApplyError> = std::result::Result<T, E>;

/// The operation recorded for server-side apply.
pub const OPERATION_APPLY: &str = "Apply";
/// The operation recorded for create, update and patch.
pub const OPERATION_UPDATE: &str = "Update";

/// Why an apply was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    /// The applied configuration changes fields other managers own (upstream: 409 Conflict,
    /// reason `Conflict`, one `FieldManagerConflict` cause per conflict).
    #[error("{}", conflict_message(.0))]
    Conflicts(Vec<Conflict>),
    /// The applied configuration is not a valid object (upstream: 400 Bad Request).
    #[error("{0}")]
    InvalidObject(String),
}

/// One field another manager owns with a different value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// The owning manager's name.
    pub manager: String,
    /// The owning entry's operation (`Apply` or `Update`).
    pub operation: String,
    /// The owning entry's API version.
    pub api_version: String,
    /// The owning entry's subresource, if any.
    pub subresource: Option<String>,
    /// The field, in upstream's notation: `.spec.replicas`.
    pub field: String,
    /// The field as a path.
    pub path: FieldPath,
}

impl Conflict {
    /// The manager as upstream prints it: `"m"`, `"m" using apps/v1`,
    /// `"m" with subresource "status" using v1`.
    pub fn describe_manager(&self) -> String {
        let mut out = format!("{:?}", self.manager);
        if let Some(subresource) = &self.subresource {
            out.push_str(&format!(" with subresource {subresource:?}"));
        }
        if self.operation == OPERATION_UPDATE {
            out.push_str(&format!(" using {}", self.api_version));
        }
        out
    }

    /// The message of this conflict's status cause: `conflict with "m" using v1`.
    pub fn cause_message(&self) -> String {
        format!("conflict with {}", self.describe_manager())
    }
}

/// Upstream's conflict message, e.g.
/// `Apply failed with 1 conflict: conflict with "m" using apps/v1: .spec.replicas`.
fn conflict_message(conflicts: &[Conflict]) -> String {
    if let [only] = conflicts {
        return format!(
            "Apply failed with 1 conflict: conflict with {}: {}",
            only.describe_manager(),
            only.field
        );
    }
    let mut managers: Vec<String> = conflicts.iter().map(Conflict::describe_manager).collect();
    managers.sort();
    managers.dedup();
    let mut lines = Vec::new();
    for manager in &managers {
        lines.push(format!("conflicts with {manager}:"));
        for conflict in conflicts
            .iter()
            .filter(|c| &c.describe_manager() == manager)
        {
            lines.push(format!("- {}", conflict.field));
        }
    }
    format!(
        "Apply failed with {} conflicts: {}",
        conflicts.len(),
        lines.join("\n")
    )
}

/// One `metadata.managedFields` entry.
#[derive(Debug, Clone, PartialEq)]
struct ManagedFieldsEntry {
    manager: String,
    operation: String,
    api_version: String,
    time: Option<String>,
    subresource: Option<String>,
    fields: FieldSet,
}

impl ManagedFieldsEntry {
    /// Whether both entries belong to the same manager identity (appliers are one identity
    /// across API versions, updaters one per API version).
    fn same_identity(
        &self,
        manager: &str,
        operation: &str,
        api_version: &str,
        subresource: Option<&str>,
    ) -> bool {
        self.manager == manager
            && self.operation == operation
            && self.subresource.as_deref() == subresource
            && (operation == OPERATION_APPLY || self.api_version == api_version)
    }

    fn decode(value: &Value) -> Option<ManagedFieldsEntry> {
        let text = |key: &str| value.get(key).and_then(Value::as_str).map(str::to_string);
        if text("fieldsType").is_some_and(|t| t != "FieldsV1") {
            return None;
        }
        let fields = match value.get("fieldsV1") {
            Some(encoded) => FieldSet::from_fields_v1(encoded)?,
            None => FieldSet::new(),
        };
        Some(ManagedFieldsEntry {
            manager: text("manager").unwrap_or_default(),
            operation: text("operation").unwrap_or_default(),
            api_version: text("apiVersion").unwrap_or_default(),
            time: text("time"),
            subresource: text("subresource").filter(|s| !s.is_empty()),
            fields,
        })
    }

    fn encode(&self) -> Value {
        let mut out = Map::new();
        out.insert("manager".into(), Value::String(self.manager.clone()));
        out.insert("operation".into(), Value::String(self.operation.clone()));
        out.insert("apiVersion".into(), Value::String(self.api_version.clone()));
        if let Some(time) = &self.time {
            out.insert("time".into(), Value::String(time.clone()));
        }
        out.insert("fieldsType".into(), Value::String("FieldsV1".into()));
        out.insert("fieldsV1".into(), self.fields.to_fields_v1());
        if let Some(subresource) = &self.subresource {
            out.insert("subresource".into(), Value::String(subresource.clone()));
        }
        Value::Object(out)
    }
}

fn decode_managed_fields(list: Option<&Value>) -> Vec<ManagedFieldsEntry> {
    match list {
        Some(Value::Array(entries)) => entries
            .iter()
            .filter_map(ManagedFieldsEntry::decode)
            .collect(),
        _ => Vec::new(),
    }
}

fn managed_fields_of(object: &Value) -> Option<&Value> {
    object.get("metadata").and_then(|m| m.get("managedFields"))
}

/// `object` without `metadata.managedFields`.
fn without_managed_fields(object: &Value) -> Value {
    let mut out = object.clone();
    if let Some(Value::Object(metadata)) = out.get_mut("metadata") {
        metadata.remove("managedFields");
    }
    out
}

/// Most `Update` entries an object keeps; older ones merge into [`ANCIENT_CHANGES_MANAGER`].
pub const MAX_UPDATE_MANAGERS: usize = 10;
/// The manager older updates are merged into, one entry per API version.
pub const ANCIENT_CHANGES_MANAGER: &str = "ancient-changes";

/// Merges the oldest `Update` entries into one `ancient-changes` entry per API version until
/// at most [`MAX_UPDATE_MANAGERS`] remain (upstream's capManagersManager).
fn cap_update_managers(entries: &mut Vec<ManagedFieldsEntry>) {
    let mut updaters: Vec<usize> = (0..entries.len())
        .filter(|&i| entries[i].operation != OPERATION_APPLY)
        .collect();
    if updaters.len() <= MAX_UPDATE_MANAGERS {
        return;
    }
    updaters.sort_by(|&a, &b| {
        let (a, b) = (&entries[a], &entries[b]);
        (&a.time, &a.manager, &a.api_version).cmp(&(&b.time, &b.manager, &b.api_version))
    });
    let mut removed = vec![false; entries.len()];
    let mut first_of_version: Vec<(String, usize)> = Vec::new();
    let mut remaining = updaters.len();
    for index in updaters {
        if remaining <= MAX_UPDATE_MANAGERS {
            break;
        }
        let version = entries[index].api_version.clone();
        let Some(&(_, first)) = first_of_version.iter().find(|(v, _)| *v == version) else {
            first_of_version.push((version, index));
            continue;
        };
        let bucket = match entries.iter().position(|e| {
            e.same_identity(ANCIENT_CHANGES_MANAGER, OPERATION_UPDATE, &version, None)
        }) {
            Some(bucket) => bucket,
            None => {
                entries[first].manager = ANCIENT_CHANGES_MANAGER.to_string();
                entries[first].subresource = None;
                first
            }
        };
        entries[bucket].fields = entries[index].fields.union(&entries[bucket].fields);
        entries[bucket].time = entries[index].time.clone();
        removed[index] = true;
        remaining -= 1;
    }
    let mut position = 0;
    entries.retain(|_| {
        position += 1;
        !removed[position - 1]
    });
}

/// Drops empty entries, caps the `Update` entries, sorts like upstream (operation, time,
/// manager, apiVersion, subresource) and stores the entries in `object` (removing the field
/// when none is left).
fn store_managed_fields(object: &mut Value, mut entries: Vec<ManagedFieldsEntry>) {
    entries.retain(|entry| !entry.fields.is_empty());
    cap_update_managers(&mut entries);
    entries.sort_by(|a, b| {
        (
            &a.operation,
            &a.time,
            &a.manager,
            &a.api_version,
            &a.subresource,
        )
            .cmp(&(
                &b.operation,
                &b.time,
                &b.manager,
                &b.api_version,
                &b.subresource,
            ))
    });
    let Value::Object(root) = object else { return };
    if entries.is_empty() {
        if let Some(Value::Object(metadata)) = root.get_mut("metadata") {
            metadata.remove("managedFields");
        }
        return;
    }
    let metadata = root
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(metadata) = metadata {
        metadata.insert(
            "managedFields".into(),
            Value::Array(entries.iter().map(ManagedFieldsEntry::encode).collect()),
        );
    }
}

/// Server-side apply of `applied` by `manager` onto `live` (`None`: the object does not exist
/// yet). Returns the new object with its `metadata.managedFields` updated; when nothing
/// changes, the live object comes back unchanged. `now` is the RFC 3339 time to record.
pub fn apply(
    live: Option<&Value>,
    applied: &Value,
    manager: &str,
    force: bool,
    schema: &dyn PatchSchema,
    now: &str,
) -> Result<Value> {
    apply_to_subresource(live, applied, None, manager, force, schema, now)
}

/// [`apply`] through a subresource: with `Some("status")` only `status` is merged and owned,
/// and the manager's entry records the subresource.
pub fn apply_to_subresource(
    live: Option<&Value>,
    applied: &Value,
    subresource: Option<&str>,
    manager: &str,
    force: bool,
    schema: &dyn PatchSchema,
    now: &str,
) -> Result<Value> {
    let part = owned_part(subresource);
    if !applied.is_object() {
        return Err(ApplyError::InvalidObject(
            "applied configuration must be a JSON object".into(),
        ));
    }
    if managed_fields_of(applied).is_some_and(|v| !v.is_null()) {
        return Err(ApplyError::InvalidObject(
            "metadata.managedFields must be nil".into(),
        ));
    }
    let api_version = applied
        .get("apiVersion")
        .or_else(|| live.and_then(|l| l.get("apiVersion")))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let live_clean = live
        .map(without_managed_fields)
        .unwrap_or_else(|| Value::Object(Map::new()));
    let mut managers = decode_managed_fields(live.and_then(managed_fields_of));
    if live.is_some() && managers.is_empty() {
        // Upstream gives the fields of an object nobody owns yet to "before-first-apply".
        let comparison = Walker::new(schema, part).compare(&Value::Object(Map::new()), &live_clean);
        managers.push(ManagedFieldsEntry {
            manager: BEFORE_FIRST_APPLY_MANAGER.to_string(),
            operation: OPERATION_UPDATE.to_string(),
            api_version: live_clean
                .get("apiVersion")
                .and_then(Value::as_str)
                .unwrap_or(&api_version)
                .to_string(),
            time: Some(now.to_string()),
            subresource: subresource.map(str::to_string),
            fields: comparison.modified.union(&comparison.added),
        });
    }

    let request = ApplyRequest {
        live: &live_clean,
        applied,
        manager,
        api_version: &api_version,
        subresource,
        part,
        schema,
        now,
    };
    let (mut merged, managers) = match request.merge(managers.clone(), force) {
        Err(ApplyError::Conflicts(conflicts)) if manager == last_applied::KUBECTL_MANAGER => {
            // Conflicts on fields kubectl's client-side apply set are not conflicts for kubectl.
            let Some(allowed) = last_applied::allowed_conflicts(&live_clean, &api_version, schema)
            else {
                return Err(ApplyError::Conflicts(conflicts));
            };
            let remaining: Vec<Conflict> = conflicts
                .into_iter()
                .filter(|c| !allowed.has(&c.path))
                .collect();
            if !remaining.is_empty() {
                return Err(ApplyError::Conflicts(remaining));
            }
            request.merge(managers, true)?
        }
        other => other?,
    };
    if manager == last_applied::KUBECTL_MANAGER {
        last_applied::sync_annotation(&mut merged, applied);
    }
    store_managed_fields(&mut merged, managers);
    Ok(merged)
}

/// The name upstream records for fields that existed before the first apply.
pub const BEFORE_FIRST_APPLY_MANAGER: &str = "before-first-apply";

/// One server-side apply, ready to merge into a given set of owners.
struct ApplyRequest<'a> {
    live: &'a Value,
    applied: &'a Value,
    manager: &'a str,
    api_version: &'a str,
    subresource: Option<&'a str>,
    part: OwnedPart,
    schema: &'a dyn PatchSchema,
    now: &'a str,
}

impl ApplyRequest<'_> {
    /// Merges the applied configuration, prunes what the applier stopped applying, checks
    /// conflicts and moves ownership. Returns the object (without managed fields) and owners.
    fn merge(
        &self,
        mut managers: Vec<ManagedFieldsEntry>,
        force: bool,
    ) -> Result<(Value, Vec<ManagedFieldsEntry>)> {
        let mut walker = Walker::new(self.schema, self.part);
        let applied_set = walker.field_set(self.applied).map_err(invalid_applied)?;
        let mut merged = walker
            .merge(Some(self.live), self.applied)
            .map_err(invalid_applied)?;

        let applier = managers.iter().position(|e| {
            e.same_identity(
                self.manager,
                OPERATION_APPLY,
                self.api_version,
                self.subresource,
            )
        });
        if let Some(index) = applier {
            let owned = managers
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != index)
                .fold(applied_set.clone(), |acc, (_, entry)| {
                    acc.union(&entry.fields)
                });
            let mut prunable = Vec::new();
            collect_prunable(
                &managers[index].fields,
                &owned,
                &mut Vec::new(),
                &mut prunable,
            );
            for path in prunable {
                walker.remove(&mut merged, &path);
            }
        }

        let comparison = walker.compare(self.live, &merged);
        let changed = comparison.modified.union(&comparison.added);
        let mut conflicts = Vec::new();
        for (index, entry) in managers.iter().enumerate() {
            if Some(index) == applier {
                continue;
            }
            for path in entry.fields.intersection(&changed).paths() {
                conflicts.push(Conflict {
                    manager: entry.manager.clone(),
                    operation: entry.operation.clone(),
                    api_version: entry.api_version.clone(),
                    subresource: entry.subresource.clone(),
                    field: format_path(&path),
                    path,
                });
            }
        }
        if !conflicts.is_empty() && !force {
            conflicts.sort_by_key(Conflict::describe_manager);
            return Err(ApplyError::Conflicts(conflicts));
        }

        for (index, entry) in managers.iter_mut().enumerate() {
            if Some(index) != applier {
                entry.fields = entry
                    .fields
                    .difference(&changed)
                    .difference(&comparison.removed);
            }
        }
        let object_changed = merged != *self.live;
        let previous_time = applier.and_then(|index| managers[index].time.clone());
        let entry = ManagedFieldsEntry {
            manager: self.manager.to_string(),
            operation: OPERATION_APPLY.to_string(),
            api_version: self.api_version.to_string(),
            time: if object_changed || previous_time.is_none() {
                Some(self.now.to_string())
            } else {
                previous_time
            },
            subresource: self.subresource.map(str::to_string),
            fields: applied_set,
        };
        match applier {
            Some(index) => managers[index] = entry,
            None => managers.push(entry),
        }
        Ok((merged, managers))
    }
}

/// What a write through `subresource` owns.
fn owned_part(subresource: Option<&str>) -> OwnedPart {
    if subresource == Some("status") {
        OwnedPart::Status
    } else {
        OwnedPart::MainResource
    }
}

fn invalid_applied(message: String) -> ApplyError {
    ApplyError::InvalidObject(format!("failed to create typed patch object: {message}"))
}

/// Paths of `last` (what the applier applied before) that nobody owns any more: the topmost
/// such path of each subtree, to be removed from the object.
fn collect_prunable(
    last: &FieldSet,
    owned: &FieldSet,
    prefix: &mut FieldPath,
    out: &mut Vec<FieldPath>,
) {
    let elements: std::collections::BTreeSet<PathElement> = last
        .members()
        .chain(last.child_elements())
        .cloned()
        .collect();
    for element in elements {
        prefix.push(element.clone());
        if !owned.covers(prefix) {
            out.push(prefix.clone());
        } else if let Some(child) = last.child(&element) {
            collect_prunable(child, owned, prefix, out);
        }
        prefix.pop();
    }
}

/// Records the ownership of an ordinary write (create, update, patch; `operation` is
/// `"Update"`) by `manager` in `new.metadata.managedFields`: fields the write added or changed
/// move to the manager, fields it changed or removed leave every other manager, entries of the
/// same manager, operation, API version and subresource merge and empty entries disappear.
/// `old` is the stored object (`None` on create). A `new` object carrying an empty
/// `managedFields` list (or one empty entry) resets ownership; one without the field keeps the
/// stored ownership; an existing object nobody owns stays untracked (until an apply).
/// `subresource` is `Some("status")` for status writes.
#[allow(clippy::too_many_arguments)]
pub fn update_managed_fields(
    old: Option<&Value>,
    new: &mut Value,
    manager: &str,
    operation: &str,
    api_version: &str,
    subresource: Option<&str>,
    now: &str,
    schema: &dyn PatchSchema,
) {
    if !new.is_object() {
        return;
    }
    let stored = decode_managed_fields(old.and_then(managed_fields_of));
    let mut managers = match (subresource, managed_fields_of(new)) {
        (Some(_), _) | (None, None) => stored,
        (None, Some(Value::Array(list)))
            if list.is_empty()
                || (list.len() == 1 && list[0].as_object().is_some_and(Map::is_empty)) =>
        {
            Vec::new()
        }
        (None, Some(list)) => {
            let requested = decode_managed_fields(Some(list));
            if requested.is_empty() {
                stored
            } else {
                requested
            }
        }
    };
    let existing = old
        .and_then(|o| o.pointer("/metadata/uid"))
        .and_then(Value::as_str)
        .is_some_and(|uid| !uid.is_empty());
    if managers.is_empty() && existing {
        // Upstream starts tracking an untracked object only at its first apply.
        store_managed_fields(new, managers);
        return;
    }
    let part = owned_part(subresource);
    // The walk leaves metadata.managedFields out (server metadata): no need for copies without.
    let empty = Value::Object(Map::new());
    let comparison = Walker::new(schema, part).compare(old.unwrap_or(&empty), new);
    let changed = comparison.modified.union(&comparison.added);

    for entry in &mut managers {
        entry.fields = entry
            .fields
            .difference(&changed)
            .difference(&comparison.removed);
    }
    if !changed.is_empty() {
        match managers
            .iter_mut()
            .find(|e| e.same_identity(manager, operation, api_version, subresource))
        {
            Some(entry) => {
                entry.fields = entry.fields.union(&changed);
                entry.api_version = api_version.to_string();
                entry.time = Some(now.to_string());
            }
            None => managers.push(ManagedFieldsEntry {
                manager: manager.to_string(),
                operation: operation.to_string(),
                api_version: api_version.to_string(),
                time: Some(now.to_string()),
                subresource: subresource.map(str::to_string),
                fields: changed,
            }),
        }
    }
    store_managed_fields(new, managers);
}

#[cfg(test)]
mod tests;
