//! W3C Trace Context (`traceparent`, <https://www.w3.org/TR/trace-context/>): a caller's trace
//! id is kept for the request (a malformed header is ignored, as the recommendation says, and a
//! new trace starts), the request's own span id is new, both go into the request's log span
//! (`trace_id`, `span_id`), and the answer carries `traceparent` with this server's span so that
//! a client or a proxy can find the request in the logs.

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use uuid::Uuid;

/// The trace context of one request (an extension of the request).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceContext {
    /// 32 lowercase hex digits, not all zero.
    pub trace_id: String,
    /// This server's span: 16 lowercase hex digits, not all zero.
    pub span_id: String,
    /// The caller's span, when a valid `traceparent` came in.
    pub parent_id: Option<String>,
    /// The `sampled` flag as received (default: sampled).
    pub sampled: bool,
}

impl TraceContext {
    /// The `traceparent` value of this server's span.
    pub fn header(&self) -> String {
        format!(
            "00-{}-{}-{}",
            self.trace_id,
            self.span_id,
            if self.sampled { "01" } else { "00" }
        )
    }
}

fn hex_id(text: &str, len: usize) -> bool {
    text.len() == len
        && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        && text.bytes().any(|b| b != b'0')
}

/// `(trace_id, parent_id, sampled)` of a valid `traceparent` value. Version `ff` is invalid;
/// a future version is read by its first four fields (as the recommendation asks).
pub fn parse(value: &str) -> Option<(String, String, bool)> {
    let mut parts = value.trim().split('-');
    let (version, trace, parent, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let rest = parts.next();
    let version_ok = version.len() == 2
        && version
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        && version != "ff";
    if !version_ok {
        return None;
    }
    if version == "00" && rest.is_some() {
        return None;
    }
    if !hex_id(trace, 32) || !hex_id(parent, 16) || flags.len() != 2 {
        return None;
    }
    let flags = u8::from_str_radix(flags, 16).ok()?;
    Some((trace.to_owned(), parent.to_owned(), flags & 1 == 1))
}

/// `bytes` random bytes in hex, from the random half of fresh UUID v7s (the same generator as
/// every id of the service).
fn random_hex(bytes: usize) -> String {
    let mut out = String::with_capacity(bytes * 2);
    while out.len() < bytes * 2 {
        // The last 8 bytes of a v7 UUID are random but for the variant bits.
        let id = Uuid::now_v7();
        out.push_str(&hex::encode(&id.as_bytes()[8..]));
    }
    out.truncate(bytes * 2);
    out
}

/// The trace context of a request from its headers.
pub fn of(req: &Request) -> TraceContext {
    let incoming = req
        .headers()
        .get_all("traceparent")
        .iter()
        .collect::<Vec<_>>();
    // More than one traceparent is invalid: start a new trace.
    let parsed = match incoming.as_slice() {
        [one] => one.to_str().ok().and_then(parse),
        _ => None,
    };
    let span_id = random_hex(8);
    match parsed {
        Some((trace_id, parent, sampled)) => TraceContext {
            trace_id,
            span_id,
            parent_id: Some(parent),
            sampled,
        },
        None => TraceContext {
            trace_id: random_hex(16),
            span_id,
            parent_id: None,
            sampled: true,
        },
    }
}

/// The middleware: the context into the request's extensions, `traceparent` onto the answer.
pub async fn layer(mut req: Request, next: Next) -> Response {
    let context = of(&req);
    let header = HeaderValue::from_str(&context.header()).ok();
    req.extensions_mut().insert(context);
    let mut response = next.run(req).await;
    if let Some(h) = header {
        response.headers_mut().insert("traceparent", h);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_valid_traceparent_is_read_and_an_invalid_one_is_not() {
        let ok = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        assert_eq!(
            parse(ok),
            Some((
                "4bf92f3577b34da6a3ce929d0e0e4736".into(),
                "00f067aa0ba902b7".into(),
                true
            ))
        );
        for bad in [
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "garbage",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
        // A future version with more fields is read by its first four.
        assert!(parse("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-x").is_some());
    }

    #[test]
    fn generated_ids_have_the_right_shape() {
        let t = random_hex(16);
        let s = random_hex(8);
        assert!(hex_id(&t, 32) && hex_id(&s, 16), "{t} {s}");
        assert_ne!(random_hex(16), t);
    }
}
