//! Group commit: one task owns the write connection and commits whatever queued up together.
//!
//! Message inserts, the hottest write (one per single-message `POST /v1/messages`), have a
//! queue of their own: every insert waiting is merged into the same multi-row statements
//! (`messages::insert_messages`), so a commit of 64 single-message requests costs two
//! statements instead of 128. Every other write is an operation run in turn inside the same
//! transaction.

use std::time::Duration;

use futures::future::BoxFuture;
use smsgate_core::message::NewMessage;
use smsgate_core::store::{Accepted, StoreError, StoreResult};
use sqlx::{ConnectOptions, Connection};
use tokio::sync::{mpsc, oneshot};

use super::db::{BATCH_LOCK, Conn, ConnectOpts};
use super::messages;

/// A write operation: a plain async fn over a connection and the data it needs, so it can be
/// run again on its own if its batch fails.
pub(crate) type WriteFn<D, T> =
    for<'c> fn(&'c mut Conn, &'c D) -> BoxFuture<'c, Result<T, sqlx::Error>>;

/// A queued operation, type-erased for the writer.
pub(crate) trait Pending: Send {
    /// Runs the operation inside the writer's open transaction, keeping its result.
    fn run<'a>(&'a mut self, conn: &'a mut Conn) -> BoxFuture<'a, Result<(), sqlx::Error>>;
    /// Answers the caller once the transaction is committed (or failed).
    fn complete(self: Box<Self>, result: StoreResult<()>);
}

struct Op<D, T> {
    data: D,
    f: WriteFn<D, T>,
    out: Option<T>,
    tx: oneshot::Sender<StoreResult<T>>,
}

impl<D: Send + Sync, T: Send> Pending for Op<D, T> {
    fn run<'a>(&'a mut self, conn: &'a mut Conn) -> BoxFuture<'a, Result<(), sqlx::Error>> {
        Box::pin(async move {
            self.out = None;
            let v = (self.f)(conn, &self.data).await?;
            self.out = Some(v);
            Ok(())
        })
    }

    fn complete(self: Box<Self>, result: StoreResult<()>) {
        let out = match (result, self.out) {
            (Ok(()), Some(v)) => Ok(v),
            (Ok(()), None) => Err(StoreError::Database("operation produced no result".into())),
            (Err(e), _) => Err(e),
        };
        let _ = self.tx.send(out);
    }
}

/// Messages to insert, with the caller waiting for their commit.
struct Insert {
    msgs: Vec<NewMessage>,
    out: Option<Vec<Accepted>>,
    tx: oneshot::Sender<StoreResult<Vec<Accepted>>>,
}

impl Insert {
    fn complete(self, result: StoreResult<()>) {
        let out = match (result, self.out) {
            (Ok(()), Some(v)) => Ok(v),
            (Ok(()), None) => Err(StoreError::Database("insert produced no result".into())),
            (Err(e), _) => Err(e),
        };
        let _ = self.tx.send(out);
    }
}

/// The handle write calls go through.
#[derive(Clone)]
pub(crate) struct Writer {
    tx: mpsc::Sender<Box<dyn Pending>>,
    inserts: mpsc::Sender<Insert>,
}

impl Writer {
    /// Starts the writer task over `conn`; it ends when every handle is dropped.
    #[allow(dead_code)] // SQLite's: its file does not go away under it.
    pub(crate) fn spawn(conn: Conn, max_batch: usize) -> Self {
        Self::start(conn, max_batch, None)
    }

    /// Like [`Writer::spawn`], for a database that can go away (a server restarted, a network
    /// cut): a commit that fails on a broken connection fails its callers (the API answers
    /// 503), and the next commit connects again with `options` first, so work resumes by
    /// itself once the database is back.
    #[allow(dead_code)] // PostgreSQL's.
    pub(crate) fn spawn_reconnecting(conn: Conn, max_batch: usize, options: ConnectOpts) -> Self {
        Self::start(conn, max_batch, Some(options))
    }

    fn start(conn: Conn, max_batch: usize, reconnect: Option<ConnectOpts>) -> Self {
        let (tx, rx) = mpsc::channel(max_batch * 4);
        let (inserts, insert_rx) = mpsc::channel(max_batch * 4);
        let link = Link {
            conn: Some(conn),
            reconnect,
        };
        tokio::spawn(run(link, rx, insert_rx, max_batch));
        Self { tx, inserts }
    }

    /// Queues an operation and waits until its transaction is committed.
    pub(crate) async fn write<D, T>(&self, data: D, f: WriteFn<D, T>) -> StoreResult<T>
    where
        D: Send + Sync + 'static,
        T: Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let op: Box<dyn Pending> = Box::new(Op {
            data,
            f,
            out: None,
            tx,
        });
        self.tx.send(op).await.map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    /// Queues new messages (merged with the other inserts waiting) and waits for the commit.
    pub(crate) async fn insert(&self, msgs: Vec<NewMessage>) -> StoreResult<Vec<Accepted>> {
        let (tx, rx) = oneshot::channel();
        let insert = Insert {
            msgs,
            out: None,
            tx,
        };
        self.inserts
            .send(insert)
            .await
            .map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }
}

/// What one commit holds.
struct Batch {
    inserts: Vec<Insert>,
    ops: Vec<Box<dyn Pending>>,
}

impl Batch {
    fn len(&self) -> usize {
        self.inserts.len() + self.ops.len()
    }

    fn complete(&mut self, result: &Result<(), sqlx::Error>) {
        let to_store = |r: &Result<(), sqlx::Error>| match r {
            Ok(()) => Ok(()),
            Err(e) => Err(StoreError::Database(e.to_string())),
        };
        for i in self.inserts.drain(..) {
            i.complete(to_store(result));
        }
        for op in self.ops.drain(..) {
            op.complete(to_store(result));
        }
    }
}

/// The write connection, and how to open it again when it breaks.
struct Link {
    /// `None` while the database is unreachable.
    conn: Option<Conn>,
    reconnect: Option<ConnectOpts>,
}

impl Link {
    /// The connection, opened again first if it broke.
    async fn get(&mut self) -> Result<&mut Conn, sqlx::Error> {
        if self.conn.is_none()
            && let Some(options) = &self.reconnect
        {
            let conn = tokio::time::timeout(Duration::from_secs(5), options.connect())
                .await
                .map_err(|_| sqlx::Error::PoolTimedOut)??;
            tracing::info!("store: reconnected to the database");
            self.conn = Some(conn);
        }
        self.conn.as_mut().ok_or(sqlx::Error::PoolClosed)
    }

    /// Drops the connection after an error that says it is gone (only where it can be opened
    /// again), so the next commit reconnects.
    fn check(&mut self, e: &sqlx::Error) {
        let broken = matches!(
            e,
            sqlx::Error::Io(_)
                | sqlx::Error::Tls(_)
                | sqlx::Error::Protocol(_)
                | sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::WorkerCrashed
        ) || matches!(e, sqlx::Error::Database(d) if d.code().is_some_and(|c| c.starts_with("57P") || c.starts_with("08")));
        if broken && self.reconnect.is_some() && self.conn.is_some() {
            tracing::warn!(error = %e, "store: lost the database connection; reconnecting on the next write");
            self.conn = None;
        }
    }
}

async fn run(
    mut conn: Link,
    mut rx: mpsc::Receiver<Box<dyn Pending>>,
    mut insert_rx: mpsc::Receiver<Insert>,
    max: usize,
) {
    let mut batch = Batch {
        inserts: Vec::with_capacity(max),
        ops: Vec::with_capacity(max),
    };
    let (mut ops_open, mut inserts_open) = (true, true);
    while ops_open || inserts_open {
        tokio::select! {
            n = rx.recv_many(&mut batch.ops, max), if ops_open => ops_open = n > 0,
            n = insert_rx.recv_many(&mut batch.inserts, max), if inserts_open => {
                inserts_open = n > 0;
            }
        }
        // Whatever else waits joins this commit.
        while batch.ops.len() < max
            && let Ok(op) = rx.try_recv()
        {
            batch.ops.push(op);
        }
        while batch.inserts.len() < max
            && let Ok(i) = insert_rx.try_recv()
        {
            batch.inserts.push(i);
        }
        if batch.len() == 0 {
            continue;
        }
        let started = std::time::Instant::now();
        let result = run_batch(&mut conn, &mut batch).await;
        tracing::trace!(
            inserts = batch.inserts.len(),
            messages = batch.inserts.iter().map(|i| i.msgs.len()).sum::<usize>(),
            ops = batch.ops.len(),
            elapsed_us = started.elapsed().as_micros() as u64,
            ok = result.is_ok(),
            "group commit"
        );
        match result {
            Ok(()) => batch.complete(&Ok(())),
            Err(e) if batch.len() == 1 || conn.conn.is_none() => {
                tracing::error!(error = %e, "store write failed");
                let r = Err(e);
                batch.complete(&r);
            }
            Err(e) => {
                tracing::warn!(error = %e, batch = batch.len(), "group commit failed; retrying each write alone");
                retry_alone(&mut conn, &mut batch).await;
            }
        }
    }
}

/// After a failed group commit: each write in its own transaction, so one bad write fails
/// alone.
async fn retry_alone(conn: &mut Link, batch: &mut Batch) {
    let (inserts, ops) = (
        std::mem::take(&mut batch.inserts),
        std::mem::take(&mut batch.ops),
    );
    for insert in inserts {
        let mut one = Batch {
            inserts: vec![insert],
            ops: Vec::new(),
        };
        let res = run_batch(conn, &mut one).await;
        if let Err(e) = &res {
            tracing::error!(error = %e, "store write failed");
        }
        one.complete(&res);
    }
    for op in ops {
        let mut one = Batch {
            inserts: Vec::new(),
            ops: vec![op],
        };
        let res = run_batch(conn, &mut one).await;
        if let Err(e) = &res {
            tracing::error!(error = %e, "store write failed");
        }
        one.complete(&res);
    }
}

async fn run_batch(link: &mut Link, batch: &mut Batch) -> Result<(), sqlx::Error> {
    let result = try_batch(link.get().await?, batch).await;
    if let Err(e) = &result {
        link.check(e);
    }
    result
}

async fn try_batch(conn: &mut Conn, batch: &mut Batch) -> Result<(), sqlx::Error> {
    let mut tx = conn.begin().await?;
    if let Some(lock) = BATCH_LOCK {
        sqlx::query(lock).execute(&mut *tx).await?;
    }
    if !batch.inserts.is_empty() {
        let all: Vec<&NewMessage> = batch.inserts.iter().flat_map(|i| &i.msgs).collect();
        let mut accepted = messages::insert_messages(&mut tx, &all).await?.into_iter();
        drop(all);
        for i in batch.inserts.iter_mut() {
            i.out = Some(accepted.by_ref().take(i.msgs.len()).collect());
        }
    }
    for op in batch.ops.iter_mut() {
        op.run(&mut tx).await?;
    }
    tx.commit().await
}
