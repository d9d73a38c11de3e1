//! The ESME connection task: one `select!` loop over socket, timer and handle commands.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, oneshot};
use tracing::debug;

use super::types::{BindError, ClientEvent, Command, Inbound, Outcome, Reply};
use crate::io::{Conn, now};
use crate::pdu::Pdu;
use crate::session::{Bound, CloseReason, Event, LostReason};

pub(crate) struct Driver<T> {
    conn: Conn<T>,
    commands: mpsc::UnboundedReceiver<Command>,
    responder: mpsc::WeakUnboundedSender<Command>,
    events: mpsc::UnboundedSender<ClientEvent>,
    bound_tx: Option<oneshot::Sender<Result<Bound, BindError>>>,
    bound: Arc<AtomicBool>,
    queue: VecDeque<(Box<Pdu>, Reply)>,
    waiters: HashMap<u32, Reply>,
    unbind_waiters: Vec<oneshot::Sender<()>>,
}

impl<T: AsyncRead + AsyncWrite> Driver<T> {
    pub fn new(
        conn: Conn<T>,
        commands: mpsc::UnboundedReceiver<Command>,
        responder: mpsc::WeakUnboundedSender<Command>,
        events: mpsc::UnboundedSender<ClientEvent>,
        bound_tx: oneshot::Sender<Result<Bound, BindError>>,
        bound: Arc<AtomicBool>,
    ) -> Self {
        Self {
            conn,
            commands,
            responder,
            events,
            bound_tx: Some(bound_tx),
            bound,
            queue: VecDeque::new(),
            waiters: HashMap::new(),
            unbind_waiters: Vec::new(),
        }
    }

    pub async fn run(mut self) {
        loop {
            while let Some(event) = self.conn.session.poll_event() {
                self.on_event(event);
            }
            self.fill_window();
            self.conn.pump();
            if self.conn.session.is_closed() {
                break;
            }
            match self.conn.next(&mut self.commands).await {
                Some(Some(command)) => self.on_command(command),
                Some(None) => {
                    // Every handle is gone: leave politely.
                    debug!("all handles dropped; unbinding");
                    self.conn.session.unbind(now());
                }
                None => {}
            }
        }
        self.conn.finish().await;
        self.bound.store(false, Ordering::Release);
        // Requests still queued were never written: certainly not sent.
        for (_, reply) in self.queue.drain(..) {
            let _ = reply.send(Err(Outcome::NotSent));
        }
        while let Ok(command) = self.commands.try_recv() {
            match command {
                Command::Request { reply, .. } => {
                    let _ = reply.send(Err(Outcome::NotSent));
                }
                Command::Unbind { done } => self.unbind_waiters.push(done),
                Command::Respond { .. } | Command::Abort => {}
            }
        }
        for done in self.unbind_waiters.drain(..) {
            let _ = done.send(());
        }
        debug!("esme driver stopped");
    }

    fn on_command(&mut self, command: Command) {
        match command {
            Command::Request { pdu, reply } => self.queue.push_back((pdu, reply)),
            Command::Respond {
                sequence_number,
                status,
            } => {
                // The session may have closed meanwhile; then the SMSC redelivers.
                let _ = self.conn.session.respond(sequence_number, status, None);
            }
            Command::Unbind { done } => {
                self.unbind_waiters.push(done);
                self.conn.session.unbind(now());
            }
            Command::Abort => self.conn.session.close_now(),
        }
    }

    /// Hands queued requests to the session while the window has room.
    fn fill_window(&mut self) {
        while self.conn.session.window_available() > 0 {
            let Some((pdu, reply)) = self.queue.pop_front() else {
                break;
            };
            if reply.is_closed() {
                continue; // the caller gave up before it was written
            }
            match self.conn.session.send_request(now(), *pdu) {
                Ok(seq) => {
                    self.waiters.insert(seq, reply);
                }
                Err(_) => {
                    let _ = reply.send(Err(Outcome::NotSent));
                }
            }
        }
    }

    fn on_event(&mut self, event: Event) {
        match event {
            Event::Bound(bound) => {
                self.bound.store(true, Ordering::Release);
                if let Some(tx) = self.bound_tx.take() {
                    let _ = tx.send(Ok(bound.clone()));
                }
                let _ = self.events.send(ClientEvent::Bound(bound));
            }
            Event::Request {
                sequence_number,
                pdu,
            } => match (&pdu, self.responder.upgrade()) {
                (Pdu::DeliverSm(_) | Pdu::DataSm(_), Some(responder)) => {
                    let inbound = Inbound::new(sequence_number, pdu, responder);
                    // If the consumer is gone, dropping `inbound` answers ESME_RX_T_APPN.
                    let _ = self.events.send(ClientEvent::Inbound(inbound));
                }
                _ => {
                    let status = crate::pdu::CommandStatus::EsmeRinvcmdid;
                    let _ = self.conn.session.respond(sequence_number, status, None);
                }
            },
            Event::Alert(alert) => {
                let _ = self.events.send(ClientEvent::Alert(alert));
            }
            Event::Response {
                sequence_number,
                status,
                body,
            } => {
                if let Some(reply) = self.waiters.remove(&sequence_number) {
                    let _ = reply.send(Ok((status, body)));
                }
            }
            Event::ResponseLost {
                sequence_number,
                reason,
            } => {
                if let Some(reply) = self.waiters.remove(&sequence_number) {
                    let _ = reply.send(Err(Outcome::Lost(reason)));
                }
            }
            Event::Closed(reason) => self.on_closed(reason),
            Event::BindRequest(_) | Event::Outbind { .. } => {}
        }
    }

    fn on_closed(&mut self, reason: CloseReason) {
        self.bound.store(false, Ordering::Release);
        if let Some(tx) = self.bound_tx.take() {
            let _ = tx.send(Err(BindError::from_close(reason.clone())));
            return;
        }
        // The session reported every outstanding request as lost before closing; anything left
        // here was written and is equally ambiguous.
        for (_, reply) in self.waiters.drain() {
            let _ = reply.send(Err(Outcome::Lost(LostReason::Closed(reason.clone()))));
        }
        let _ = self.events.send(ClientEvent::Disconnected(reason));
    }
}
