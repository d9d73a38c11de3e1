//! What the fuzz targets share: wrapping fuzz bytes as one PDU body behind a valid header.

/// A PDU of `command_id` with `body` behind a well-formed 16-octet header (SMPP 3.4 §3.2), so
/// the fuzzer spends its time in the body decoder rather than in the frame checks.
pub fn frame(command_id: u32, body: &[u8]) -> Vec<u8> {
    let mut pdu = Vec::with_capacity(16 + body.len());
    pdu.extend_from_slice(&((16 + body.len()) as u32).to_be_bytes());
    pdu.extend_from_slice(&command_id.to_be_bytes());
    pdu.extend_from_slice(&0u32.to_be_bytes());
    pdu.extend_from_slice(&1u32.to_be_bytes());
    pdu.extend_from_slice(body);
    pdu
}
