//! Reading GlusterCluster manifests from YAML text (one or more documents), as `plan` does.
//! Pure: text in, objects or errors (with the field path and line) out.

use serde::Deserialize;

use crate::api::{GROUP, GlusterCluster, VERSION};

/// A document that could not be read as a GlusterCluster.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("document {document}: {message}")]
pub struct ManifestError {
    /// The document's position in the text (1-based).
    pub document: usize,
    /// What is wrong, with the field path and line where known.
    pub message: String,
}

/// One document of a manifest.
#[derive(Debug, Clone, PartialEq)]
pub enum Document {
    /// A GlusterCluster with a name.
    Cluster {
        /// The document's position (1-based).
        document: usize,
        /// The object.
        cluster: Box<GlusterCluster>,
    },
    /// Another kind of object, which `plan` skips.
    Other {
        /// The document's position (1-based).
        document: usize,
        /// Its `kind` (empty when absent).
        kind: String,
    },
}

/// The documents of `text`, in order; empty documents are left out.
pub fn parse_documents(text: &str) -> Vec<Result<Document, ManifestError>> {
    let expected_api = format!("{GROUP}/{VERSION}");
    // First pass: what each document is. Second pass: GlusterClusters typed straight from the
    // YAML, so errors carry the field path and the line.
    let mut kinds: Vec<Result<Option<(String, String)>, ManifestError>> = Vec::new();
    for (i, doc) in serde_yaml::Deserializer::from_str(text).enumerate() {
        let document = i + 1;
        kinds.push(match serde_yaml::Value::deserialize(doc) {
            Ok(serde_yaml::Value::Null) => Ok(None),
            Ok(value) => {
                let field = |k: &str| {
                    value
                        .get(k)
                        .and_then(serde_yaml::Value::as_str)
                        .unwrap_or_default()
                        .to_string()
                };
                Ok(Some((field("apiVersion"), field("kind"))))
            }
            Err(e) => Err(ManifestError {
                document,
                message: format!("not valid YAML: {e}"),
            }),
        });
    }
    let mut out = Vec::new();
    for (i, doc) in serde_yaml::Deserializer::from_str(text).enumerate() {
        let document = i + 1;
        let Some(kind) = kinds.get(i) else { break };
        let (api_version, kind) = match kind {
            Err(e) => {
                out.push(Err(e.clone()));
                continue;
            }
            Ok(None) => continue,
            Ok(Some(pair)) => pair,
        };
        if kind != "GlusterCluster" {
            out.push(Ok(Document::Other {
                document,
                kind: kind.clone(),
            }));
            continue;
        }
        if *api_version != expected_api {
            out.push(Err(ManifestError {
                document,
                message: format!(
                    "apiVersion {api_version:?} is not {expected_api:?} (the version this operator serves)"
                ),
            }));
            continue;
        }
        out.push(match GlusterCluster::deserialize(doc) {
            Ok(cluster) if cluster.metadata.name.as_deref().is_none_or(str::is_empty) => {
                Err(ManifestError {
                    document,
                    message: "metadata.name is missing".to_string(),
                })
            }
            Ok(cluster) => Ok(Document::Cluster {
                document,
                cluster: Box::new(cluster),
            }),
            Err(e) => Err(ManifestError {
                document,
                message: e.to_string(),
            }),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "apiVersion: storage.glusterops.dev/v1alpha1
kind: GlusterCluster
metadata:
  name: demo
spec:
  cloud: {secretName: openstack, cloudName: sim}
  image: ubuntu-22.04
  flavor: m1.medium
  network: private
  zones:
  - name: zone-a
    nodes: 2
  brick: {size: 10Gi}
  volume: {name: data}
";

    #[test]
    fn reads_several_documents() {
        let text = format!("{GOOD}---\napiVersion: v1\nkind: ConfigMap\n---\n---\n{GOOD}");
        let docs = parse_documents(&text);
        assert_eq!(docs.len(), 3, "{docs:?}");
        assert!(matches!(
            &docs[0],
            Ok(Document::Cluster { document: 1, .. })
        ));
        assert!(
            matches!(&docs[1], Ok(Document::Other { document: 2, kind }) if kind == "ConfigMap")
        );
        assert!(matches!(
            &docs[2],
            Ok(Document::Cluster { document: 4, .. })
        ));
    }

    #[test]
    fn errors_name_the_field_and_line() {
        let text = GOOD.replace("nodes: 2", "nodes: two");
        let docs = parse_documents(&text);
        let err = docs[0].as_ref().expect_err("nodes is not a number");
        assert!(
            err.message.starts_with("spec.zones[0].nodes: invalid type"),
            "{err}"
        );
        assert!(err.message.contains("line 12"), "{err}");
    }

    #[test]
    fn wrong_version_and_missing_name() {
        let text = GOOD.replace("v1alpha1", "v1");
        let err = parse_documents(&text).remove(0).expect_err("v1");
        assert!(
            err.message.contains("storage.glusterops.dev/v1alpha1"),
            "{err}"
        );
        let text = GOOD.replace("  name: demo\n", "  labels: {}\n");
        let err = parse_documents(&text).remove(0).expect_err("no name");
        assert_eq!(err.message, "metadata.name is missing");
    }
}
