//! The one interface between the runner and an implementation under test.
//!
//! The built-in reference implementation and an external adapter process
//! both sit behind [`Implementation`], so both paths run the same checks.

use core::fmt;
use std::collections::BTreeSet;

use crate::protocol::{Capability, Output, Request};

/// How an operation failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OpError {
    /// The implementation rejected the input with this error class
    /// (`wire`, `handshake`, `low_order_key`, `ratchet_limit`, `duplicate`,
    /// `decryption_failed`, `state`). This is an answer, not a fault.
    Rejected(String),
    /// The implementation does not support the operation.
    Unsupported(String),
    /// The implementation misbehaved: crashed, hung, broke the protocol.
    /// Every later operation on it fails too.
    Broken(String),
}

impl fmt::Display for OpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Rejected(class) => write!(f, "rejected with error class `{class}`"),
            Self::Unsupported(what) => write!(f, "unsupported: {what}"),
            Self::Broken(why) => write!(f, "implementation failure: {why}"),
        }
    }
}

impl std::error::Error for OpError {}

/// An implementation of Sealwire driven operation by operation.
pub trait Implementation {
    /// The name it gave in its hello.
    fn name(&self) -> &str;
    /// What it can do.
    fn capabilities(&self) -> &BTreeSet<Capability>;
    /// Runs one operation.
    fn call(&mut self, request: &Request) -> Result<Output, OpError>;
}

/// The gate every implementation applies before it serves a request: a
/// broken implementation refuses everything, and an operation outside the
/// announced capabilities is `Unsupported`.
pub fn admit(
    broken: Option<&String>,
    capabilities: &BTreeSet<Capability>,
    request: &Request,
) -> Result<(), OpError> {
    if let Some(why) = broken {
        return Err(OpError::Broken(why.clone()));
    }
    let needed = request.capability();
    if !capabilities.contains(&needed) {
        return Err(OpError::Unsupported(format!(
            "`{}` needs capability `{}`, which the implementation did not announce",
            request.op(),
            needed.name()
        )));
    }
    Ok(())
}
