//! Which database the running test's fixtures use: SQLite files by default, a PostgreSQL
//! schema per fixture inside [`on_postgres`] (what [`both_backends!`](crate::both_backends)
//! wraps a test in). The store fixtures and the test gateway both take their URL from
//! [`url`].

tokio::task_local! {
    /// The PostgreSQL server the test running in this task uses, if it runs on PostgreSQL.
    static POSTGRES: String;
}

/// The PostgreSQL server tests may use (`SMSGATE_TEST_POSTGRES`, e.g.
/// `postgres://postgres@127.0.0.1:5432/test`), if one is named.
pub fn postgres_server() -> Option<String> {
    std::env::var("SMSGATE_TEST_POSTGRES")
        .ok()
        .filter(|s| !s.trim().is_empty())
}

/// Runs a test body with every store fixture (the `store` module's, the test gateway's) on
/// PostgreSQL, each directory in a schema of its own; without `SMSGATE_TEST_POSTGRES` it says
/// the test is skipped and returns without running it.
pub async fn on_postgres<F: std::future::Future<Output = ()>>(name: &str, body: F) {
    let Some(server) = postgres_server() else {
        eprintln!("{name} on PostgreSQL: skipped (set SMSGATE_TEST_POSTGRES to a server URL)");
        return;
    };
    POSTGRES.scope(server, body).await;
}

/// Whether the running test uses PostgreSQL (see [`on_postgres`]).
pub fn is_postgres() -> bool {
    POSTGRES.try_with(|_| ()).is_ok()
}

/// The store URL of `dir` for the backend the running test is on: `file` in it on SQLite, a
/// schema named after it on PostgreSQL (so reopening the same directory reopens the same
/// data, as a restart does).
pub fn url(dir: &std::path::Path, file: &str) -> String {
    match POSTGRES.try_with(Clone::clone) {
        Ok(server) => {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            dir.hash(&mut h);
            std::process::id().hash(&mut h);
            let sep = if server.contains('?') { '&' } else { '?' };
            format!("{server}{sep}schema=t_{:016x}", h.finish())
        }
        Err(_) => format!("sqlite://{}/{file}", dir.display()),
    }
}

/// Turns each named `async fn` into two tests, `NAME::sqlite` and `NAME::postgres`, that run
/// it with the store fixtures on each backend (PostgreSQL only when `SMSGATE_TEST_POSTGRES`
/// names a server; otherwise that test says it is skipped). `multi_thread:` first runs them
/// on two worker threads; `ignored multi_thread:` also marks them `#[ignore]` (the long
/// versions, run with `--ignored`).
#[macro_export]
macro_rules! both_backends {
    (@with [$($attrs:tt)*]) => {};
    (@with [$($attrs:tt)*] $name:ident $(, $rest:ident)*) => {
        mod $name {
            $($attrs)*
            async fn sqlite() {
                super::$name().await
            }

            $($attrs)*
            async fn postgres() {
                $crate::backend::on_postgres(stringify!($name), super::$name()).await
            }
        }
        $crate::both_backends!(@with [$($attrs)*] $($rest),*);
    };
    (multi_thread: $($name:ident),+ $(,)?) => {
        $crate::both_backends!(
            @with [#[tokio::test(flavor = "multi_thread", worker_threads = 2)]] $($name),+
        );
    };
    (ignored multi_thread: $($name:ident),+ $(,)?) => {
        $crate::both_backends!(
            @with [
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[ignore = "long: run with --ignored"]
            ] $($name),+
        );
    };
    ($($name:ident),+ $(,)?) => {
        $crate::both_backends!(@with [#[tokio::test]] $($name),+);
    };
}
