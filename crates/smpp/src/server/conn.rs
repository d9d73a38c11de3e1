//! One SMSC connection task: the session core, the handler's futures and pushed requests.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use rusmpp::pdus::SubmitSmResp;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;
use tracing::{Instrument, debug, info};

use super::{
    DeliverError, DeliverReply, Handler, Link, Server, ServerCommand, SessionHandle, SessionId,
};
use crate::client::AmbiguousReason;
use crate::io::{Conn, now};
use crate::pdu::{CommandStatus, Pdu};
use crate::session::{Event, LostReason, Role, Session, c_string};

pub(super) struct ServerConn<H: Handler, T> {
    server: Arc<Server<H>>,
    id: SessionId,
    link: Arc<Link>,
    conn: Conn<T>,
    tx: mpsc::UnboundedSender<ServerCommand<H::Account>>,
    rx: mpsc::UnboundedReceiver<ServerCommand<H::Account>>,
    account: Option<H::Account>,
    queue: VecDeque<(Box<Pdu>, DeliverReply)>,
    waiters: HashMap<u32, DeliverReply>,
}

impl<H: Handler, T: AsyncRead + AsyncWrite + Send + 'static> ServerConn<H, T> {
    pub fn new(
        server: Arc<Server<H>>,
        id: SessionId,
        link: Arc<Link>,
        io: T,
        tx: mpsc::UnboundedSender<ServerCommand<H::Account>>,
        rx: mpsc::UnboundedReceiver<ServerCommand<H::Account>>,
    ) -> Self {
        let session = Session::with_counters(
            Role::Smsc,
            server.config.session.clone(),
            now(),
            server.counters.clone(),
        );
        Self {
            server,
            id,
            link,
            conn: Conn::new(io, session),
            tx,
            rx,
            account: None,
            queue: VecDeque::new(),
            waiters: HashMap::new(),
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
            if let Some(Some(command)) = self.conn.next(&mut self.rx).await {
                self.on_command(command);
            }
        }
        self.conn.finish().await;
        for (_, reply) in self.queue.drain(..) {
            let _ = reply.send(Err(DeliverError::NotBound));
        }
        self.rx.close();
        while let Ok(command) = self.rx.try_recv() {
            if let ServerCommand::Request { reply, .. } = command {
                let _ = reply.send(Err(DeliverError::NotBound));
            }
        }
        if let Some(account) = self.account.take() {
            self.server.handler.unbound(&account, self.id).await;
        }
        debug!("smsc session ended");
    }

    fn on_command(&mut self, command: ServerCommand<H::Account>) {
        match command {
            ServerCommand::Auth { request, result } => match result {
                Ok(account) => {
                    let system_id = &self.server.config.system_id;
                    if self
                        .conn
                        .session
                        .accept_bind(request.sequence_number, &request, system_id)
                        .is_ok()
                    {
                        tracing::Span::current().record("system_id", request.system_id.as_str());
                        info!(system_id = %request.system_id, bind = ?request.bind_type, "bound");
                        self.account = Some(account);
                    }
                }
                Err(status) => {
                    info!(system_id = %request.system_id, ?status, "bind rejected; closing");
                    let seq = request.sequence_number;
                    let _ = self
                        .conn
                        .session
                        .reject_bind(seq, request.bind_type, status);
                    // One try per connection: the answer goes out (the driver flushes a
                    // closing session's last PDUs), then the connection closes, so a client
                    // cannot guess passwords on one socket without end.
                    self.conn.session.close_now();
                }
            },
            ServerCommand::Answer {
                sequence_number,
                status,
                body,
            } => {
                let _ = self.conn.session.respond(sequence_number, status, body);
            }
            ServerCommand::Request { pdu, reply } => self.queue.push_back((pdu, reply)),
            ServerCommand::Unbind => self.conn.session.unbind(now()),
            ServerCommand::Abort => self.conn.session.close_now(),
        }
    }

    fn fill_window(&mut self) {
        while self.conn.session.window_available() > 0 {
            let Some((pdu, reply)) = self.queue.pop_front() else {
                break;
            };
            match self.conn.session.send_request(now(), *pdu) {
                Ok(seq) => {
                    self.waiters.insert(seq, reply);
                }
                Err(_) => {
                    let _ = reply.send(Err(DeliverError::NotBound));
                }
            }
        }
    }

    fn on_event(&mut self, event: Event) {
        match event {
            Event::BindRequest(request) => {
                let (server, tx, id) = (self.server.clone(), self.tx.clone(), self.id);
                let peer = self.link.peer.clone();
                // In the session's span, so the handler's log lines name the peer.
                tokio::spawn(
                    async move {
                        let result = server.handler.authenticate(id, &peer, &request).await;
                        let _ = tx.send(ServerCommand::Auth { request, result });
                    }
                    .in_current_span(),
                );
            }
            Event::Bound(bound) => {
                let Some(account) = self.account.clone() else {
                    return;
                };
                let handle = SessionHandle {
                    id: self.id,
                    bind_type: bound.bind_type,
                    system_id: bound.peer_system_id,
                    link: Arc::clone(&self.link),
                    bound_at: std::time::SystemTime::now(),
                    commands: Box::new(self.tx.clone()),
                };
                let server = self.server.clone();
                tokio::spawn(
                    async move { server.handler.bound(&account, handle).await }.in_current_span(),
                );
            }
            Event::Request {
                sequence_number,
                pdu,
            } => self.on_request(sequence_number, pdu),
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
                    let why = match reason {
                        LostReason::Timeout => AmbiguousReason::Timeout,
                        LostReason::Malformed { .. } => AmbiguousReason::MalformedResponse,
                        LostReason::Closed(_) => AmbiguousReason::ConnectionLost,
                    };
                    let _ = reply.send(Err(DeliverError::Ambiguous(why)));
                }
            }
            Event::Closed(_) => {
                for (_, reply) in self.waiters.drain() {
                    let _ = reply.send(Err(DeliverError::Ambiguous(
                        AmbiguousReason::ConnectionLost,
                    )));
                }
            }
            Event::Outbind { .. } | Event::Alert(_) => {}
        }
    }

    fn on_request(&mut self, sequence_number: u32, pdu: Pdu) {
        let Some(account) = self.account.clone() else {
            let _ = self
                .conn
                .session
                .respond(sequence_number, CommandStatus::EsmeRinvbndsts, None);
            return;
        };
        let (server, tx) = (self.server.clone(), self.tx.clone());
        let answer = async move {
            let (status, body) = match pdu {
                Pdu::SubmitSm(sm) => match server.handler.submit(&account, sm).await {
                    Ok(message_id) => match c_string::<65>(&message_id, "message_id") {
                        Ok(id) => (
                            CommandStatus::EsmeRok,
                            Some(SubmitSmResp::new(id, Vec::new()).into()),
                        ),
                        Err(_) => (CommandStatus::EsmeRsyserr, None),
                    },
                    Err(status) => (status, None),
                },
                other => match server.handler.request(&account, other).await {
                    Ok(body) => (CommandStatus::EsmeRok, body),
                    Err(status) => (status, None),
                },
            };
            let _ = tx.send(ServerCommand::Answer {
                sequence_number,
                status,
                body,
            });
        };
        tokio::spawn(answer.in_current_span());
    }
}
