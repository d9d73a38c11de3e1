//! The gateway's [`Handler`] behind the SMPP server: binds checked against the accounts,
//! `submit_sm` decoded, validated like the REST intake and stored durably (group commit)
//! before the `submit_sm_resp` is sent with the id the client will see in its receipts;
//! `data_sm` the same way; `query_sm` and `cancel_sm` by that id.

use std::sync::Arc;
use std::time::Instant;

use rusmpp::pdus::{DataSmResp, QuerySmResp, SubmitSm};
use rusmpp::types::EmptyOrFullCOctetString;
use smsgate_core::intake::{IntakeError, IntakeLimits, QueueFull, SendRequest};
use smsgate_core::message::{Message, MessageId, Status};
use smsgate_core::northbound::{PartOf, PartProgress, StoredSubmission, Submission};
use smsgate_smpp::pdu::{CommandStatus, Pdu};
use smsgate_smpp::server::{Handler, SessionHandle, SessionId};
use smsgate_smpp::session::{BindRequest, c_string};
use tracing::{debug, error, info};

use super::accounts::{Account, Accounts, AuthError};
use super::assembly::Assembler;
use super::decode::{self, Incoming, Refusal};
use super::record::{Record, receipt_state};
use smsgate_smpp::time;

/// The handler: accounts, and the assembler that also holds the store, limits and clock.
pub struct GatewayHandler {
    /// The configured accounts.
    pub accounts: Arc<Accounts>,
    /// Store, limits, clock, signals.
    pub assembler: Assembler,
    /// Failed binds by address and `system_id`.
    pub backoff: super::backoff::BindBackoff,
}

fn send_request(incoming: &Incoming, text: String, account: &Account, now: i64) -> SendRequest {
    let start = incoming.send_at.unwrap_or(now).max(now);
    // 8-bit data stays octets: the message's text is their hex, with the client's coding and
    // header elements.
    let (text, binary) = match incoming.binary() {
        Some((hex, b)) => (hex, Some(b)),
        None => (text, None),
    };
    SendRequest {
        to: incoming.to.clone(),
        text,
        binary,
        from: incoming.from.clone(),
        encoding: if incoming.is_binary() {
            None
        } else {
            incoming.wants_ucs2().then(|| "ucs2".into())
        },
        // Rounded down but at least 1 s; decoding refused a validity that ends before `start`.
        validity: incoming
            .expires_at
            .map(|exp| format!("{}s", ((exp - start) / 1000).max(1))),
        send_at: incoming.send_at,
        priority: incoming.priority,
        api_key_id: Some(account.owner.clone()),
        tenant: Some(account.config.tenant.clone()),
        ..SendRequest::default()
    }
}

impl GatewayHandler {
    /// One message from `submit_sm` or `data_sm`: the account's window and `max_tps`, then
    /// decoding, then storing (whole, or as a part of a long message). The id once committed.
    async fn accept(
        &self,
        account: &Arc<Account>,
        what: &str,
        decode: impl FnOnce(i64) -> Result<Incoming, Refusal>,
    ) -> Result<String, CommandStatus> {
        let _permit = account.admit(Instant::now()).map_err(|busy| {
            debug!(?busy, window = account.window(), "{what} throttled");
            CommandStatus::EsmeRthrottled
        })?;
        let now = self.assembler.intake.clock().now_ms();
        let result = match decode(now) {
            Ok(incoming) if incoming.concat.is_some() => {
                self.submit_part(account, &incoming, now).await
            }
            Ok(incoming) => self.submit_whole(account, &incoming, now).await,
            Err(refusal) => Err(refusal),
        };
        result.map_err(|r| {
            debug!(status = ?r.status, reason = %r.reason, "{what} refused");
            r.status
        })
    }

    fn limits(&self) -> &IntakeLimits {
        self.assembler.intake.limits()
    }

    /// `[limits] max_queued`, as the REST API applies it: past it, `ESME_RMSGQFUL`.
    fn admit(&self, now: i64) -> Result<(), Refusal> {
        self.assembler.intake.admit(1, now).map_err(queue_full)
    }

    async fn submit_whole(
        &self,
        account: &Account,
        incoming: &Incoming,
        now: i64,
    ) -> Result<String, Refusal> {
        let request = send_request(incoming, incoming.text(), account, now);
        let message = self
            .assembler
            .intake
            .prepare(request, now)
            .map_err(|r| Refusal::from_rejection(&r))?;
        let id = message.id.to_string();
        let submission = Submission {
            id: id.clone(),
            account: account.config.system_id.clone(),
            part: None,
            data: record_json(incoming),
            created_at: now,
        };
        let store = &self.assembler.store;
        self.assembler
            .intake
            .insert_with(1, now, store.submit_whole(message, submission))
            .await
            .map_err(|e| match e {
                IntakeError::Rejected(r) => Refusal::from_rejection(&r),
                IntakeError::QueueFull(full) => queue_full(full),
                IntakeError::Store(e) => store_failed(e),
            })?;
        Ok(id)
    }

    async fn submit_part(
        &self,
        account: &Account,
        incoming: &Incoming,
        now: i64,
    ) -> Result<String, Refusal> {
        let Some(concat) = incoming.concat else {
            return Err(Refusal::new(CommandStatus::EsmeRsyserr, "not a part"));
        };
        if u32::from(concat.total) > self.limits().max_segments {
            return Err(Refusal::new(
                CommandStatus::EsmeRinvmsglen,
                format!(
                    "the message has {} parts; the limit is {} (limits.max_segments)",
                    concat.total,
                    self.limits().max_segments
                ),
            ));
        }
        // Validated like a whole message (addresses, times); the text is checked at assembly.
        let text = incoming.text();
        let probe = if text.is_empty() { " ".into() } else { text };
        let request = send_request(incoming, probe, account, now);
        let valid = self
            .assembler
            .intake
            .prepare(request, now)
            .map_err(|r| Refusal::from_rejection(&r))?;
        let group = format!(
            "{}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{}",
            incoming.source.addr,
            valid.to.as_str(),
            concat.reference,
            concat.total,
            u8::from(concat.wide_reference)
        );
        self.admit(now)?;
        let id = MessageId::new().to_string();
        let submission = Submission {
            id: id.clone(),
            account: account.config.system_id.clone(),
            part: Some(PartOf {
                group,
                part_no: concat.sequence,
                total: concat.total,
                content: smsgate_sms::hex::encode(&incoming.octets),
            }),
            data: record_json(incoming),
            created_at: now,
        };
        let progress = self
            .assembler
            .store
            .submit_part(submission)
            .await
            .map_err(store_failed)?;
        if let PartProgress::Complete(parts) = progress {
            // The part is durable already; a failed assembly is retried by the sweep.
            self.assembler.assemble(&parts).await;
        }
        Ok(id)
    }
}

impl GatewayHandler {
    /// The account's submission with this id, and its message when it has one.
    async fn lookup(
        &self,
        account: &Account,
        id: &str,
    ) -> Result<(StoredSubmission, Option<Message>), CommandStatus> {
        let a = &self.assembler;
        let sub = a
            .store
            .submission(id)
            .await
            .map_err(|e| store_failed(e).status)?
            .filter(|s| s.submission.account == account.config.system_id)
            .ok_or(CommandStatus::EsmeRinvmsgid)?;
        let message = match sub.message_id {
            Some(mid) => Some(
                a.intake
                    .store()
                    .message(mid)
                    .await
                    .map_err(|e| store_failed(e).status)?
                    .ok_or(CommandStatus::EsmeRinvmsgid)?
                    .0,
            ),
            None => None,
        };
        Ok((sub, message))
    }

    async fn query(&self, account: &Account, id: &str) -> Result<Pdu, CommandStatus> {
        let (_, message) = self.lookup(account, id).await?;
        // A part still waiting for its siblings is en route like a queued message.
        let (state, final_date) = match &message {
            Some(m) => (
                receipt_state(m.status).1,
                m.status.is_final().then(|| time::absolute(m.updated_at)),
            ),
            None => (receipt_state(Status::Queued).1, None),
        };
        let final_date = match final_date {
            Some(d) => EmptyOrFullCOctetString::from_vec([d.as_bytes(), &[0]].concat())
                .unwrap_or_else(|_| EmptyOrFullCOctetString::empty()),
            None => EmptyOrFullCOctetString::empty(),
        };
        let message_id =
            c_string::<65>(id, "message_id").map_err(|_| CommandStatus::EsmeRinvmsgid)?;
        Ok(QuerySmResp::builder()
            .message_id(message_id)
            .final_date(final_date)
            .message_state(state)
            .error_code(0)
            .build()
            .into())
    }

    async fn cancel(&self, account: &Account, id: &str) -> Result<(), CommandStatus> {
        let (_, message) = self.lookup(account, id).await?;
        let Some(message) = message else {
            // Parts not yet assembled have no message to cancel.
            return Err(CommandStatus::EsmeRcancelfail);
        };
        let now = self.assembler.intake.clock().now_ms();
        match self.assembler.intake.store().cancel(message.id, now).await {
            Ok(Some(m)) if m.status == Status::Canceled => {
                self.assembler.intake.signals().events.notify_one();
                Ok(())
            }
            Ok(_) => Err(CommandStatus::EsmeRcancelfail),
            Err(e) => Err(store_failed(e).status),
        }
    }
}

fn record_json(incoming: &Incoming) -> String {
    // A struct of strings and numbers always serialises.
    serde_json::to_string(&Record::of(incoming)).unwrap_or_default()
}

/// `[limits] max_queued`, as the REST API applies it: past it, `ESME_RMSGQFUL`.
fn queue_full(full: QueueFull) -> Refusal {
    Refusal::new(
        CommandStatus::EsmeRmsgqful,
        format!("the queue is full ([limits] max_queued): {full}"),
    )
}

fn store_failed(e: smsgate_core::store::StoreError) -> Refusal {
    error!(error = %e, "storing a submit_sm failed; answering ESME_RSYSERR");
    Refusal::new(CommandStatus::EsmeRsyserr, e.to_string())
}

impl Handler for GatewayHandler {
    type Account = Arc<Account>;

    async fn authenticate(
        &self,
        _session: SessionId,
        peer: &str,
        bind: &BindRequest,
    ) -> Result<Arc<Account>, CommandStatus> {
        // One answer for every refused bind (`ESME_RBINDFAIL`), so a client cannot tell an
        // unknown system_id from a wrong password and guess accounts; the log says which.
        let now = Instant::now();
        if let Some(until) = self.backoff.paused(peer, &bind.system_id, now) {
            info!(system_id = %bind.system_id, peer, wait = ?until.duration_since(now),
                "bind refused: too many failed binds from this address or for this system_id");
            return Err(CommandStatus::EsmeRbindfail);
        }
        match self.accounts.authenticate(&bind.system_id, &bind.password) {
            Ok(account) => {
                self.backoff.succeeded(peer, &bind.system_id);
                Ok(account)
            }
            Err(e) => {
                self.backoff.failed(peer, &bind.system_id, now);
                match e {
                    AuthError::UnknownSystemId => info!(system_id = %bind.system_id, peer,
                        "bind refused: no account has this system_id"),
                    AuthError::WrongPassword => {
                        info!(system_id = %bind.system_id, peer, "bind refused: wrong password")
                    }
                }
                Err(CommandStatus::EsmeRbindfail)
            }
        }
    }

    async fn submit(&self, account: &Arc<Account>, sm: SubmitSm) -> Result<String, CommandStatus> {
        self.accept(account, "submit_sm", |now| decode::submit_sm(&sm, now))
            .await
    }

    /// SMPP 3.4 §4.7 `data_sm` (stored like a `submit_sm`, answered with the message id), §4.8
    /// `query_sm` and §4.9 `cancel_sm` by the id the client was told (a part's id stands for
    /// its whole message); everything else is not offered (`ESME_RINVCMDID`).
    async fn request(
        &self,
        account: &Arc<Account>,
        pdu: Pdu,
    ) -> Result<Option<Pdu>, CommandStatus> {
        match pdu {
            Pdu::QuerySm(q) => self.query(account, q.message_id.as_str()).await.map(Some),
            Pdu::CancelSm(c) => self
                .cancel(account, c.message_id.as_str())
                .await
                .map(|()| None),
            Pdu::DataSm(d) => {
                let id = self
                    .accept(account, "data_sm", |now| decode::data_sm(&d, now))
                    .await?;
                let id =
                    c_string::<65>(&id, "message_id").map_err(|_| CommandStatus::EsmeRsyserr)?;
                Ok(Some(Pdu::DataSmResp(DataSmResp::new(id, Vec::new()))))
            }
            _ => Err(CommandStatus::EsmeRinvcmdid),
        }
    }

    async fn bound(&self, account: &Arc<Account>, session: SessionHandle) {
        let receiver = session.can_deliver();
        account.add_session(session);
        if receiver {
            account.wake.notify_one();
        }
    }

    async fn unbound(&self, account: &Arc<Account>, session: SessionId) {
        account.remove_session(session);
    }
}
