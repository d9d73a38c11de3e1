//! A reader of `GET /v1/events/stream` (server-sent events) for tests: opens the stream with
//! a key (and a `Last-Event-ID` to resume), parses it into events, skips comments, and fails
//! the test when nothing comes in time instead of hanging it.

use std::time::Duration;

use serde_json::Value;

use crate::http::Api;

/// One server-sent event as the stream framed it.
#[derive(Clone, Debug)]
pub struct SseEvent {
    /// `id:` (the event's position in the log).
    pub id: String,
    /// `event:` (its name).
    pub event: String,
    /// `data:` parsed as JSON.
    pub data: Value,
}

/// An open event stream.
pub struct EventStream {
    res: reqwest::Response,
    /// Bytes read and not yet framed (a chunk may end inside a character).
    buf: Vec<u8>,
    /// Comment lines seen so far (`keepalive`, …), without the leading `:`.
    pub comments: Vec<String>,
    /// The last `id:` seen, from an event or from a frame of only `id:`.
    pub last_id: Option<String>,
}

impl Api {
    /// Opens `path` (`/v1/events/stream?…`) with `key`, resuming after `last_event_id`; the
    /// answer's status when it is not 200.
    pub async fn open_events(
        &self,
        key: &str,
        path: &str,
        last_event_id: Option<&str>,
    ) -> Result<EventStream, (u16, String)> {
        let mut req = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(key);
        if let Some(id) = last_event_id {
            req = req.header("last-event-id", id);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        if status != 200 {
            return Err((status, res.text().await.unwrap_or_default()));
        }
        let ct = res
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert!(ct.starts_with("text/event-stream"), "content-type {ct}");
        Ok(EventStream {
            res,
            buf: Vec::new(),
            comments: Vec::new(),
            last_id: None,
        })
    }
}

impl EventStream {
    /// The next event; panics when none comes within `within` or the stream ends.
    pub async fn next_within(&mut self, within: Duration) -> SseEvent {
        match tokio::time::timeout(within, self.next()).await {
            Ok(Some(e)) => e,
            Ok(None) => panic!("the event stream ended"),
            Err(_) => panic!("no event within {within:?}"),
        }
    }

    /// The next event, or `None` when the stream ended.
    pub async fn next(&mut self) -> Option<SseEvent> {
        loop {
            while let Some(end) = self.buf.windows(2).position(|w| w == b"\n\n") {
                let frame: Vec<u8> = self.buf.drain(..end + 2).collect();
                if let Some(e) = self.parse(&String::from_utf8_lossy(&frame)) {
                    return Some(e);
                }
            }
            let chunk = self.res.chunk().await.ok()??;
            self.buf.extend_from_slice(&chunk);
        }
    }

    /// Reads events until `pred` holds for one (10 s at most); returns every event read,
    /// that one last.
    pub async fn until(&mut self, pred: impl Fn(&SseEvent) -> bool) -> Vec<SseEvent> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let e = match tokio::time::timeout(left, self.next()).await {
                Ok(Some(e)) => e,
                Ok(None) => panic!("the event stream ended; read {seen:#?}"),
                Err(_) => panic!("timed out; read {seen:#?}"),
            };
            let done = pred(&e);
            seen.push(e);
            if done {
                return seen;
            }
        }
    }

    /// One frame as an event; `None` for a frame of comments only.
    fn parse(&mut self, frame: &str) -> Option<SseEvent> {
        let (mut id, mut event, mut data) = (String::new(), String::new(), String::new());
        let mut any = false;
        for line in frame.lines() {
            if line.is_empty() {
                continue;
            }
            if let Some(c) = line.strip_prefix(':') {
                self.comments.push(c.trim().to_owned());
                continue;
            }
            let (field, value) = line.split_once(':').unwrap_or((line, ""));
            let value = value.strip_prefix(' ').unwrap_or(value);
            any = true;
            match field {
                "id" => {
                    id = value.to_owned();
                    self.last_id = Some(id.clone());
                }
                "event" => event = value.to_owned(),
                "data" => {
                    if !data.is_empty() {
                        data.push('\n');
                    }
                    data.push_str(value);
                }
                _ => {}
            }
        }
        // A frame of only `id:` (the stream's start) dispatches no event.
        (any && !(event.is_empty() && data.is_empty())).then(|| SseEvent {
            id,
            event,
            data: serde_json::from_str(&data).unwrap_or(Value::String(data)),
        })
    }
}
