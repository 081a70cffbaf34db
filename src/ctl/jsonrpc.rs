//! JSON-RPC 1.0 framing and messages as `ovs-appctl` uses them.
//!
//! The stream carries JSON values back to back with no delimiter, so a message ends where its
//! JSON value ends. [`FrameScanner`] finds that end incrementally: it remembers how far it has
//! looked (nesting depth, whether it is inside a string), so each received byte is examined
//! once however the peer splits its writes, and only a complete frame is handed to serde_json.
//! A request is an object with a non-null `id`, a string `method` and an array `params`; a
//! reply is `{"id", "result", "error"}` where `error` is null on success. Anything else a peer
//! sends is classified by [`parse_request`] so the server can answer with an error or drop the
//! connection; nothing here panics on peer input.

use serde_json::Value;

/// The largest request accepted on the control socket, in bytes of JSON.
///
/// `ovs-appctl` requests are a command name and a few short arguments; 64 KiB leaves room for
/// long flow specifications while bounding what one peer can make the switch buffer.
pub const MAX_REQUEST_BYTES: usize = 64 * 1024;

/// What the front of a connection's input buffer holds.
#[derive(Debug, PartialEq)]
pub(crate) enum Frame {
    /// Not a whole JSON value yet (possibly nothing but whitespace): read more.
    Incomplete,
    /// One whole JSON value that used the first `consumed` bytes of the buffer.
    Message { value: Value, consumed: usize },
}

/// The input is not a JSON object or array, so the stream cannot be resynchronised.
#[derive(Debug, PartialEq, thiserror::Error)]
#[error("malformed JSON on the control socket: {0}")]
pub(crate) struct FrameError(String);

/// Finds where the first JSON object (or array) in a connection's input ends.
///
/// Invariant: between calls the caller only appends to the input; when a frame is returned,
/// the caller removes its `consumed` bytes from the front and the scanner starts afresh.
#[derive(Debug, Default)]
pub(crate) struct FrameScanner {
    /// Bytes of the input already examined.
    scanned: usize,
    /// Open braces and brackets not yet closed.
    depth: usize,
    in_string: bool,
    /// The previous byte was a backslash inside a string.
    escaped: bool,
}

impl FrameScanner {
    /// Examines the bytes appended since the last call and returns the first frame, if whole.
    pub(crate) fn next_frame(&mut self, input: &[u8]) -> Result<Frame, FrameError> {
        while let Some(&byte) = input.get(self.scanned) {
            self.scanned += 1;
            if self.in_string {
                if self.escaped {
                    self.escaped = false;
                } else if byte == b'\\' {
                    self.escaped = true;
                } else if byte == b'"' {
                    self.in_string = false;
                }
                continue;
            }
            match byte {
                b'{' | b'[' => self.depth += 1,
                b'}' | b']' if self.depth > 0 => {
                    self.depth -= 1;
                    if self.depth == 0 {
                        return self.finish(input);
                    }
                }
                b'"' if self.depth > 0 => self.in_string = true,
                b' ' | b'\t' | b'\n' | b'\r' => {}
                // Between frames only whitespace may appear; a request is never a scalar.
                _ if self.depth == 0 => {
                    return Err(FrameError(format!(
                        "byte 0x{byte:02x} where a JSON object should start"
                    )))
                }
                _ => {}
            }
        }
        Ok(Frame::Incomplete)
    }

    fn finish(&mut self, input: &[u8]) -> Result<Frame, FrameError> {
        let consumed = self.scanned;
        *self = FrameScanner::default();
        // The scan only balanced the brackets; serde_json checks everything else, and its
        // recursion limit turns absurd nesting into an error rather than a deep stack.
        let frame = input.get(..consumed).unwrap_or(input);
        let value = serde_json::from_slice(frame).map_err(|e| FrameError(e.to_string()))?;
        Ok(Frame::Message { value, consumed })
    }
}

/// A well-formed request: the command and its raw (not yet type-checked) arguments.
#[derive(Debug, PartialEq)]
pub(crate) struct Request {
    pub id: Value,
    pub method: String,
    pub params: Vec<Value>,
}

/// A JSON value that is not a usable request.
#[derive(Debug, PartialEq)]
pub(crate) enum BadRequest {
    /// It has an id, so the peer can be told what is wrong with it.
    Answerable { id: Value, reason: &'static str },
    /// No id to answer to (not an object, a notification, a stray reply): the peer is not
    /// speaking the protocol and the connection should be dropped.
    Unanswerable,
}

/// Classifies one framed JSON value as a request.
pub(crate) fn parse_request(value: Value) -> Result<Request, BadRequest> {
    let Value::Object(mut object) = value else {
        return Err(BadRequest::Unanswerable);
    };
    let id = match object.remove("id") {
        None | Some(Value::Null) => return Err(BadRequest::Unanswerable),
        Some(id) => id,
    };
    let Some(Value::String(method)) = object.remove("method") else {
        return Err(BadRequest::Answerable {
            id,
            reason: "request has no method",
        });
    };
    let Some(Value::Array(params)) = object.remove("params") else {
        return Err(BadRequest::Answerable {
            id,
            reason: "request params must be an array",
        });
    };
    Ok(Request { id, method, params })
}

/// Encodes the reply to the request with `id`: `Ok` becomes `result`, `Err` becomes `error`.
///
/// A non-empty body gets a trailing newline if it lacks one, as Open vSwitch does, so that
/// `ovs-appctl` output always ends a line.
pub(crate) fn encode_reply(id: &Value, outcome: Result<String, String>) -> Vec<u8> {
    let (result, error) = match outcome {
        Ok(text) => (Value::String(end_line(text)), Value::Null),
        Err(text) => (Value::Null, Value::String(end_line(text))),
    };
    serde_json::json!({ "id": id, "result": result, "error": error })
        .to_string()
        .into_bytes()
}

fn end_line(mut text: String) -> String {
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Scans `input` in one go.
    fn frame(input: &[u8]) -> Result<Frame, FrameError> {
        FrameScanner::default().next_frame(input)
    }

    #[test]
    fn frames_a_request_without_delimiter() {
        let input = br#"{"id":0,"method":"version","params":[]}{"id":1"#;
        assert_eq!(
            frame(input),
            Ok(Frame::Message {
                value: json!({"id": 0, "method": "version", "params": []}),
                consumed: 39,
            })
        );
        assert_eq!(frame(&input[39..]), Ok(Frame::Incomplete));
    }

    #[test]
    fn every_strict_prefix_of_a_request_is_incomplete() {
        // Brackets and quotes inside strings, escaped quotes and backslashes, leading blanks.
        let input = br#" {"id":0,"method":"a\"}\\","params":["{",  "]", "\\"]}"#;
        for end in 0..input.len() {
            assert_eq!(frame(&input[..end]), Ok(Frame::Incomplete), "{end}");
        }
        assert_eq!(
            frame(input),
            Ok(Frame::Message {
                value: json!({"id": 0, "method": "a\"}\\", "params": ["{", "]", "\\"]}),
                consumed: input.len(),
            })
        );
    }

    #[test]
    fn scans_input_that_arrives_a_byte_at_a_time() {
        let input = br#"{"id":1,"method":"m","params":["x\"]"]} {"id":2,"method":"n","params":[]}"#;
        let mut scanner = FrameScanner::default();
        let mut buffer = Vec::new();
        let mut frames = Vec::new();
        for &byte in input {
            buffer.push(byte);
            if let Frame::Message { value, consumed } = scanner.next_frame(&buffer).unwrap() {
                buffer.drain(..consumed);
                frames.push(value);
            }
        }
        assert_eq!(
            frames,
            [
                json!({"id": 1, "method": "m", "params": ["x\"]"]}),
                json!({"id": 2, "method": "n", "params": []}),
            ]
        );
        assert_eq!(buffer, b"");
    }

    #[test]
    fn whitespace_alone_is_incomplete() {
        assert_eq!(frame(b""), Ok(Frame::Incomplete));
        assert_eq!(frame(b" \n\t\r "), Ok(Frame::Incomplete));
    }

    #[test]
    fn garbage_is_a_frame_error() {
        assert_eq!(
            frame(b"\x00\xffgarbage"),
            Err(FrameError(
                "byte 0x00 where a JSON object should start".into()
            ))
        );
        assert!(frame(b"}").is_err());
        assert!(frame(b"\"version\"").is_err());
        assert!(frame(b"12 ").is_err());
        // Balanced but not JSON.
        assert!(frame(b"{\"id\" 0}").is_err());
        assert!(frame(b"{]").is_err());
        // Deep nesting is refused by the parser's recursion limit, not by the stack.
        let deep = format!("{}{}", "[".repeat(50_000), "]".repeat(50_000));
        assert!(frame(deep.as_bytes()).is_err());
    }

    #[test]
    fn parses_a_request() {
        let request = parse_request(json!({"id": "x", "method": "m", "params": ["a", 1]}));
        assert_eq!(
            request,
            Ok(Request {
                id: json!("x"),
                method: "m".to_string(),
                params: vec![json!("a"), json!(1)],
            })
        );
    }

    #[test]
    fn classifies_bad_requests() {
        assert_eq!(parse_request(json!([1])), Err(BadRequest::Unanswerable));
        assert_eq!(parse_request(json!(7)), Err(BadRequest::Unanswerable));
        // A notification (null id) and a stray reply cannot be answered.
        assert_eq!(
            parse_request(json!({"id": null, "method": "m", "params": []})),
            Err(BadRequest::Unanswerable)
        );
        assert_eq!(
            parse_request(json!({"result": "r", "error": null})),
            Err(BadRequest::Unanswerable)
        );
        assert_eq!(
            parse_request(json!({"id": 3, "method": 5, "params": []})),
            Err(BadRequest::Answerable {
                id: json!(3),
                reason: "request has no method"
            })
        );
        assert_eq!(
            parse_request(json!({"id": 3, "method": "m", "params": "a"})),
            Err(BadRequest::Answerable {
                id: json!(3),
                reason: "request params must be an array"
            })
        );
        assert_eq!(
            parse_request(json!({"id": 3, "method": "m"})),
            Err(BadRequest::Answerable {
                id: json!(3),
                reason: "request params must be an array"
            })
        );
    }

    #[test]
    fn encodes_replies_with_a_final_newline() {
        assert_eq!(
            encode_reply(&json!(0), Ok("hello".to_string())),
            br#"{"error":null,"id":0,"result":"hello\n"}"#
        );
        assert_eq!(
            encode_reply(&json!([1, "a"]), Err("bad\n".to_string())),
            br#"{"error":"bad\n","id":[1,"a"],"result":null}"#
        );
        assert_eq!(
            encode_reply(&json!(0), Ok(String::new())),
            br#"{"error":null,"id":0,"result":""}"#
        );
    }
}
