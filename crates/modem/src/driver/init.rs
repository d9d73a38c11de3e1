//! The start-up sequence, run after every open: echo off, numeric errors, the SIM PIN (at
//! most once per driver life), PDU mode, message service, storage, indications, SMSC,
//! identity, registration and signal.

use std::time::Duration;

use crate::at::info::{self, Registration};
use crate::at::{Final, Response};

use super::link::Link;
use super::worker::{Stop, Worker};
use super::{Identity, Indications};

impl Worker {
    /// Runs the start-up sequence. `Fatal` for what retrying cannot fix (wrong PIN, locked
    /// SIM, no PDU mode, no SMSC address), `Lost` for a modem that does not answer.
    pub(super) async fn init(&mut self, link: &mut Link) -> Result<(), Stop> {
        self.answer(link, "ATE0").await?;
        self.answer(link, "AT+CMEE=1").await?;
        self.unlock_sim(link).await?;
        let r = self.answer(link, "AT+CMGF=0").await?;
        if !r.is_ok() {
            return Err(Stop::Fatal(format!(
                "the modem refuses PDU mode (AT+CMGF=0: {}); it cannot be used",
                r.result
            )));
        }
        self.cnma_required = false;
        if self.answer(link, "AT+CSMS=1").await?.is_ok() {
            let r = self.answer(link, "AT+CSMS?").await?;
            self.cnma_required = info::csms_service(&r).unwrap_or(1) == 1;
        }
        self.select_storage(link).await?;
        self.set_indications(link).await?;
        self.check_smsc(link).await?;
        self.read_identity(link).await?;
        self.check_health(link).await?;
        Ok(())
    }

    async fn unlock_sim(&mut self, link: &mut Link) -> Result<(), Stop> {
        for _ in 0..20 {
            let r = self.answer(link, "AT+CPIN?").await?;
            let code = info::cpin(&r).map(str::to_owned);
            match code.as_deref() {
                Some("READY") => return Ok(()),
                Some("SIM PIN") => self.enter_pin(link).await?,
                Some(c) if c.contains("PUK") => {
                    return Err(Stop::Fatal(format!(
                        "the SIM is locked ({c}): unlock it with its PUK in a phone, then restart"
                    )));
                }
                Some(c) => {
                    return Err(Stop::Fatal(format!(
                        "the SIM asks for '{c}', which the gateway does not enter"
                    )));
                }
                None => {
                    if let Final::Cme(e) = &r.result
                        && e.code == Some(14)
                    {
                        // SIM busy: it is still starting.
                        tokio::time::sleep(Duration::from_millis(500)).await;
                        continue;
                    }
                    return Err(Stop::Lost(format!(
                        "SIM not usable: AT+CPIN? gave {}",
                        r.result
                    )));
                }
            }
        }
        Err(Stop::Lost("the SIM did not become ready".into()))
    }

    /// Enters the PIN once in the driver's life: a wrong PIN (or an attempt whose answer was
    /// lost) is never repeated, since three wrong PINs lock the SIM.
    async fn enter_pin(&mut self, link: &mut Link) -> Result<(), Stop> {
        let Some(pin) = self.settings.pin.clone() else {
            return Err(Stop::Fatal(
                "the SIM asks for its PIN; set `pin` for this connector".into(),
            ));
        };
        if self
            .state
            .as_ref()
            .is_some_and(|s| s.pin_was_rejected(&pin))
        {
            return Err(Stop::Fatal(
                "the SIM rejected this PIN before (see the state file); not trying it again so \
                 the SIM is not locked — fix `pin` and restart"
                    .into(),
            ));
        }
        if self.pin_tried {
            return Err(Stop::Fatal(
                "the SIM still asks for its PIN after one attempt; not trying again so the SIM \
                 is not locked — check `pin` and restart"
                    .into(),
            ));
        }
        self.pin_tried = true;
        let r = self.answer(link, &format!("AT+CPIN=\"{pin}\"")).await?;
        let rejected = matches!(&r.result, Final::Cme(e) if e.is_wrong_password());
        if let Some(state) = self.state.as_mut() {
            let remember = if rejected { Some(pin.as_str()) } else { None };
            if let Err(e) = state.set_rejected_pin(remember) {
                tracing::error!(connector = %self.name, error = %e, "cannot save the modem state file");
            }
        }
        match &r.result {
            Final::Ok => {
                tokio::time::sleep(Duration::from_millis(200)).await;
                Ok(())
            }
            Final::Cme(e) if e.is_wrong_password() => Err(Stop::Fatal(format!(
                "the SIM rejected the PIN ({e}); not retried so the SIM is not locked — fix \
                 `pin` and restart"
            ))),
            other => Err(Stop::Fatal(format!(
                "entering the SIM PIN failed ({other}); not retried so the SIM is not locked"
            ))),
        }
    }

    async fn select_storage(&mut self, link: &mut Link) -> Result<(), Stop> {
        let mem = self.settings.storage.clone();
        let line = format!("AT+CPMS=\"{mem}\",\"{mem}\",\"{mem}\"");
        for _ in 0..10 {
            let r = self.answer(link, &line).await?;
            if r.is_ok() {
                self.update(|s| {
                    if let Some((used, total)) = info::cpms(&r) {
                        s.storage_used = Some(used);
                        s.storage_total = Some(total);
                    }
                });
                return Ok(());
            }
            // SIM busy right after the PIN: wait a little.
            if !matches!(&r.result, Final::Cms(e) if e.code == Some(314))
                && !matches!(&r.result, Final::Cme(e) if e.code == Some(14))
            {
                return Err(Stop::Fatal(format!(
                    "storage '{mem}' is not available ({}); set `storage` to SM, ME or MT",
                    r.result
                )));
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        Err(Stop::Lost("the SIM stayed busy".into()))
    }

    async fn set_indications(&mut self, link: &mut Link) -> Result<(), Stop> {
        let tries: &[&str] = match self.settings.indications {
            Indications::Store => &[
                "AT+CNMI=2,1,0,2,0",
                "AT+CNMI=2,1,0,1,0",
                "AT+CNMI=2,1,0,0,0",
            ],
            Indications::Direct => &["AT+CNMI=2,2,0,1,0", "AT+CNMI=2,2,0,0,0"],
        };
        for line in tries {
            if self.answer(link, line).await?.is_ok() {
                return Ok(());
            }
        }
        // No indications: the periodic storage sweep still finds every stored message.
        tracing::warn!(connector = %self.name, "the modem accepts no AT+CNMI setting; relying on the periodic storage sweep");
        Ok(())
    }

    async fn check_smsc(&mut self, link: &mut Link) -> Result<(), Stop> {
        if let Some(s) = &self.settings.smsc {
            let s = s.clone();
            self.update(|st| st.smsc = Some(s));
            return Ok(());
        }
        let r = self.answer(link, "AT+CSCA?").await?;
        match info::csca(&r).filter(|s| !s.is_empty()) {
            Some(s) => {
                self.update(|st| st.smsc = Some(s));
                Ok(())
            }
            None => Err(Stop::Fatal(
                "the SIM has no SMSC address (AT+CSCA? is empty); set `smsc` for this connector"
                    .into(),
            )),
        }
    }

    async fn read_identity(&mut self, link: &mut Link) -> Result<(), Stop> {
        let mut id = Identity::default();
        for (line, slot) in [
            ("AT+CGMI", &mut id.manufacturer),
            ("AT+CGMM", &mut id.model),
            ("AT+CGSN", &mut id.imei),
            ("AT+CIMI", &mut id.imsi),
        ] {
            let r = self.answer(link, line).await?;
            if r.is_ok() {
                *slot = r.plain().map(str::to_owned);
            }
        }
        self.update(|s| s.identity = id);
        Ok(())
    }

    /// Signal and registration (`AT+CSQ`, `AT+CREG?`, `AT+CEREG?` on LTE modems).
    pub(super) async fn check_health(&mut self, link: &mut Link) -> Result<(), Stop> {
        let r = self.answer(link, "AT+CSQ").await?;
        let signal = info::csq(&r);
        let creg = self.answer(link, "AT+CREG?").await?;
        let mut reg = info::registration(&creg, "+CREG");
        if self.cereg {
            let r = self.answer(link, "AT+CEREG?").await?;
            match info::registration(&r, "+CEREG") {
                Some(e) if e.is_registered() || reg.is_none() => reg = Some(e),
                Some(_) => {}
                None => self.cereg = r.is_ok(),
            }
        }
        let registered = reg.is_some_and(Registration::is_registered);
        self.update(|s| {
            s.signal = signal;
            s.signal_dbm = signal.and_then(|x| x.dbm());
            s.registration = reg;
            if !registered {
                s.last_error = Some("not registered to a network".into());
            }
        });
        Ok(())
    }

    /// Runs a command whose answer init needs; a timeout (even with a live modem) ends the
    /// session so the start-up begins again.
    pub(super) async fn answer(&mut self, link: &mut Link, line: &str) -> Result<Response, Stop> {
        match self.cmd(link, line, None).await? {
            super::link::Outcome::Answered(r) => Ok(r),
            super::link::Outcome::Failed(e) => Err(Stop::Lost(format!("{line}: {e}"))),
        }
    }
}
