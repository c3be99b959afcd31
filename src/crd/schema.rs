//! Schema helpers for fields that hold arbitrary JSON.

use schemars::{Schema, SchemaGenerator, json_schema};

/// An object whose contents the API server keeps as sent (attributes the CRD
/// does not model, stored losslessly).
pub fn preserve_unknown_object(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": true
    })
}
