//! The `paths` of an OpenAPI v3 document: one path item per URL a resource answers, with
//! operations carrying `x-kubernetes-action` and `x-kubernetes-group-version-kind` and the query
//! parameters upstream declares (kubectl looks for `fieldValidation` on PATCH).

use serde_json::{Map, Value, json};

use super::components::{DELETE_OPTIONS, PATCH, STATUS, WATCH_EVENT, gvk_value, v3_ref};
use crate::resources::ResourceInfo;

/// What the paths of one resource need to know besides the resource itself.
#[derive(Debug, Clone, Copy)]
pub struct PathContext<'a> {
    /// Component name of the kind's schema.
    pub kind_schema: &'a str,
    /// Component name of the list kind's schema.
    pub list_schema: &'a str,
    /// Whether PATCH accepts `application/strategic-merge-patch+json` (built-in kinds only).
    pub strategic_merge: bool,
}

/// Component names of the kinds subresources read and write, looked up by (group, version, kind).
pub type SubresourceSchemas<'a> = dyn Fn(&str, &str, &str) -> Option<String> + 'a;

/// `/api/v1` or `/apis/<group>/<version>`.
pub fn group_version_prefix(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("/api/{version}")
    } else {
        format!("/apis/{group}/{version}")
    }
}

/// Upstream's operation-id group part: `core`, `apps`, `rbacAuthorization` → `CoreV1`, ...
fn operation_group(group: &str, version: &str) -> String {
    let trimmed = group.strip_suffix(".k8s.io").unwrap_or(group);
    let group_part = if trimmed.is_empty() {
        "core".to_string()
    } else {
        trimmed.to_string()
    };
    let mut out = String::new();
    for part in group_part.split(['.', '-']) {
        out.push_str(&capitalize(part));
    }
    out.push_str(&capitalize(version));
    out
}

fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Upstream's tag: `core_v1`, `apps_v1`, `rbacAuthorization_v1`.
fn tag(group: &str, version: &str) -> String {
    let trimmed = group.strip_suffix(".k8s.io").unwrap_or(group);
    if trimmed.is_empty() {
        return format!("core_{version}");
    }
    let mut parts = trimmed.split(['.', '-']);
    let mut out = parts.next().unwrap_or_default().to_string();
    for part in parts {
        out.push_str(&capitalize(part));
    }
    format!("{out}_{version}")
}

fn query(name: &str, kind: &str, description: &str) -> Value {
    json!({
        "name": name,
        "in": "query",
        "description": description,
        "schema": { "type": kind, "uniqueItems": true }
    })
}

fn path_param(name: &str, description: &str) -> Value {
    json!({
        "name": name,
        "in": "path",
        "description": description,
        "required": true,
        "schema": { "type": "string", "uniqueItems": true }
    })
}

fn pretty() -> Value {
    query(
        "pretty",
        "string",
        "If 'true', then the output is pretty printed. Defaults to 'false' unless the user-agent indicates a browser or command-line HTTP tool (curl and wget).",
    )
}

fn dry_run() -> Value {
    query(
        "dryRun",
        "string",
        "When present, indicates that modifications should not be persisted. An invalid or unrecognized dryRun directive will result in an error response and no further processing of the request. Valid values are: - All: all dry run stages will be processed",
    )
}

fn field_manager(for_apply: bool) -> Value {
    let description = if for_apply {
        "fieldManager is a name associated with the actor or entity that is making these changes. The value must be less than or 128 characters long, and only contain printable characters, as defined by https://golang.org/pkg/unicode/#IsPrint. This field is required for apply requests (application/apply-patch) but optional for non-apply patch types (JsonPatch, MergePatch, StrategicMergePatch)."
    } else {
        "fieldManager is a name associated with the actor or entity that is making these changes. The value must be less than or 128 characters long, and only contain printable characters, as defined by https://golang.org/pkg/unicode/#IsPrint."
    };
    query("fieldManager", "string", description)
}

fn field_validation() -> Value {
    query(
        "fieldValidation",
        "string",
        "fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: - Ignore: This will ignore any unknown fields that are silently dropped from the object, and will ignore all but the last duplicate field that the decoder encounters. This is the default behavior prior to v1.23. - Warn: This will send a warning via the standard warning response header for each unknown field that is dropped from the object, and for each duplicate field that is encountered. The request will still succeed if there are no other errors, and will only persist the last of any duplicate fields. This is the default in v1.23+ - Strict: This will fail the request with a BadRequest error if any unknown fields would be dropped from the object, or if any duplicate fields are present. The error returned from the server will contain all unknown and duplicate fields encountered.",
    )
}

fn list_parameters() -> Vec<Value> {
    vec![
        query(
            "allowWatchBookmarks",
            "boolean",
            "allowWatchBookmarks requests watch events with type \"BOOKMARK\". Servers that do not implement bookmarks may ignore this flag and bookmarks are sent at the server's discretion. Clients should not assume bookmarks are returned at any specific interval, nor may they assume the server will send any BOOKMARK event during a session. If this is not a watch, this field is ignored.",
        ),
        query(
            "continue",
            "string",
            "The continue option should be set when retrieving more results from the server. Since this value is server defined, clients may only use the continue value from a previous query result with identical query parameters (except for the value of continue) and the server may reject a continue value it does not recognize.",
        ),
        query(
            "fieldSelector",
            "string",
            "A selector to restrict the list of returned objects by their fields. Defaults to everything.",
        ),
        query(
            "labelSelector",
            "string",
            "A selector to restrict the list of returned objects by their labels. Defaults to everything.",
        ),
        query(
            "limit",
            "integer",
            "limit is a maximum number of responses to return for a list call. If more items exist, the server will set the `continue` field on the list metadata to a value that can be used with the same initial query to retrieve the next set of results.",
        ),
        query(
            "resourceVersion",
            "string",
            "resourceVersion sets a constraint on what resource versions a request may be served from. See https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-versions for details.\n\nDefaults to unset",
        ),
        query(
            "resourceVersionMatch",
            "string",
            "resourceVersionMatch determines how resourceVersion is applied to list calls. It is highly recommended that resourceVersionMatch be set for list calls where resourceVersion is set See https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-versions for details.\n\nDefaults to unset",
        ),
        query(
            "sendInitialEvents",
            "boolean",
            "`sendInitialEvents=true` may be set together with `watch=true`. In that case, the watch stream will begin with synthetic events to produce the current state of objects in the collection. Once all such events have been sent, a synthetic \"Bookmark\" event  will be sent.",
        ),
        query(
            "timeoutSeconds",
            "integer",
            "Timeout for the list/watch call. This limits the duration of the call, regardless of any activity or inactivity.",
        ),
        query(
            "watch",
            "boolean",
            "Watch for changes to the described resources and return them as a stream of add, update, and remove notifications. Specify resourceVersion.",
        ),
    ]
}

fn delete_parameters() -> Vec<Value> {
    vec![
        dry_run(),
        query(
            "gracePeriodSeconds",
            "integer",
            "The duration in seconds before the object should be deleted. Value must be non-negative integer. The value zero indicates delete immediately. If this value is nil, the default grace period for the specified type will be used. Defaults to a per object value if not specified. zero means delete immediately.",
        ),
        query(
            "ignoreStoreReadErrorWithClusterBreakingPotential",
            "boolean",
            "if set to true, it will trigger an unsafe deletion of the resource in case the normal deletion flow fails with a corrupt object error. A resource is considered corrupt if it can not be retrieved from the underlying storage successfully because of a) its data can not be transformed e.g. decryption failure, or b) it fails to decode into an object. NOTE: unsafe deletion ignores finalizer constraints, skips precondition checks, and removes the object from the storage. WARNING: This may potentially break the cluster if the workload associated with the resource being unsafe-deleted relies on normal deletion flow. Use only if you REALLY know what you are doing. The default value is false, and the user must opt in to enable it",
        ),
        query(
            "orphanDependents",
            "boolean",
            "Deprecated: please use the PropagationPolicy, this field will be deprecated in 1.7. Should the dependent objects be orphaned. If true/false, the \"orphan\" finalizer will be added to/removed from the object's finalizers list. Either this field or PropagationPolicy may be set, but not both.",
        ),
        query(
            "propagationPolicy",
            "string",
            "Whether and how garbage collection will be performed. Either this field or OrphanDependents may be set, but not both. The default policy is decided by the existing finalizer set in the metadata.finalizers and the resource-specific default policy. Acceptable values are: 'Orphan' - orphan the dependents; 'Background' - allow the garbage collector to delete the dependents in the background; 'Foreground' - a cascading policy that deletes all dependents in the foreground.",
        ),
    ]
}

fn json_content(schema: Value, media_types: &[&str]) -> Value {
    let mut content = Map::new();
    for media_type in media_types {
        content.insert(
            (*media_type).to_string(),
            json!({ "schema": schema.clone() }),
        );
    }
    Value::Object(content)
}

const OBJECT_MEDIA: &[&str] = &[
    "application/json",
    "application/yaml",
    "application/vnd.kubernetes.protobuf",
    "application/cbor",
];
const WATCH_MEDIA: &[&str] = &[
    "application/json",
    "application/yaml",
    "application/vnd.kubernetes.protobuf",
    "application/cbor",
    "application/json;stream=watch",
    "application/vnd.kubernetes.protobuf;stream=watch",
    "application/cbor-seq",
];

fn responses(codes: &[(&str, &str)], schema_name: &str, media: &[&str]) -> Value {
    let mut out = Map::new();
    for (code, description) in codes {
        out.insert(
            (*code).to_string(),
            json!({ "description": description, "content": json_content(v3_ref(schema_name), media) }),
        );
    }
    out.insert("401".to_string(), json!({ "description": "Unauthorized" }));
    Value::Object(out)
}

fn request_body(schema_name: &str) -> Value {
    json!({ "content": json_content(v3_ref(schema_name), &["*/*"]), "required": true })
}

struct Operation<'a> {
    action: &'a str,
    id: String,
    description: String,
    gvk: Value,
    tag: &'a str,
}

impl Operation<'_> {
    fn build(self, parameters: Vec<Value>, request_body: Option<Value>, responses: Value) -> Value {
        let mut op = Map::new();
        op.insert("tags".to_string(), json!([self.tag]));
        op.insert("description".to_string(), json!(self.description));
        op.insert("operationId".to_string(), json!(self.id));
        if !parameters.is_empty() {
            op.insert("parameters".to_string(), Value::Array(parameters));
        }
        if let Some(body) = request_body {
            op.insert("requestBody".to_string(), body);
        }
        op.insert("responses".to_string(), responses);
        op.insert("x-kubernetes-action".to_string(), json!(self.action));
        op.insert("x-kubernetes-group-version-kind".to_string(), self.gvk);
        Value::Object(op)
    }
}

/// Adds every path `resource` answers to `paths`.
pub fn add_resource_paths(
    paths: &mut Map<String, Value>,
    resource: &ResourceInfo,
    context: PathContext<'_>,
    subresource_schema: &SubresourceSchemas<'_>,
) {
    let prefix = group_version_prefix(&resource.group, &resource.version);
    let group_id = operation_group(&resource.group, &resource.version);
    let tag = tag(&resource.group, &resource.version);
    let kind = &resource.kind;
    let gvk = gvk_value(&resource.group, &resource.version, kind);
    let verbs = |verb: &str| resource.verbs.iter().any(|v| v == verb);
    let (scope, collection, namespace_params) = if resource.namespaced {
        (
            "Namespaced",
            format!("{prefix}/namespaces/{{namespace}}/{}", resource.plural),
            vec![path_param(
                "namespace",
                "object name and auth scope, such as for teams and projects",
            )],
        )
    } else {
        ("", format!("{prefix}/{}", resource.plural), Vec::new())
    };
    let op = |action: &'static str, id: String, description: String| Operation {
        action,
        id,
        description,
        gvk: gvk.clone(),
        tag: &tag,
    };

    // The collection.
    let mut item = Map::new();
    if verbs("list") {
        item.insert(
            "get".to_string(),
            op(
                "list",
                format!("list{group_id}{scope}{kind}"),
                format!("list or watch objects of kind {kind}"),
            )
            .build(
                list_parameters(),
                None,
                responses(&[("200", "OK")], context.list_schema, WATCH_MEDIA),
            ),
        );
    }
    if verbs("create") {
        item.insert(
            "post".to_string(),
            op(
                "post",
                format!("create{group_id}{scope}{kind}"),
                format!("create a {kind}"),
            )
            .build(
                vec![dry_run(), field_manager(false), field_validation()],
                Some(request_body(context.kind_schema)),
                responses(
                    &[("200", "OK"), ("201", "Created"), ("202", "Accepted")],
                    context.kind_schema,
                    OBJECT_MEDIA,
                ),
            ),
        );
    }
    if verbs("deletecollection") {
        let mut parameters = list_parameters();
        parameters.retain(|p| p["name"] != "watch" && p["name"] != "allowWatchBookmarks");
        parameters.extend(delete_parameters());
        item.insert(
            "delete".to_string(),
            op(
                "deletecollection",
                format!("delete{group_id}Collection{scope}{kind}"),
                format!("delete collection of {kind}"),
            )
            .build(
                parameters,
                Some(request_body(DELETE_OPTIONS)),
                responses(&[("200", "OK")], STATUS, OBJECT_MEDIA),
            ),
        );
    }
    if !item.is_empty() {
        let mut parameters = namespace_params.clone();
        parameters.push(pretty());
        item.insert("parameters".to_string(), Value::Array(parameters));
        paths.insert(collection.clone(), Value::Object(item));
    }

    // One object.
    let name_param = path_param("name", &format!("name of the {kind}"));
    let mut item = Map::new();
    if verbs("get") {
        item.insert(
            "get".to_string(),
            op(
                "get",
                format!("read{group_id}{scope}{kind}"),
                format!("read the specified {kind}"),
            )
            .build(
                Vec::new(),
                None,
                responses(&[("200", "OK")], context.kind_schema, OBJECT_MEDIA),
            ),
        );
    }
    if verbs("update") {
        item.insert(
            "put".to_string(),
            op(
                "put",
                format!("replace{group_id}{scope}{kind}"),
                format!("replace the specified {kind}"),
            )
            .build(
                vec![dry_run(), field_manager(false), field_validation()],
                Some(request_body(context.kind_schema)),
                responses(
                    &[("200", "OK"), ("201", "Created")],
                    context.kind_schema,
                    OBJECT_MEDIA,
                ),
            ),
        );
    }
    if verbs("delete") {
        item.insert(
            "delete".to_string(),
            op(
                "delete",
                format!("delete{group_id}{scope}{kind}"),
                format!("delete a {kind}"),
            )
            .build(
                delete_parameters(),
                Some(request_body(DELETE_OPTIONS)),
                responses(&[("200", "OK"), ("202", "Accepted")], STATUS, OBJECT_MEDIA),
            ),
        );
    }
    if verbs("patch") {
        item.insert(
            "patch".to_string(),
            op(
                "patch",
                format!("patch{group_id}{scope}{kind}"),
                format!("partially update the specified {kind}"),
            )
            .build(
                patch_parameters(),
                Some(patch_body(context.strategic_merge)),
                responses(
                    &[("200", "OK"), ("201", "Created")],
                    context.kind_schema,
                    OBJECT_MEDIA,
                ),
            ),
        );
    }
    if !item.is_empty() {
        let mut parameters = vec![name_param.clone()];
        parameters.extend(namespace_params.clone());
        parameters.push(pretty());
        item.insert("parameters".to_string(), Value::Array(parameters));
        paths.insert(format!("{collection}/{{name}}"), Value::Object(item));
    }

    // Subresources.
    for sub in &resource.subresources {
        let sub_verbs = |verb: &str| sub.verbs.iter().any(|v| v == verb);
        let schema = subresource_schema(&sub.group, &sub.version, &sub.kind)
            .unwrap_or_else(|| context.kind_schema.to_string());
        let sub_gvk = gvk_value(&sub.group, &sub.version, &sub.kind);
        let suffix = capitalize(&sub.name);
        let sub_op = |action: &'static str, verb_id: &str, description: String| Operation {
            action,
            id: format!("{verb_id}{group_id}{scope}{kind}{suffix}"),
            description,
            gvk: sub_gvk.clone(),
            tag: &tag,
        };
        let mut item = Map::new();
        if sub_verbs("get") {
            item.insert(
                "get".to_string(),
                sub_op(
                    "get",
                    "read",
                    format!("read {} of the specified {kind}", sub.name),
                )
                .build(
                    Vec::new(),
                    None,
                    responses(&[("200", "OK")], &schema, OBJECT_MEDIA),
                ),
            );
        }
        if sub_verbs("update") {
            item.insert(
                "put".to_string(),
                sub_op(
                    "put",
                    "replace",
                    format!("replace {} of the specified {kind}", sub.name),
                )
                .build(
                    vec![dry_run(), field_manager(false), field_validation()],
                    Some(request_body(&schema)),
                    responses(&[("200", "OK"), ("201", "Created")], &schema, OBJECT_MEDIA),
                ),
            );
        }
        if sub_verbs("patch") {
            item.insert(
                "patch".to_string(),
                sub_op(
                    "patch",
                    "patch",
                    format!("partially update {} of the specified {kind}", sub.name),
                )
                .build(
                    patch_parameters(),
                    Some(patch_body(context.strategic_merge)),
                    responses(&[("200", "OK"), ("201", "Created")], &schema, OBJECT_MEDIA),
                ),
            );
        }
        if sub_verbs("create") {
            item.insert(
                "post".to_string(),
                sub_op("post", "create", format!("create {} of a {kind}", sub.name)).build(
                    vec![dry_run(), field_manager(false), field_validation()],
                    Some(request_body(&schema)),
                    responses(
                        &[("200", "OK"), ("201", "Created"), ("202", "Accepted")],
                        &schema,
                        OBJECT_MEDIA,
                    ),
                ),
            );
        }
        if !item.is_empty() {
            let mut parameters = vec![name_param.clone()];
            parameters.extend(namespace_params.clone());
            parameters.push(pretty());
            item.insert("parameters".to_string(), Value::Array(parameters));
            paths.insert(
                format!("{collection}/{{name}}/{}", sub.name),
                Value::Object(item),
            );
        }
    }

    // Watch paths (deprecated upstream, still published).
    if verbs("watch") {
        let watch_collection = if resource.namespaced {
            format!(
                "{prefix}/watch/namespaces/{{namespace}}/{}",
                resource.plural
            )
        } else {
            format!("{prefix}/watch/{}", resource.plural)
        };
        let watch_item =
            |action: &'static str, id: String, description: String, with_name: bool| {
                let mut parameters = list_parameters();
                if with_name {
                    parameters.insert(0, name_param.clone());
                }
                let mut scoped = namespace_params.clone();
                scoped.append(&mut parameters);
                let mut item = Map::new();
                item.insert(
                    "get".to_string(),
                    op(action, id, description).build(
                        Vec::new(),
                        None,
                        responses(&[("200", "OK")], WATCH_EVENT, WATCH_MEDIA),
                    ),
                );
                scoped.push(pretty());
                item.insert("parameters".to_string(), Value::Array(scoped));
                Value::Object(item)
            };
        paths.insert(
            watch_collection.clone(),
            watch_item(
                "watchlist",
                format!("watch{group_id}{scope}{kind}List"),
                format!("watch individual changes to a list of {kind}. deprecated: use the 'watch' parameter with a list operation instead."),
                false,
            ),
        );
        paths.insert(
            format!("{watch_collection}/{{name}}"),
            watch_item(
                "watch",
                format!("watch{group_id}{scope}{kind}"),
                format!("watch changes to an object of kind {kind}. deprecated: use the 'watch' parameter with a list operation instead, filtered to a single item with the 'fieldSelector' parameter."),
                true,
            ),
        );
    }

    // Namespaced kinds are also listed across namespaces.
    if resource.namespaced && verbs("list") {
        let all = format!("{prefix}/{}", resource.plural);
        let mut item = Map::new();
        item.insert(
            "get".to_string(),
            op(
                "list",
                format!("list{group_id}{kind}ForAllNamespaces"),
                format!("list or watch objects of kind {kind}"),
            )
            .build(
                Vec::new(),
                None,
                responses(&[("200", "OK")], context.list_schema, WATCH_MEDIA),
            ),
        );
        let mut parameters = list_parameters();
        parameters.push(pretty());
        item.insert("parameters".to_string(), Value::Array(parameters));
        paths.insert(all, Value::Object(item));
        if verbs("watch") {
            let mut item = Map::new();
            item.insert(
                "get".to_string(),
                op("watchlist", format!("watch{group_id}{kind}ListForAllNamespaces"), format!("watch individual changes to a list of {kind}. deprecated: use the 'watch' parameter with a list operation instead."))
                    .build(Vec::new(), None, responses(&[("200", "OK")], WATCH_EVENT, WATCH_MEDIA)),
            );
            let mut parameters = list_parameters();
            parameters.push(pretty());
            item.insert("parameters".to_string(), Value::Array(parameters));
            paths.insert(
                format!("{prefix}/watch/{}", resource.plural),
                Value::Object(item),
            );
        }
    }
}

fn patch_parameters() -> Vec<Value> {
    vec![
        dry_run(),
        field_manager(true),
        field_validation(),
        query(
            "force",
            "boolean",
            "Force is going to \"force\" Apply requests. It means user will re-acquire conflicting fields owned by other people. Force flag must be unset for non-apply patch requests.",
        ),
    ]
}

fn patch_body(strategic_merge: bool) -> Value {
    let mut media = vec![
        "application/apply-patch+yaml",
        "application/json-patch+json",
        "application/merge-patch+json",
    ];
    if strategic_merge {
        media.push("application/strategic-merge-patch+json");
    }
    media.push("application/apply-patch+cbor");
    json!({ "content": json_content(v3_ref(PATCH), &media), "required": true })
}
