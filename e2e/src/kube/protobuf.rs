//! Decoding of `application/vnd.kubernetes.protobuf` request bodies into JSON, for the
//! built-in kinds kubectl's typed clients send that way (`kubectl create namespace`,
//! `create configmap`, `create secret`, `create serviceaccount`, `create service`,
//! `create role`/`rolebinding`/`clusterrole`/`clusterrolebinding`). The envelope is the
//! `k8s\0` magic and a `runtime.Unknown`; field numbers are those of the API's
//! generated.proto files. Responses are always JSON (clients accept it).

use base64::Engine;
use serde_json::{Map, Value, json};

use super::status::ApiError;

/// A message schema: field number to (JSON name, kind).
type Schema = &'static [(u64, &'static str, Kind)];

#[derive(Clone, Copy)]
enum Kind {
    Str,
    Int,
    Bool,
    Time,
    Msg(Schema),
    RepStr,
    RepMsg(Schema),
    MapStr,
    MapBytes,
    IntOrString,
}

const OWNER_REF: Schema = &[
    (1, "kind", Kind::Str),
    (3, "name", Kind::Str),
    (4, "uid", Kind::Str),
    (5, "apiVersion", Kind::Str),
    (6, "controller", Kind::Bool),
    (7, "blockOwnerDeletion", Kind::Bool),
];

const OBJECT_META: Schema = &[
    (1, "name", Kind::Str),
    (2, "generateName", Kind::Str),
    (3, "namespace", Kind::Str),
    (5, "uid", Kind::Str),
    (6, "resourceVersion", Kind::Str),
    (7, "generation", Kind::Int),
    (8, "creationTimestamp", Kind::Time),
    (9, "deletionTimestamp", Kind::Time),
    (10, "deletionGracePeriodSeconds", Kind::Int),
    (11, "labels", Kind::MapStr),
    (12, "annotations", Kind::MapStr),
    (13, "ownerReferences", Kind::RepMsg(OWNER_REF)),
    (14, "finalizers", Kind::RepStr),
];

const NAMESPACE: Schema = &[
    (1, "metadata", Kind::Msg(OBJECT_META)),
    (2, "spec", Kind::Msg(&[(1, "finalizers", Kind::RepStr)])),
];

const CONFIG_MAP: Schema = &[
    (1, "metadata", Kind::Msg(OBJECT_META)),
    (2, "data", Kind::MapStr),
    (3, "binaryData", Kind::MapBytes),
    (4, "immutable", Kind::Bool),
];

const SECRET: Schema = &[
    (1, "metadata", Kind::Msg(OBJECT_META)),
    (2, "data", Kind::MapBytes),
    (3, "type", Kind::Str),
    (4, "stringData", Kind::MapStr),
    (5, "immutable", Kind::Bool),
];

const LOCAL_REF: Schema = &[(1, "name", Kind::Str)];
const OBJECT_REF: Schema = &[
    (1, "kind", Kind::Str),
    (2, "namespace", Kind::Str),
    (3, "name", Kind::Str),
    (4, "uid", Kind::Str),
    (5, "apiVersion", Kind::Str),
    (6, "resourceVersion", Kind::Str),
    (7, "fieldPath", Kind::Str),
];

const SERVICE_ACCOUNT: Schema = &[
    (1, "metadata", Kind::Msg(OBJECT_META)),
    (2, "secrets", Kind::RepMsg(OBJECT_REF)),
    (3, "imagePullSecrets", Kind::RepMsg(LOCAL_REF)),
    (4, "automountServiceAccountToken", Kind::Bool),
];

const SERVICE_PORT: Schema = &[
    (1, "name", Kind::Str),
    (2, "protocol", Kind::Str),
    (3, "port", Kind::Int),
    (4, "targetPort", Kind::IntOrString),
    (5, "nodePort", Kind::Int),
    (6, "appProtocol", Kind::Str),
];

const SERVICE_SPEC: Schema = &[
    (1, "ports", Kind::RepMsg(SERVICE_PORT)),
    (2, "selector", Kind::MapStr),
    (3, "clusterIP", Kind::Str),
    (4, "type", Kind::Str),
    (5, "externalIPs", Kind::RepStr),
    (7, "sessionAffinity", Kind::Str),
    (8, "loadBalancerIP", Kind::Str),
    (11, "externalName", Kind::Str),
];

const SERVICE: Schema = &[
    (1, "metadata", Kind::Msg(OBJECT_META)),
    (2, "spec", Kind::Msg(SERVICE_SPEC)),
];

const POLICY_RULE: Schema = &[
    (1, "verbs", Kind::RepStr),
    (2, "apiGroups", Kind::RepStr),
    (3, "resources", Kind::RepStr),
    (4, "resourceNames", Kind::RepStr),
    (5, "nonResourceURLs", Kind::RepStr),
];

const ROLE: Schema = &[
    (1, "metadata", Kind::Msg(OBJECT_META)),
    (2, "rules", Kind::RepMsg(POLICY_RULE)),
];

const SUBJECT: Schema = &[
    (1, "kind", Kind::Str),
    (2, "apiGroup", Kind::Str),
    (3, "name", Kind::Str),
    (4, "namespace", Kind::Str),
];

const BINDING: Schema = &[
    (1, "metadata", Kind::Msg(OBJECT_META)),
    (2, "subjects", Kind::RepMsg(SUBJECT)),
    (
        3,
        "roleRef",
        Kind::Msg(&[
            (1, "apiGroup", Kind::Str),
            (2, "kind", Kind::Str),
            (3, "name", Kind::Str),
        ]),
    ),
];

fn schema_for(kind: &str) -> Option<Schema> {
    Some(match kind {
        "Namespace" => NAMESPACE,
        "ConfigMap" => CONFIG_MAP,
        "Secret" => SECRET,
        "ServiceAccount" => SERVICE_ACCOUNT,
        "Service" => SERVICE,
        "Role" | "ClusterRole" => ROLE,
        "RoleBinding" | "ClusterRoleBinding" => BINDING,
        _ => return None,
    })
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

fn malformed(what: &str) -> ApiError {
    ApiError::bad_request(format!("error decoding protobuf body: {what}"))
}

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Result<u64, ApiError> {
        let mut v: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = *self
                .buf
                .get(self.pos)
                .ok_or_else(|| malformed("truncated varint"))?;
            self.pos += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(malformed("varint too long"))
    }

    fn bytes(&mut self) -> Result<&'a [u8], ApiError> {
        let n = usize::try_from(self.varint()?).map_err(|_| malformed("length"))?;
        let end = self
            .pos
            .checked_add(n)
            .filter(|e| *e <= self.buf.len())
            .ok_or_else(|| malformed("truncated field"))?;
        let out = &self.buf[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    /// Reads one field: (number, wire type, varint value or bytes).
    fn field(&mut self) -> Result<(u64, Field<'a>), ApiError> {
        let tag = self.varint()?;
        let (num, wire) = (tag >> 3, tag & 7);
        let f = match wire {
            0 => Field::Varint(self.varint()?),
            2 => Field::Bytes(self.bytes()?),
            1 => {
                self.pos += 8;
                Field::Skip
            }
            5 => {
                self.pos += 4;
                Field::Skip
            }
            _ => return Err(malformed("unsupported wire type")),
        };
        Ok((num, f))
    }

    fn done(&self) -> bool {
        self.pos >= self.buf.len()
    }
}

enum Field<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Skip,
}

fn utf8(b: &[u8]) -> Result<String, ApiError> {
    String::from_utf8(b.to_vec()).map_err(|_| malformed("invalid UTF-8"))
}

fn decode_map_entry(b: &[u8], bytes_value: bool) -> Result<(String, Value), ApiError> {
    let mut r = Reader { buf: b, pos: 0 };
    let (mut k, mut v) = (String::new(), Value::String(String::new()));
    while !r.done() {
        match r.field()? {
            (1, Field::Bytes(x)) => k = utf8(x)?,
            (2, Field::Bytes(x)) if bytes_value => {
                v = json!(base64::engine::general_purpose::STANDARD.encode(x))
            }
            (2, Field::Bytes(x)) => v = json!(utf8(x)?),
            _ => {}
        }
    }
    Ok((k, v))
}

fn decode_time(b: &[u8]) -> Result<Value, ApiError> {
    let mut r = Reader { buf: b, pos: 0 };
    let mut secs: i64 = 0;
    while !r.done() {
        if let (1, Field::Varint(v)) = r.field()? {
            secs = v as i64;
        }
    }
    // The zero time (year 1) is how protobuf carries an unset timestamp.
    if secs <= -62_135_596_800 {
        return Ok(Value::Null);
    }
    Ok(chrono::DateTime::from_timestamp(secs, 0)
        .map(|t| json!(t.format("%Y-%m-%dT%H:%M:%SZ").to_string()))
        .unwrap_or(Value::Null))
}

fn decode_int_or_string(b: &[u8]) -> Result<Value, ApiError> {
    let mut r = Reader { buf: b, pos: 0 };
    let (mut ty, mut int, mut s) = (0u64, 0i64, String::new());
    while !r.done() {
        match r.field()? {
            (1, Field::Varint(v)) => ty = v,
            (2, Field::Varint(v)) => int = v as i32 as i64,
            (3, Field::Bytes(x)) => s = utf8(x)?,
            _ => {}
        }
    }
    Ok(if ty == 1 { json!(s) } else { json!(int) })
}

fn decode(b: &[u8], schema: Schema) -> Result<Value, ApiError> {
    let mut out = Map::new();
    let mut r = Reader { buf: b, pos: 0 };
    while !r.done() {
        let (num, f) = r.field()?;
        let Some((_, name, kind)) = schema.iter().find(|(n, _, _)| *n == num) else {
            continue;
        };
        let name = name.to_string();
        match (kind, f) {
            (Kind::Str, Field::Bytes(x)) => {
                out.insert(name, json!(utf8(x)?));
            }
            (Kind::Int, Field::Varint(v)) => {
                out.insert(name, json!(v as i64));
            }
            (Kind::Bool, Field::Varint(v)) => {
                out.insert(name, json!(v != 0));
            }
            (Kind::Time, Field::Bytes(x)) => {
                out.insert(name, decode_time(x)?);
            }
            (Kind::Msg(s), Field::Bytes(x)) => {
                out.insert(name, decode(x, s)?);
            }
            (Kind::IntOrString, Field::Bytes(x)) => {
                out.insert(name, decode_int_or_string(x)?);
            }
            (Kind::RepStr, Field::Bytes(x)) => {
                let v = json!(utf8(x)?);
                match out.entry(name).or_insert_with(|| json!([])).as_array_mut() {
                    Some(a) => a.push(v),
                    None => return Err(malformed("repeated field")),
                }
            }
            (Kind::RepMsg(s), Field::Bytes(x)) => {
                let v = decode(x, s)?;
                match out.entry(name).or_insert_with(|| json!([])).as_array_mut() {
                    Some(a) => a.push(v),
                    None => return Err(malformed("repeated field")),
                }
            }
            (Kind::MapStr | Kind::MapBytes, Field::Bytes(x)) => {
                let (k, v) = decode_map_entry(x, matches!(kind, Kind::MapBytes))?;
                if let Some(m) = out.entry(name).or_insert_with(|| json!({})).as_object_mut() {
                    m.insert(k, v);
                }
            }
            _ => return Err(malformed("unexpected wire type")),
        }
    }
    // Go's JSON encoding omits empty values (`omitempty`); protobuf carries them.
    out.retain(|_, v| match v {
        Value::String(s) => !s.is_empty(),
        Value::Number(n) => n.as_i64() != Some(0),
        Value::Bool(b) => *b,
        Value::Object(m) => !m.is_empty(),
        Value::Null => false,
        Value::Array(_) => true,
    });
    Ok(Value::Object(out))
}

/// Decodes a protobuf-encoded object of a supported built-in kind into JSON.
pub fn decode_object(body: &[u8]) -> Result<Value, ApiError> {
    let rest = body
        .strip_prefix(b"k8s\x00")
        .ok_or_else(|| malformed("missing k8s protobuf magic"))?;
    let mut r = Reader { buf: rest, pos: 0 };
    let (mut api_version, mut kind, mut raw): (String, String, &[u8]) =
        (String::new(), String::new(), &[]);
    while !r.done() {
        match r.field()? {
            (1, Field::Bytes(tm)) => {
                let mut t = Reader { buf: tm, pos: 0 };
                while !t.done() {
                    match t.field()? {
                        (1, Field::Bytes(x)) => api_version = utf8(x)?,
                        (2, Field::Bytes(x)) => kind = utf8(x)?,
                        _ => {}
                    }
                }
            }
            (2, Field::Bytes(x)) => raw = x,
            _ => {}
        }
    }
    let schema = schema_for(&kind).ok_or_else(|| ApiError {
        code: 415,
        reason: "UnsupportedMediaType",
        message: format!("the emulator decodes protobuf only for Namespace, ConfigMap, Secret, ServiceAccount, Service and RBAC kinds, not {kind}; send application/json"),
        details: None,
    })?;
    let mut obj = decode(raw, schema)?;
    obj["apiVersion"] = json!(api_version);
    obj["kind"] = json!(kind);
    Ok(obj)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(num: u64, payload: &[u8]) -> Vec<u8> {
        let mut v = vec![((num << 3) | 2) as u8, payload.len() as u8];
        v.extend_from_slice(payload);
        v
    }

    #[test]
    fn decodes_a_configmap() {
        let meta = [
            field(1, b"cfg"),
            field(3, b"ns"),
            field(11, &[field(1, b"app"), field(2, b"x")].concat()),
        ]
        .concat();
        let data = [field(1, b"key"), field(2, b"value")].concat();
        let raw = [field(1, &meta), field(2, &data)].concat();
        let tm = [field(1, b"v1"), field(2, b"ConfigMap")].concat();
        let body = [b"k8s\x00".to_vec(), field(1, &tm), field(2, &raw)].concat();
        let obj = decode_object(&body).unwrap();
        assert_eq!(
            obj,
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg", "namespace": "ns", "labels": {"app": "x"}}, "data": {"key": "value"}})
        );
        assert_eq!(decode_object(b"nope").unwrap_err().code, 400);
    }
}
