//! JSON Schema validation of action inputs, settings and configurations, compiled once at assembly.

use serde_json::Value;

use crate::error::Violation;
use crate::{Error, Result};

/// A compiled JSON Schema.
pub struct SchemaCheck {
    validator: jsonschema::Validator,
}

impl std::fmt::Debug for SchemaCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SchemaCheck")
    }
}

impl SchemaCheck {
    /// Compiles `schema`; `what` names it in the error. Schemas may only refer to themselves: nothing is
    /// ever fetched.
    pub fn compile(what: &str, schema: &Value) -> Result<Self> {
        let validator = jsonschema::validator_for(schema)
            .map_err(|e| Error::Config(format!("the JSON Schema of {what} is invalid: {}", e.masked())))?;
        Ok(SchemaCheck { validator })
    }

    /// What is wrong with `value`: empty when it matches. The messages do not repeat the value.
    pub fn violations(&self, value: &Value) -> Vec<Violation> {
        self.validator
            .iter_errors(value)
            .map(|e| Violation { pointer: e.instance_path().as_str().to_owned(), reason: e.masked().to_string() })
            .collect()
    }
}
