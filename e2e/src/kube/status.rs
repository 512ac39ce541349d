//! The apiserver's error shapes: `metav1.Status` responses and `field.Error` lists, with the
//! same reasons, codes and message formats as k8s.io/apimachinery (`errors.NewInvalid`,
//! `errors.NewNotFound`, `field.Error.ErrorBody`, ...), so clients print what they would
//! print against a real cluster.

use serde_json::{Value, json};

/// A failed API request: rendered as a `metav1.Status` with the HTTP code.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// HTTP status code (also `status.code`).
    pub code: u16,
    /// `status.reason` (e.g. `NotFound`, `Invalid`).
    pub reason: &'static str,
    /// `status.message`.
    pub message: String,
    /// `status.details`, when the reason carries some.
    pub details: Option<Value>,
}

/// A group and resource (`glusterclusters.storage.glusterops.dev`, `configmaps`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupResource<'a> {
    /// API group; empty for the core group.
    pub group: &'a str,
    /// Plural resource name.
    pub resource: &'a str,
}

impl std::fmt::Display for GroupResource<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.group.is_empty() {
            write!(f, "{}", self.resource)
        } else {
            write!(f, "{}.{}", self.resource, self.group)
        }
    }
}

impl ApiError {
    fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            code,
            reason,
            message: message.into(),
            details: None,
        }
    }

    fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    /// 404 `NotFound`: `configmaps "x" not found`.
    pub fn not_found(gr: &GroupResource<'_>, name: &str) -> Self {
        Self::new(404, "NotFound", format!("{gr} {} not found", quote(name)))
            .with_details(details(gr, name))
    }

    /// 409 `AlreadyExists`: `configmaps "x" already exists`.
    pub fn already_exists(gr: &GroupResource<'_>, name: &str) -> Self {
        Self::new(
            409,
            "AlreadyExists",
            format!("{gr} {} already exists", quote(name)),
        )
        .with_details(details(gr, name))
    }

    /// 409 `Conflict` for an update whose resourceVersion is stale.
    pub fn conflict_modified(gr: &GroupResource<'_>, name: &str) -> Self {
        Self::conflict(
            gr,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    }

    /// 409 `Conflict`: `Operation cannot be fulfilled on <gr> "<name>": <why>`.
    pub fn conflict(gr: &GroupResource<'_>, name: &str, why: &str) -> Self {
        Self::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {gr} {}: {why}",
                quote(name)
            ),
        )
        .with_details(details(gr, name))
    }

    /// 409 `Conflict` from server-side apply, one cause per conflicting field.
    pub fn apply_conflict(message: String, causes: Vec<Value>) -> Self {
        Self::new(409, "Conflict", message).with_details(json!({ "causes": causes }))
    }

    /// 422 `Invalid`: `<Kind.group> "<name>" is invalid: <errors>`.
    pub fn invalid(kind: &str, group: &str, name: &str, errors: &[FieldError]) -> Self {
        let qualified = if group.is_empty() {
            kind.to_string()
        } else {
            format!("{kind}.{group}")
        };
        let causes: Vec<Value> = errors
            .iter()
            .map(
                |e| json!({ "reason": e.kind.cause_type(), "message": e.body(), "field": e.field }),
            )
            .collect();
        let message = match errors {
            [] => format!("{qualified} {} is invalid", quote(name)),
            [one] => format!("{qualified} {} is invalid: {one}", quote(name)),
            many => format!(
                "{qualified} {} is invalid: [{}]",
                quote(name),
                many.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        let mut details = json!({ "name": name, "kind": kind, "causes": causes });
        if !group.is_empty() {
            details["group"] = json!(group);
        }
        Self::new(422, "Invalid", message).with_details(details)
    }

    /// 400 `BadRequest` with a free message.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    /// 403 `Forbidden` with a free message.
    pub fn forbidden(gr: &GroupResource<'_>, name: &str, why: &str) -> Self {
        Self::new(
            403,
            "Forbidden",
            format!("{gr} {} is forbidden: {why}", quote(name)),
        )
        .with_details(details(gr, name))
    }

    /// 405 `MethodNotAllowed`.
    pub fn method_not_allowed() -> Self {
        Self::new(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
        )
    }

    /// 404 for a path that names no resource (the apiserver's plain `404 page not found`
    /// arrives as a Status from the API handlers).
    pub fn no_route() -> Self {
        Self::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        )
    }

    /// 415 `UnsupportedMediaType` for a patch type the resource does not take.
    pub fn unsupported_patch(content_type: &str, accepted: &[&str]) -> Self {
        Self::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: {}",
                accepted.join(", ")
            ),
        )
        .with_details(json!({ "causes": [{ "reason": "UnexpectedServerResponse", "message": content_type }] }))
    }

    /// 410 `Expired` for a resourceVersion older than the kept history.
    pub fn expired(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message)
    }

    /// 422 `Invalid` for a JSON patch that does not apply.
    pub fn patch_failed(message: impl Into<String>) -> Self {
        let message = message.into();
        Self::new(422, "Invalid", message.clone()).with_details(
            json!({ "causes": [{ "reason": "UnexpectedServerResponse", "message": message }] }),
        )
    }

    /// 500 `InternalError`.
    pub fn internal(message: impl Into<String>) -> Self {
        let message = message.into();
        Self::new(
            500,
            "InternalError",
            format!("Internal error occurred: {message}"),
        )
        .with_details(json!({ "causes": [{ "message": message }] }))
    }

    /// The `metav1.Status` body.
    pub fn to_status(&self) -> Value {
        let mut s = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some(d) = &self.details {
            s["details"] = d.clone();
        }
        s
    }
}

fn details(gr: &GroupResource<'_>, name: &str) -> Value {
    let mut d = json!({ "name": name, "kind": gr.resource });
    if !gr.group.is_empty() {
        d["group"] = json!(gr.group);
    }
    d
}

/// Go's `%q` for the strings the apiserver quotes (names, values): double quotes, with `"`
/// and `\` and control characters escaped.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The kinds of `field.Error` (k8s.io/apimachinery/pkg/util/validation/field).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldErrorKind {
    /// `Required value`.
    Required,
    /// `Invalid value`.
    Invalid,
    /// `Invalid value` for a wrong JSON type.
    TypeInvalid,
    /// `Unsupported value` (enum).
    NotSupported,
    /// `Duplicate value`.
    Duplicate,
    /// `Forbidden`.
    Forbidden,
    /// `Too long`.
    TooLong,
    /// `Too many`.
    TooMany,
}

impl FieldErrorKind {
    /// The `StatusCause.reason` (`FieldValueInvalid`, ...).
    pub fn cause_type(self) -> &'static str {
        match self {
            FieldErrorKind::Required => "FieldValueRequired",
            FieldErrorKind::Invalid => "FieldValueInvalid",
            FieldErrorKind::TypeInvalid => "FieldValueTypeInvalid",
            FieldErrorKind::NotSupported => "FieldValueNotSupported",
            FieldErrorKind::Duplicate => "FieldValueDuplicate",
            FieldErrorKind::Forbidden => "FieldValueForbidden",
            FieldErrorKind::TooLong => "FieldValueTooLong",
            FieldErrorKind::TooMany => "FieldValueTooMany",
        }
    }

    fn label(self) -> &'static str {
        match self {
            FieldErrorKind::Required => "Required value",
            FieldErrorKind::Invalid | FieldErrorKind::TypeInvalid => "Invalid value",
            FieldErrorKind::NotSupported => "Unsupported value",
            FieldErrorKind::Duplicate => "Duplicate value",
            FieldErrorKind::Forbidden => "Forbidden",
            FieldErrorKind::TooLong => "Too long",
            FieldErrorKind::TooMany => "Too many",
        }
    }
}

/// A bad value as `field.Error` prints it.
#[derive(Debug, Clone, PartialEq)]
pub enum BadValue {
    /// No value printed (Required, Forbidden, TooLong).
    Omit,
    /// A JSON value, printed the way Go's `%v`/`%q` would.
    Value(Value),
    /// A value printed verbatim (Go's `%#v` of a map, say).
    Raw(String),
}

/// One `field.Error`: the path, the kind, the bad value and a detail.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    /// The kind of error.
    pub kind: FieldErrorKind,
    /// The field path (`spec.zones[0].name`), `<nil>` for the root.
    pub field: String,
    /// The bad value.
    pub value: BadValue,
    /// Extra detail after the value.
    pub detail: String,
}

impl FieldError {
    /// `Invalid value: <v>: <detail>`.
    pub fn invalid(field: impl Into<String>, value: Value, detail: impl Into<String>) -> Self {
        Self::make(
            FieldErrorKind::Invalid,
            field,
            BadValue::Value(value),
            detail,
        )
    }

    /// `Required value[: detail]`.
    pub fn required(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::make(FieldErrorKind::Required, field, BadValue::Omit, detail)
    }

    /// `Forbidden: <detail>`.
    pub fn forbidden(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::make(FieldErrorKind::Forbidden, field, BadValue::Omit, detail)
    }

    /// `Unsupported value: "x": supported values: "a", "b"`.
    pub fn not_supported(field: impl Into<String>, value: Value, supported: &[String]) -> Self {
        let detail = if supported.is_empty() {
            String::new()
        } else {
            format!(
                "supported values: {}",
                supported
                    .iter()
                    .map(|s| quote(s))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        Self::make(
            FieldErrorKind::NotSupported,
            field,
            BadValue::Value(value),
            detail,
        )
    }

    /// Builds any kind.
    pub fn make(
        kind: FieldErrorKind,
        field: impl Into<String>,
        value: BadValue,
        detail: impl Into<String>,
    ) -> Self {
        let field = field.into();
        FieldError {
            kind,
            field: if field.is_empty() {
                "<nil>".into()
            } else {
                field
            },
            value,
            detail: detail.into(),
        }
    }

    /// `field.Error.ErrorBody()`: everything after `<field>: `.
    pub fn body(&self) -> String {
        let mut s = match (&self.kind, &self.value) {
            (FieldErrorKind::Required | FieldErrorKind::Forbidden | FieldErrorKind::TooLong, _)
            | (_, BadValue::Omit) => self.kind.label().to_string(),
            (_, BadValue::Raw(r)) => format!("{}: {r}", self.kind.label()),
            (_, BadValue::Value(v)) => format!("{}: {}", self.kind.label(), go_value(v)),
        };
        if !self.detail.is_empty() {
            s.push_str(": ");
            s.push_str(&self.detail);
        }
        s
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.body())
    }
}

/// A JSON value the way `field.Error` prints a bad value: numbers and booleans bare,
/// strings quoted, null as `"null"`, anything else as compact JSON.
pub fn go_value(v: &Value) -> String {
    match v {
        Value::Null => "\"null\"".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => go_number(n),
        Value::String(s) => quote(s),
        other => other.to_string(),
    }
}

/// A JSON number as Go's `%v` prints an int64 or float64.
pub fn go_number(n: &serde_json::Number) -> String {
    if let Some(i) = n.as_i64() {
        i.to_string()
    } else if let Some(u) = n.as_u64() {
        u.to_string()
    } else {
        let f = n.as_f64().unwrap_or(0.0);
        format!("{f}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_message_matches_the_apiserver() {
        let e = FieldError::invalid(
            "spec.volume.replicas",
            json!(0),
            "spec.volume.replicas in body should be greater than or equal to 1",
        );
        let err = ApiError::invalid("GlusterCluster", "storage.glusterops.dev", "x", &[e]);
        assert_eq!(
            err.message,
            "GlusterCluster.storage.glusterops.dev \"x\" is invalid: spec.volume.replicas: Invalid value: 0: spec.volume.replicas in body should be greater than or equal to 1"
        );
        let st = err.to_status();
        assert_eq!(st["code"], 422);
        assert_eq!(st["details"]["causes"][0]["field"], "spec.volume.replicas");
        assert_eq!(st["details"]["causes"][0]["reason"], "FieldValueInvalid");
    }

    #[test]
    fn several_errors_are_bracketed() {
        let errs = [
            FieldError::required("spec.image", ""),
            FieldError::not_supported(
                "spec.deletionPolicy",
                json!("Keep"),
                &["Retain".into(), "Delete".into()],
            ),
        ];
        let err = ApiError::invalid("GlusterCluster", "storage.glusterops.dev", "x", &errs);
        assert_eq!(
            err.message,
            "GlusterCluster.storage.glusterops.dev \"x\" is invalid: [spec.image: Required value, spec.deletionPolicy: Unsupported value: \"Keep\": supported values: \"Retain\", \"Delete\"]"
        );
    }

    #[test]
    fn not_found_names_resource_and_object() {
        let gr = GroupResource {
            group: "",
            resource: "configmaps",
        };
        let e = ApiError::not_found(&gr, "cm");
        assert_eq!(e.message, "configmaps \"cm\" not found");
        assert_eq!(
            e.to_status()["details"],
            json!({"name": "cm", "kind": "configmaps"})
        );
    }
}
