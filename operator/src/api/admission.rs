//! The ValidatingAdmissionPolicy that guards `spec.deletionPolicy`.
//!
//! A CRD's own CEL rules see `metadata.name` and `metadata.generateName` only, never
//! annotations, so "`Delete` only with an explicit annotation" cannot be a rule of the CRD. It
//! is a ValidatingAdmissionPolicy (admissionregistration.k8s.io/v1, Kubernetes ≥ 1.30) instead,
//! rendered here and committed as `crds/glustercluster-admission.yaml` (`make crds`).

use serde_json::{Value, json};

use super::{ALLOW_DELETE_POLICY_ANNOTATION, GROUP};

/// The name of the policy (and of its binding).
pub const DELETION_POLICY_ADMISSION_NAME: &str =
    "glusterclusters.storage.glusterops.dev-deletion-policy";

/// The message of a refused change, naming the field and the annotation.
pub const DELETION_POLICY_MESSAGE: &str = "spec.deletionPolicy may change to Delete only when the GlusterCluster carries the annotation storage.glusterops.dev/allow-delete-policy: \"true\"";

/// The CEL expression (ValidatingAdmissionPolicy variables `request`, `object`, `oldObject`):
/// true unless an update turns `spec.deletionPolicy` into `Delete` without the annotation
/// [`ALLOW_DELETE_POLICY_ANNOTATION`] set to `"true"`. Creating a cluster with `Delete` is not
/// a change and is allowed.
pub fn deletion_policy_expression() -> String {
    let key = ALLOW_DELETE_POLICY_ANNOTATION;
    format!(
        "request.operation != 'UPDATE' \
         || !has(object.spec.deletionPolicy) || object.spec.deletionPolicy != 'Delete' \
         || (has(oldObject.spec.deletionPolicy) && oldObject.spec.deletionPolicy == 'Delete') \
         || (has(object.metadata.annotations) && '{key}' in object.metadata.annotations \
             && object.metadata.annotations['{key}'] == 'true')"
    )
}

/// The policy and its binding, as Kubernetes objects (in that order).
pub fn deletion_policy_admission() -> [Value; 2] {
    let policy = json!({
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": DELETION_POLICY_ADMISSION_NAME},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {
                "resourceRules": [{
                    "apiGroups": [GROUP],
                    "apiVersions": ["*"],
                    "operations": ["UPDATE"],
                    "resources": ["glusterclusters"],
                }]
            },
            "validations": [{
                "expression": deletion_policy_expression(),
                "message": DELETION_POLICY_MESSAGE,
                "reason": "Forbidden",
            }],
        }
    });
    let binding = json!({
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": DELETION_POLICY_ADMISSION_NAME},
        "spec": {
            "policyName": DELETION_POLICY_ADMISSION_NAME,
            "validationActions": ["Deny"],
        }
    });
    [policy, binding]
}
