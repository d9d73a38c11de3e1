//! A connector whose answers a test writes down, for the loops and handlers above the
//! `Connector` trait: which submits are refused and how, what remote ids the accepted ones
//! got, and whether the network reports receipts for them.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use smsgate_core::connector::{
    Connector, ConnectorEvent, ConnectorEvents, ConnectorInfo, ConnectorState, OutboundSms,
    Receipt, ReceiptState, SubmitError, SubmitErrorKind, SubmitOutcome,
};

/// A connector whose answers the test writes down, so a test can make the network refuse,
/// fail over or stay silent on cue: each submit takes the next scripted error, and once the
/// script is used up it accepts (one remote id per part) and, unless silent, reports every
/// part delivered 20 ms later. Always `bound`.
pub struct Scripted {
    name: String,
    script: Mutex<VecDeque<SubmitErrorKind>>,
    events: Option<ConnectorEvents>,
    submits: AtomicU32,
    remote_ids: Mutex<Vec<String>>,
}

impl Scripted {
    /// Answers `script` first, then accepts and reports receipts into `events`.
    pub fn new(name: &str, script: &[SubmitErrorKind], events: &ConnectorEvents) -> Arc<Self> {
        Self::build(name, script, Some(events.clone()))
    }

    /// Answers `script` first, then accepts and never reports: the test reports for it, to
    /// see what happens before and after a receipt is acknowledged.
    pub fn silent(name: &str, script: &[SubmitErrorKind]) -> Arc<Self> {
        Self::build(name, script, None)
    }

    fn build(name: &str, script: &[SubmitErrorKind], events: Option<ConnectorEvents>) -> Arc<Self> {
        Arc::new(Self {
            name: name.into(),
            script: Mutex::new(script.iter().cloned().collect()),
            events,
            submits: AtomicU32::new(0),
            remote_ids: Mutex::default(),
        })
    }

    /// How many submits it was handed.
    pub fn submits(&self) -> u32 {
        self.submits.load(Ordering::SeqCst)
    }

    /// The remote ids it handed out, in order.
    pub fn remote_ids(&self) -> Vec<String> {
        self.remote_ids.lock().unwrap().clone()
    }
}

#[async_trait]
impl Connector for Scripted {
    fn name(&self) -> &str {
        &self.name
    }

    fn info(&self) -> ConnectorInfo {
        ConnectorInfo {
            name: self.name.clone(),
            kind: "scripted".into(),
            state: ConnectorState::Bound,
            submitted: u64::from(self.submits()),
            failed: 0,
            receipts: 0,
            inbound: 0,
            in_flight: 0,
            details: serde_json::Value::Null,
        }
    }

    async fn submit(&self, sms: &OutboundSms) -> SubmitOutcome {
        let n = self.submits.fetch_add(1, Ordering::SeqCst);
        if let Some(kind) = self.script.lock().unwrap().pop_front() {
            return SubmitOutcome::Rejected(SubmitError::new(
                kind,
                "scripted",
                format!("scripted refusal of submit {n}"),
            ));
        }
        let ids: Vec<String> = (0..sms.segments.max(1))
            .map(|part| format!("{}-{n}-{part}", self.name))
            .collect();
        self.remote_ids.lock().unwrap().extend(ids.iter().cloned());
        if let Some(events) = self.events.clone() {
            let (name, ids) = (self.name.clone(), ids.clone());
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(20)).await;
                for remote_id in ids {
                    let receipt = Receipt {
                        connector: name.clone(),
                        remote_id,
                        state: ReceiptState::Delivered,
                        error_code: None,
                    };
                    events
                        .report_durably(ConnectorEvent::Receipt(receipt))
                        .await;
                }
            });
        }
        SubmitOutcome::Accepted { remote_ids: ids }
    }
}
