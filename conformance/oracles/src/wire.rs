//! `decode_wire`: every wire structure decodes to a value that encodes back
//! to exactly the input, or is rejected with a `wire` error; decoding never
//! panics; the structures agree with each other.

use sealwire::{ErrorClass, Header, InitialMessage, PreKeyBundle, RatchetMessage};

use super::{Outcome, Run, Target};

const WIRE: &[ErrorClass] = &[ErrorClass::Wire];

/// Runs the oracle on `data`.
pub(crate) fn run(data: &[u8]) -> Outcome {
    Run::new(Target::DecodeWire).execute(|run| {
        // Decoded values echo the input: windows of the input are public.
        run.scanner.supplied(data);
        match Header::decode(data) {
            Ok(header) => {
                run.ensure(header.encode()[..] == *data, || {
                    "Header: decode then encode changed the bytes".into()
                })?;
                run.scanner.check_debug("Debug of Header", &header)?;
            }
            Err(e) => run.error("Header::decode", &e, WIRE)?,
        }
        match RatchetMessage::decode(data) {
            Ok(message) => {
                run.ensure(message.encode() == data, || {
                    "RatchetMessage: decode then encode changed the bytes".into()
                })?;
                run.ensure(
                    Header::decode(&data[..sealwire::HEADER_LEN]) == Ok(message.header),
                    || "RatchetMessage's header differs from Header::decode".into(),
                )?;
                run.ensure(message.body.len() >= sealwire::TAG_LEN, || {
                    "RatchetMessage: body shorter than a tag".into()
                })?;
                run.scanner
                    .check_debug("Debug of RatchetMessage", &message)?;
            }
            Err(e) => run.error("RatchetMessage::decode", &e, WIRE)?,
        }
        match InitialMessage::decode(data) {
            Ok(initial) => {
                run.ensure(initial.encode() == data, || {
                    "InitialMessage: decode then encode changed the bytes".into()
                })?;
                run.ensure(RatchetMessage::decode(&initial.message).is_ok(), || {
                    "InitialMessage accepted with an invalid ratchet message".into()
                })?;
                run.scanner
                    .check_debug("Debug of InitialMessage", &initial)?;
            }
            Err(e) => run.error("InitialMessage::decode", &e, WIRE)?,
        }
        match PreKeyBundle::from_bytes(data) {
            Ok(bundle) => {
                run.ensure(bundle.to_bytes() == data, || {
                    "PreKeyBundle: decode then encode changed the bytes".into()
                })?;
                run.ensure(
                    data.len() == sealwire::BUNDLE_LEN_WITH_OPK
                        || data.len() == sealwire::BUNDLE_LEN_WITHOUT_OPK,
                    || format!("PreKeyBundle accepted with length {}", data.len()),
                )?;
                run.scanner.check_debug("Debug of PreKeyBundle", &bundle)?;
            }
            Err(e) => run.error("PreKeyBundle::from_bytes", &e, WIRE)?,
        }
        Ok(())
    })
}
