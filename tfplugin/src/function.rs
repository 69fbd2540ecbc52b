//! Provider functions (protocol 6.5+, Terraform 1.8+): pure computations
//! callable as `provider::<name>::<function>(...)`, without the provider's
//! configuration.
use crate::value::{Type, Value};
use std::sync::Arc;

/// One parameter of a function.
#[derive(Clone, Debug)]
pub struct Parameter {
    pub name: String,
    pub ty: Type,
    pub description: String,
    /// Whether null is an acceptable argument (else Terraform refuses it).
    pub allow_null: bool,
}

impl Parameter {
    pub fn new(name: impl Into<String>, ty: Type, description: impl Into<String>) -> Self {
        Parameter {
            name: name.into(),
            ty,
            description: description.into(),
            allow_null: false,
        }
    }
    pub fn allow_null(mut self) -> Self {
        self.allow_null = true;
        self
    }
}

/// Why a call failed: Terraform shows `text` at the call, or at the
/// argument `argument` (0-based) when set.
#[derive(Clone, Debug, PartialEq)]
pub struct FunctionError {
    pub text: String,
    pub argument: Option<i64>,
}

impl FunctionError {
    /// An error about the call as a whole.
    pub fn new(text: impl Into<String>) -> Self {
        FunctionError {
            text: text.into(),
            argument: None,
        }
    }
    /// An error about the argument at `index` (0-based).
    pub fn argument(index: usize, text: impl Into<String>) -> Self {
        FunctionError {
            text: text.into(),
            argument: Some(index as i64),
        }
    }
}

/// The implementation: the decoded arguments in, the result out.
pub type Call = Arc<dyn Fn(&[Value]) -> Result<Value, FunctionError> + Send + Sync>;

/// A provider function, built fluently:
/// `Function::new("parse_id", Type::String, call).summary("..").param(..)`.
#[derive(Clone)]
pub struct Function {
    pub name: &'static str,
    pub summary: String,
    pub description: String,
    pub parameters: Vec<Parameter>,
    pub returns: Type,
    pub call: Call,
}

impl Function {
    pub fn new(
        name: &'static str,
        returns: Type,
        call: impl Fn(&[Value]) -> Result<Value, FunctionError> + Send + Sync + 'static,
    ) -> Self {
        Function {
            name,
            summary: String::new(),
            description: String::new(),
            parameters: Vec::new(),
            returns,
            call: Arc::new(call),
        }
    }
    pub fn summary(mut self, s: impl Into<String>) -> Self {
        self.summary = s.into();
        self
    }
    pub fn description(mut self, d: impl Into<String>) -> Self {
        self.description = d.into();
        self
    }
    pub fn param(mut self, p: Parameter) -> Self {
        self.parameters.push(p);
        self
    }
}
