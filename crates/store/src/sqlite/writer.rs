//! Group commit: one task owns the write connection and commits whatever queued up together.

use futures::future::BoxFuture;
use smsgate_core::store::{StoreError, StoreResult};
use sqlx::{Connection, SqliteConnection};
use tokio::sync::{mpsc, oneshot};

use crate::db_err;

/// A write operation: a plain async fn over a connection and the data it needs, so it can be
/// run again on its own if its batch fails.
pub(crate) type WriteFn<D, T> =
    for<'c> fn(&'c mut SqliteConnection, &'c D) -> BoxFuture<'c, Result<T, sqlx::Error>>;

/// A queued operation, type-erased for the writer.
pub(crate) trait Pending: Send {
    /// Runs the operation inside the writer's open transaction, keeping its result.
    fn run<'a>(
        &'a mut self,
        conn: &'a mut SqliteConnection,
    ) -> BoxFuture<'a, Result<(), sqlx::Error>>;
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
    fn run<'a>(
        &'a mut self,
        conn: &'a mut SqliteConnection,
    ) -> BoxFuture<'a, Result<(), sqlx::Error>> {
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

/// The handle write calls go through.
#[derive(Clone)]
pub(crate) struct Writer {
    tx: mpsc::Sender<Box<dyn Pending>>,
}

impl Writer {
    /// Starts the writer task over `conn`; it ends when every handle is dropped.
    pub(crate) fn spawn(conn: SqliteConnection, max_batch: usize) -> Self {
        let (tx, rx) = mpsc::channel(max_batch * 4);
        tokio::spawn(run(conn, rx, max_batch));
        Self { tx }
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
}

async fn run(mut conn: SqliteConnection, mut rx: mpsc::Receiver<Box<dyn Pending>>, max: usize) {
    let mut ops: Vec<Box<dyn Pending>> = Vec::with_capacity(max);
    while rx.recv_many(&mut ops, max).await > 0 {
        let started = std::time::Instant::now();
        let result = run_batch(&mut conn, &mut ops).await;
        tracing::trace!(
            ops = ops.len(),
            elapsed_us = started.elapsed().as_micros() as u64,
            ok = result.is_ok(),
            "group commit"
        );
        match result {
            Ok(()) => {
                for op in ops.drain(..) {
                    op.complete(Ok(()));
                }
            }
            Err(e) if ops.len() == 1 => {
                tracing::error!(error = %e, "store write failed");
                if let Some(op) = ops.pop() {
                    op.complete(Err(db_err(e)));
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, batch = ops.len(), "group commit failed; retrying each write alone");
                for mut op in ops.drain(..) {
                    let res = run_batch(&mut conn, std::slice::from_mut(&mut op)).await;
                    if let Err(e) = &res {
                        tracing::error!(error = %e, "store write failed");
                    }
                    op.complete(res.map_err(db_err));
                }
            }
        }
    }
}

async fn run_batch(
    conn: &mut SqliteConnection,
    ops: &mut [Box<dyn Pending>],
) -> Result<(), sqlx::Error> {
    let mut tx = conn.begin().await?;
    for op in ops.iter_mut() {
        op.run(&mut tx).await?;
    }
    tx.commit().await
}
