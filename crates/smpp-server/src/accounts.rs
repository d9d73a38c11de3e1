//! The accounts clients bind as, at run time: credentials, the per-account window and
//! `max_tps` (shared by every session of the account), and the bound receiver sessions that
//! receipts and inbound SMS go to.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use smsgate_core::northbound::{ClientSession, ClientSessions};
use smsgate_smpp::server::{SessionHandle, SessionId};
use subtle::ConstantTimeEq;
use tokio::sync::Notify;

use super::config::{AccountConfig, SmppServerConfig};

/// A token bucket: `rate` tokens per second, holding at most one second's worth. Time is
/// passed in.
#[derive(Debug)]
pub struct TokenBucket {
    rate: f64,
    tokens: f64,
    last: Option<Instant>,
}

impl TokenBucket {
    /// A full bucket for `rate` per second.
    pub fn new(rate: u32) -> Self {
        Self {
            rate: f64::from(rate),
            tokens: f64::from(rate),
            last: None,
        }
    }

    /// Takes a token if one is there at `now`.
    pub fn take(&mut self, now: Instant) -> bool {
        if let Some(last) = self.last {
            let refill = now.saturating_duration_since(last).as_secs_f64() * self.rate;
            self.tokens = (self.tokens + refill).min(self.rate.max(1.0));
        }
        self.last = Some(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Why a submit was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Busy {
    /// The account's window is full.
    Window,
    /// The account sent more than `max_tps` this second.
    Rate,
}

/// One account at run time.
#[derive(Debug)]
pub struct Account {
    /// Its configuration.
    pub config: AccountConfig,
    /// The owner (`api_key_id`) of its messages.
    pub owner: String,
    window: usize,
    in_flight: AtomicUsize,
    bucket: Option<Mutex<TokenBucket>>,
    sessions: Mutex<Vec<SessionHandle>>,
    /// Woken when a receiver binds, so its feed starts at once.
    pub wake: Notify,
}

/// A slot in the account's window, given back on drop.
#[derive(Debug)]
pub struct Permit(Arc<Account>);

impl Drop for Permit {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section is a few assignments; a panic cannot leave them half done.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Account {
    fn new(config: AccountConfig, server: &SmppServerConfig) -> Self {
        let tps = config.max_tps.unwrap_or(server.max_tps);
        Self {
            owner: config.owner(),
            window: config.window.unwrap_or(server.window),
            in_flight: AtomicUsize::new(0),
            bucket: (tps > 0).then(|| Mutex::new(TokenBucket::new(tps))),
            sessions: Mutex::new(Vec::new()),
            wake: Notify::new(),
            config,
        }
    }

    /// The account's window.
    pub fn window(&self) -> usize {
        self.window
    }

    /// Admits one submit at `now`: a window slot (held until the response is sent) and, with
    /// `max_tps`, a token.
    pub fn admit(self: &Arc<Self>, now: Instant) -> Result<Permit, Busy> {
        let taken = self.in_flight.fetch_add(1, Ordering::AcqRel);
        let permit = Permit(Arc::clone(self));
        if taken >= self.window {
            return Err(Busy::Window);
        }
        if let Some(bucket) = &self.bucket
            && !lock(bucket).take(now)
        {
            return Err(Busy::Rate);
        }
        Ok(permit)
    }

    /// Remembers a bound session.
    pub fn add_session(&self, session: SessionHandle) {
        let mut sessions = lock(&self.sessions);
        sessions.retain(|s| !s.is_closed());
        sessions.push(session);
    }

    /// Forgets a session that ended.
    pub fn remove_session(&self, id: SessionId) {
        lock(&self.sessions).retain(|s| s.id() != id && !s.is_closed());
    }

    /// Every live session of the account, as operators see it.
    pub fn client_sessions(&self) -> Vec<ClientSession> {
        lock(&self.sessions)
            .iter()
            .filter(|s| !s.is_closed())
            .map(|s| ClientSession {
                session: s.id().0,
                system_id: self.config.system_id.clone(),
                bind: format!("{:?}", s.bind_type()).to_lowercase(),
                peer: s.peer().to_owned(),
                tls: s.is_tls(),
                bound_at: jiff::Timestamp::try_from(s.bound_at())
                    .map(|t| t.to_string())
                    .unwrap_or_default(),
            })
            .collect()
    }

    /// The live sessions that accept `deliver_sm` (receiver, transceiver), oldest first.
    pub fn receivers(&self) -> Vec<SessionHandle> {
        lock(&self.sessions)
            .iter()
            .filter(|s| s.can_deliver() && !s.is_closed())
            .cloned()
            .collect()
    }
}

/// Every configured account, by `system_id`.
#[derive(Debug, Default)]
pub struct Accounts {
    by_id: HashMap<String, Arc<Account>>,
}

/// Why a bind was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthError {
    /// No account has this `system_id`.
    UnknownSystemId,
    /// The password does not match.
    WrongPassword,
}

impl Accounts {
    /// The accounts of a (validated) configuration.
    pub fn new(config: &SmppServerConfig) -> Self {
        let by_id = config
            .accounts
            .iter()
            .map(|a| {
                (
                    a.system_id.clone(),
                    Arc::new(Account::new(a.clone(), config)),
                )
            })
            .collect();
        Self { by_id }
    }

    /// Checks credentials; the password is compared in constant time.
    pub fn authenticate(&self, system_id: &str, password: &str) -> Result<Arc<Account>, AuthError> {
        let account = self
            .by_id
            .get(system_id)
            .ok_or(AuthError::UnknownSystemId)?;
        let ok: bool = account
            .config
            .password
            .as_bytes()
            .ct_eq(password.as_bytes())
            .into();
        if ok {
            Ok(Arc::clone(account))
        } else {
            Err(AuthError::WrongPassword)
        }
    }

    /// Every account.
    pub fn all(&self) -> impl Iterator<Item = &Arc<Account>> {
        self.by_id.values()
    }

    /// The largest window of any account.
    pub fn max_window(&self) -> usize {
        self.by_id.values().map(|a| a.window).max().unwrap_or(1)
    }
}

impl ClientSessions for Accounts {
    fn sessions(&self) -> Vec<ClientSession> {
        let mut all: Vec<ClientSession> = self.all().flat_map(|a| a.client_sessions()).collect();
        all.sort_by_key(|s| s.session);
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use figment::providers::Format;
    use std::time::Duration;

    fn config(window: usize, tps: u32) -> SmppServerConfig {
        let text = format!(
            "listen = \"127.0.0.1:0\"\n[[accounts]]\nsystem_id = \"app\"\npassword = \"pw-12345\"\nwindow = {window}\nmax_tps = {tps}\n"
        );
        figment::Figment::new()
            .merge(figment::providers::Toml::string(&text))
            .extract()
            .unwrap()
    }

    #[test]
    fn credentials_are_told_apart() {
        let accounts = Accounts::new(&config(1, 0));
        assert!(accounts.authenticate("app", "pw-12345").is_ok());
        assert_eq!(
            accounts.authenticate("app", "px").unwrap_err(),
            AuthError::WrongPassword
        );
        assert_eq!(
            accounts.authenticate("nobody", "pw-12345").unwrap_err(),
            AuthError::UnknownSystemId
        );
    }

    #[test]
    fn the_window_is_held_until_the_permit_drops() {
        let accounts = Accounts::new(&config(2, 0));
        let a = accounts.authenticate("app", "pw-12345").unwrap();
        let now = Instant::now();
        let p1 = a.admit(now).unwrap();
        let _p2 = a.admit(now).unwrap();
        assert_eq!(a.admit(now).unwrap_err(), Busy::Window);
        drop(p1);
        assert!(a.admit(now).is_ok());
    }

    #[test]
    fn max_tps_allows_a_second_of_burst_then_refills() {
        let accounts = Accounts::new(&config(100, 3));
        let a = accounts.authenticate("app", "pw-12345").unwrap();
        let t0 = Instant::now();
        for _ in 0..3 {
            drop(a.admit(t0).unwrap());
        }
        assert_eq!(a.admit(t0).unwrap_err(), Busy::Rate);
        assert_eq!(
            a.admit(t0 + Duration::from_millis(100)).unwrap_err(),
            Busy::Rate
        );
        assert!(a.admit(t0 + Duration::from_millis(400)).is_ok());
    }
}
