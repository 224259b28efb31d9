//! Wire formats: decoding request bodies (JSON, YAML, Kubernetes protobuf) and choosing the
//! response form from `Accept` (JSON, YAML, server-side Table, PartialObjectMetadata,
//! aggregated discovery).

use serde_json::Value;

use crate::status::{ApiError, Result};

/// The form a response takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// Plain JSON.
    Json,
    /// YAML.
    Yaml,
    /// `meta.k8s.io` Table (`v1` or `v1beta1`).
    Table(&'static str),
    /// `meta.k8s.io/v1` PartialObjectMetadata(List).
    PartialMetadata,
    /// `apidiscovery.k8s.io/v2` APIGroupDiscoveryList (only for `/api` and `/apis`).
    AggregatedDiscovery,
}

/// One entry of an `Accept` header.
struct MediaRange<'a> {
    essence: &'a str,
    params: Vec<(&'a str, &'a str)>,
}

impl<'a> MediaRange<'a> {
    fn parse(s: &'a str) -> Self {
        let mut parts = s.split(';').map(str::trim);
        let essence = parts.next().unwrap_or("");
        let params = parts
            .filter_map(|p| p.split_once('='))
            .map(|(k, v)| (k.trim(), v.trim()))
            .collect();
        MediaRange { essence, params }
    }

    fn param(&self, name: &str) -> Option<&'a str> {
        self.params
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| *v)
    }
}

/// Chooses the response form from an `Accept` header. `discovery` allows the aggregated
/// discovery form. Returns 406 when nothing acceptable is offered.
pub fn negotiate(accept: Option<&str>, discovery: bool) -> Result<Output> {
    let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else {
        return Ok(Output::Json);
    };
    for range in accept.split(',').map(MediaRange::parse) {
        let json_like = matches!(range.essence, "application/json" | "*/*" | "application/*");
        match (range.essence, range.param("as")) {
            (_, Some("Table")) if json_like && range.param("g") == Some("meta.k8s.io") => {
                match range.param("v") {
                    Some("v1") => return Ok(Output::Table("v1")),
                    Some("v1beta1") => return Ok(Output::Table("v1beta1")),
                    _ => continue,
                }
            }
            (_, Some("PartialObjectMetadata" | "PartialObjectMetadataList"))
                if json_like
                    && range.param("g") == Some("meta.k8s.io")
                    && range.param("v") == Some("v1") =>
            {
                return Ok(Output::PartialMetadata);
            }
            (_, Some("APIGroupDiscoveryList"))
                if json_like
                    && discovery
                    && range.param("g") == Some("apidiscovery.k8s.io")
                    && range.param("v") == Some("v2") =>
            {
                return Ok(Output::AggregatedDiscovery);
            }
            (_, Some(_)) => continue,
            (e, None) if json_like || e == "application/vnd.kubernetes.protobuf+json" => {
                return Ok(Output::Json);
            }
            ("application/yaml", None) => return Ok(Output::Yaml),
            _ => continue,
        }
    }
    Err(ApiError::not_acceptable(accept))
}

/// The media type (without parameters) of a `Content-Type` header.
pub fn content_type_essence(content_type: Option<&str>) -> &str {
    content_type
        .and_then(|c| c.split(';').next())
        .map(str::trim)
        .unwrap_or("application/json")
}

/// Decodes an object body given its content type (JSON, YAML or Kubernetes protobuf).
pub fn decode_object(content_type: Option<&str>, body: &[u8]) -> Result<Value> {
    match content_type_essence(content_type) {
        "" | "application/json" | "*/*" => decode_json(body),
        "application/yaml" | "application/apply-patch+yaml" => decode_yaml(body),
        "application/vnd.kubernetes.protobuf" => rkube_api::protobuf::decode_request(body)
            .map_err(|e| ApiError::bad_request(format!("unable to decode protobuf body: {e}"))),
        other => Err(ApiError::unsupported_media_type(other)),
    }
}

/// Decodes a JSON body; upstream's wording for syntax errors.
pub fn decode_json(body: &[u8]) -> Result<Value> {
    let v: Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(format!("the body of the request was not valid JSON: {e}"))
    })?;
    if !v.is_object() {
        return Err(ApiError::bad_request(
            "the body of the request must be a JSON object",
        ));
    }
    Ok(v)
}

/// Decodes a YAML (or JSON, which is YAML) body.
pub fn decode_yaml(body: &[u8]) -> Result<Value> {
    let v: Value = serde_yaml_ng::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("error converting YAML to JSON: {e}")))?;
    if !v.is_object() {
        return Err(ApiError::bad_request(
            "the body of the request must be an object",
        ));
    }
    Ok(v)
}

/// Encodes a value for the chosen output (JSON or YAML).
pub fn encode(output: Output, value: &Value) -> (Vec<u8>, &'static str) {
    match output {
        Output::Yaml => match serde_yaml_ng::to_string(value) {
            Ok(s) => (s.into_bytes(), "application/yaml"),
            Err(_) => (value.to_string().into_bytes(), "application/json"),
        },
        Output::AggregatedDiscovery => (
            value.to_string().into_bytes(),
            "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList",
        ),
        _ => (value.to_string().into_bytes(), "application/json"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubectl_table_accept() {
        let a = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
        assert_eq!(negotiate(Some(a), false).ok(), Some(Output::Table("v1")));
    }

    #[test]
    fn discovery_accept_only_where_allowed() {
        let a = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";
        assert_eq!(
            negotiate(Some(a), true).ok(),
            Some(Output::AggregatedDiscovery)
        );
        assert_eq!(negotiate(Some(a), false).ok(), Some(Output::Json));
    }

    #[test]
    fn protobuf_with_json_fallback() {
        let a = "application/vnd.kubernetes.protobuf, */*";
        assert_eq!(negotiate(Some(a), false).ok(), Some(Output::Json));
        assert!(negotiate(Some("application/vnd.kubernetes.protobuf"), false).is_err());
    }
}
