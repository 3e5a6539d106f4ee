//! The adapter side of the protocol: serves any [`Implementation`] as
//! JSON lines over a reader and a writer (ADAPTER.md).
//!
//! `sealwire-conformance reference-adapter` serves the reference
//! implementation this way. It is the protocol's executable example and lets
//! the suite check its own adapter path: `run --impl
//! 'sealwire-conformance reference-adapter'` must give the same results as
//! the in-process run.

use std::io::{self, BufRead, Write};

use serde_json::{Map, Value, json};

use sealwire_adapter::{ADAPTER_PROTOCOL_VERSION, Request};
use sealwire_adapter::{Implementation, OpError};

/// Answers requests from `input` on `output` until end of input. Returns an
/// error if the implementation breaks (the process should then exit
/// non-zero) or on an I/O error.
pub fn serve(
    implementation: &mut dyn Implementation,
    input: impl BufRead,
    mut output: impl Write,
) -> io::Result<()> {
    for line in input.lines() {
        let line = line?;
        let response = answer(implementation, &line)?;
        serde_json::to_writer(&mut output, &response)?;
        output.write_all(b"\n")?;
        output.flush()?;
    }
    Ok(())
}

/// The response to one request line.
fn answer(implementation: &mut dyn Implementation, line: &str) -> io::Result<Value> {
    let mut object = match serde_json::from_str::<Value>(line) {
        Ok(Value::Object(object)) => object,
        // Without an id there is nothing correct to answer; the runner
        // never sends such a line.
        _ => return Ok(json!({"id": Value::Null, "error": "wire"})),
    };
    let id = object.remove("id").unwrap_or(Value::Null);
    if object.get("op") == Some(&Value::from("hello")) {
        if object.get("protocol") != Some(&Value::from(ADAPTER_PROTOCOL_VERSION)) {
            return Ok(json!({"id": id, "error": "wire"}));
        }
        let capabilities: Vec<&str> = implementation
            .capabilities()
            .iter()
            .map(|c| c.name())
            .collect();
        return Ok(json!({"id": id, "ok": {
            "name": implementation.name(),
            "protocol": ADAPTER_PROTOCOL_VERSION,
            "capabilities": capabilities,
        }}));
    }
    let request: Request = match serde_json::from_value(Value::Object(object)) {
        Ok(request) => request,
        Err(_) => return Ok(json!({"id": id, "error": "wire"})),
    };
    Ok(match implementation.call(&request) {
        Ok(fields) => json!({"id": id, "ok": fields.into_iter().collect::<Map<_, _>>()}),
        Err(OpError::Rejected(class)) => json!({"id": id, "error": class}),
        Err(OpError::Unsupported(why)) => json!({"id": id, "unsupported": why}),
        Err(OpError::Broken(why)) => return Err(io::Error::other(why)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ReferenceImplementation;

    fn exchange(input: &str) -> Vec<Value> {
        let mut out = Vec::new();
        serve(
            &mut ReferenceImplementation::new(),
            input.as_bytes(),
            &mut out,
        )
        .unwrap();
        String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[test]
    fn hello_then_requests_then_errors() {
        let responses = exchange(concat!(
            "{\"id\":0,\"op\":\"hello\",\"protocol\":1}\n",
            "{\"id\":1,\"op\":\"kdf_ck\",\"chain_key\":\"0707070707070707070707070707070707070707070707070707070707070707\"}\n",
            "{\"id\":2,\"op\":\"kdf_ck\",\"chain_key\":\"07\"}\n",
            "{\"id\":3,\"op\":\"teleport\"}\n",
            "{\"id\":4,\"op\":\"hello\",\"protocol\":2}\n",
        ));
        assert_eq!(responses.len(), 5);
        assert_eq!(responses[0]["id"], json!(0));
        assert_eq!(responses[0]["ok"]["protocol"], json!(1));
        assert_eq!(
            responses[0]["ok"]["capabilities"].as_array().unwrap().len(),
            9
        );
        // The same answer as a direct call.
        let direct = ReferenceImplementation::new()
            .call(&Request::KdfCk {
                chain_key: sealwire_adapter::hex::Bytes(vec![7; 32]),
            })
            .unwrap();
        assert_eq!(responses[1]["ok"]["message_key"], direct["message_key"]);
        assert_eq!(responses[2], json!({"id": 2, "error": "wire"}));
        assert_eq!(responses[3], json!({"id": 3, "error": "wire"}));
        assert_eq!(responses[4], json!({"id": 4, "error": "wire"}));
    }
}
