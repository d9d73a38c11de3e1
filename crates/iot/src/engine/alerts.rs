//! Rule evaluation and the alert lifecycle: raise (after `for`, outside cooldown, one open alert
//! per rule and device), escalate level by level until acknowledged, resolve on the clear
//! condition (hysteresis) or when a silent device speaks again.

use std::time::Duration;

use serde_json::json;

use super::{Engine, ago};
use crate::error::IotError;
use crate::model::{Alert, AlertState, Device, Rule, RuleKind, tenant_of};
use crate::template::{self, DEFAULT_ALERT, DEFAULT_RESOLVED, DEFAULT_SILENCE};
use crate::view;

fn ms(d: Duration) -> i64 {
    d.as_millis() as i64
}

/// Whether a rule's scope covers a device: the same tenant (a rule never sees, messages about
/// or commands another tenant's devices), then its device, device group and tag filters.
pub(super) fn rule_covers(r: &Rule, d: &Device) -> bool {
    tenant_of(r.owner.as_ref()) == tenant_of(d.owner.as_ref())
        && r.device.as_ref().is_none_or(|x| *x == d.id)
        && r.device_group
            .as_ref()
            .is_none_or(|g| d.group.as_ref() == Some(g))
        && r.tag.as_ref().is_none_or(|t| d.tags.contains(t))
}

impl Engine {
    /// Ids of enabled rules whose scope covers the device.
    fn rules_for(&self, device_id: &str, kind: RuleKind) -> Vec<String> {
        let Some(entry) = self.devices.get(device_id) else {
            return Vec::new();
        };
        let d = &entry.row.device;
        self.rules
            .values()
            .filter(|r| r.rule.enabled && r.rule.kind == kind)
            .filter(|r| rule_covers(&r.rule, d))
            .map(|r| r.rule.id.clone())
            .collect()
    }

    fn open_alert(&self, rule_id: &str, device_id: &str) -> Option<i64> {
        self.alerts
            .values()
            .find(|a| a.rule_id == rule_id && a.device_id == device_id)
            .map(|a| a.id)
    }

    fn cooldown_until(&self, rule_id: &str, device_id: &str) -> Option<i64> {
        let cooldown = ms(self.rules.get(rule_id)?.rule.cooldown);
        let st = self
            .conditions
            .get(&(rule_id.to_owned(), device_id.to_owned()))?;
        st.last_resolved_at.map(|t| t + cooldown)
    }

    /// Evaluates every condition rule that covers the device, after new readings.
    pub(super) fn evaluate_device(&mut self, device_id: &str, now: i64) {
        for rule_id in self.rules_for(device_id, RuleKind::Condition) {
            self.evaluate(&rule_id, device_id, now);
        }
    }

    fn evaluate(&mut self, rule_id: &str, device_id: &str, now: i64) {
        let (Some(entry), Some(dev)) = (self.rules.get(rule_id), self.devices.get(device_id))
        else {
            return;
        };
        let Some(condition) = &entry.condition else {
            return;
        };
        let readings = &dev.row.state.readings;
        let device = &dev.row.device;
        let holds = condition.eval(device, readings, now);
        if let Some(alert_id) = self.open_alert(rule_id, device_id) {
            let clear = match &entry.clear {
                Some(c) => c.eval(device, readings, now),
                None => holds.map(|b| !b),
            };
            if clear == Some(true) {
                self.resolve(alert_id, "cleared", now, true);
            }
            return;
        }
        let for_ms = ms(entry.rule.for_);
        let key = (rule_id.to_owned(), device_id.to_owned());
        match holds {
            Some(true) => {
                let since = self
                    .conditions
                    .get(&key)
                    .and_then(|s| s.pending_since)
                    .unwrap_or(now);
                let cooled = self
                    .cooldown_until(rule_id, device_id)
                    .is_none_or(|t| now >= t);
                if now >= since + for_ms && cooled {
                    self.set_condition(key, |st| st.pending_since = None);
                    self.raise(rule_id, device_id, now);
                } else {
                    self.set_condition(key, |st| st.pending_since = Some(since));
                }
            }
            Some(false) => self.set_condition(key, |st| st.pending_since = None),
            None => {}
        }
    }

    pub(super) fn next_condition_due(&self) -> Option<i64> {
        self.conditions
            .iter()
            .filter_map(|((r, d), st)| {
                let since = st.pending_since?;
                let rule = &self.rules.get(r)?.rule;
                let due = since + ms(rule.for_);
                Some(due.max(self.cooldown_until(r, d).unwrap_or(due)))
            })
            .min()
    }

    pub(super) fn run_condition_timers(&mut self, now: i64) {
        let due: Vec<(String, String)> = self
            .conditions
            .iter()
            .filter(|(_, st)| st.pending_since.is_some())
            .map(|(k, _)| k.clone())
            .collect();
        for (r, d) in due {
            self.evaluate(&r, &d, now);
        }
    }

    /// Raises an alert of `rule_id` for `device_id`: renders the text, tells the first level
    /// (and the rule's extra contacts), runs the rule's action.
    fn raise(&mut self, rule_id: &str, device_id: &str, now: i64) {
        let (Some(entry), Some(dev)) = (self.rules.get(rule_id), self.devices.get(device_id))
        else {
            return;
        };
        let rule = entry.rule.clone();
        let device = dev.row.device.clone();
        let state = dev.row.state.clone();
        let id = self.next_alert_id;
        self.next_alert_id += 1;
        let levels = rule
            .group
            .as_ref()
            .and_then(|g| self.groups.get(g))
            .map(|g| g.levels.clone())
            .unwrap_or_default();
        let mut alert = Alert {
            id,
            rule_id: rule.id.clone(),
            device_id: device.id.clone(),
            kind: rule.kind,
            severity: rule.severity,
            state: AlertState::Open,
            level: 0,
            text: String::new(),
            readings: state.readings.clone(),
            raised_at: now,
            acked_at: None,
            acked_by: None,
            resolved_at: None,
            next_escalation_at: (levels.len() > 1).then(|| now + ms(levels[0].delay)),
            notified: Vec::new(),
            skipped: Vec::new(),
            owner: Some(tenant_of(rule.owner.as_ref().or(device.owner.as_ref())).to_owned()),
        };
        let last_seen = match state.last_seen_at {
            Some(t) => ago(now - t),
            None => "registration".into(),
        };
        let ctx = template::context(&device, &rule, &alert, &state.readings, &last_seen);
        let default = match rule.kind {
            RuleKind::Condition => DEFAULT_ALERT,
            RuleKind::Silence => DEFAULT_SILENCE,
        };
        alert.text = template::render(rule.template.as_deref().unwrap_or(default), default, &ctx);
        let mut first: Vec<String> = levels
            .first()
            .map(|l| l.contacts.clone())
            .unwrap_or_default();
        for c in &rule.contacts {
            if !first.contains(c) {
                first.push(c.clone());
            }
        }
        let text = alert.text.clone();
        self.notify(&mut alert, &first, &text, now);
        tracing::info!(alert = id, rule = %rule.id, device = %device.id, "alert raised");
        self.event(
            "alert.raised",
            view::alert_event(&alert, &device.name, &rule.name),
        );
        self.alerts.insert(id, alert.clone());
        self.batch.alerts.push(alert);
        if let Some(action) = &rule.action {
            let req = super::CommandRequest {
                command: action.command.clone(),
                expect: action.expect.clone(),
                ..Default::default()
            };
            if let Err(e) =
                self.send_command_inner(&device.id, req, rule.owner.clone(), Some(id), now)
            {
                tracing::warn!(alert = id, error = %e, "rule action could not send its command");
            }
        }
    }

    /// Sends `text` to each contact (by id) and records them as told.
    fn notify(&mut self, alert: &mut Alert, contacts: &[String], text: &str, now: i64) {
        let validity = self.validity_of(&alert.rule_id);
        for c in contacts {
            let Some(number) = self.contacts.get(c).map(|x| x.number.clone()) else {
                tracing::warn!(contact = %c, alert = alert.id, "alert names an unknown contact");
                continue;
            };
            if self.opted_out(alert.owner.as_ref(), &number) {
                tracing::info!(contact = %c, alert = alert.id, "contact opted out: not told");
                if !alert.skipped.contains(c) {
                    alert.skipped.push(c.clone());
                }
                continue;
            }
            self.queue_sms(&number, text, None, validity, alert.owner.as_ref(), now);
            if !alert.notified.contains(c) {
                alert.notified.push(c.clone());
            }
        }
    }

    fn validity_of(&self, rule_id: &str) -> Duration {
        self.rules
            .get(rule_id)
            .and_then(|r| r.rule.validity)
            .unwrap_or(self.config.alert_validity)
    }

    pub(super) fn next_escalation_due(&self) -> Option<i64> {
        self.alerts
            .values()
            .filter(|a| a.state == AlertState::Open)
            .filter_map(|a| a.next_escalation_at)
            .min()
    }

    /// Tells the next level of every open alert whose escalation is due. An escalation that
    /// fell due during downtime fires once now; the next one counts from now, so an outage
    /// never makes several levels fire in a burst.
    pub(super) fn run_escalations(&mut self, now: i64) {
        let due: Vec<i64> = self
            .alerts
            .values()
            .filter(|a| {
                a.state == AlertState::Open && a.next_escalation_at.is_some_and(|t| t <= now)
            })
            .map(|a| a.id)
            .collect();
        for id in due {
            self.escalate(id, now);
        }
    }

    fn escalate(&mut self, id: i64, now: i64) {
        let Some(mut alert) = self.alerts.get(&id).cloned() else {
            return;
        };
        let rule = self.rules.get(&alert.rule_id).map(|r| r.rule.clone());
        let levels = rule
            .as_ref()
            .and_then(|r| r.group.as_ref())
            .and_then(|g| self.groups.get(g))
            .map(|g| g.levels.clone())
            .unwrap_or_default();
        let next = alert.level as usize + 1;
        let Some(level) = levels.get(next) else {
            alert.next_escalation_at = None;
            self.store_alert(alert);
            return;
        };
        alert.level = next as u32;
        alert.next_escalation_at = (next + 1 < levels.len()).then(|| now + ms(level.delay));
        let text = alert.text.clone();
        self.notify(&mut alert, &level.contacts, &text, now);
        tracing::info!(alert = id, level = next + 1, "alert escalated");
        let (dname, rname) = self.names(&alert);
        self.event("alert.escalated", view::alert_event(&alert, &dname, &rname));
        self.store_alert(alert);
    }

    fn names(&self, a: &Alert) -> (String, String) {
        let d = self
            .devices
            .get(&a.device_id)
            .map_or_else(|| a.device_id.clone(), |d| d.row.device.name.clone());
        let r = self
            .rules
            .get(&a.rule_id)
            .map_or_else(|| a.rule_id.clone(), |r| r.rule.name.clone());
        (d, r)
    }

    fn store_alert(&mut self, alert: Alert) {
        self.batch.alerts.push(alert.clone());
        if alert.state == AlertState::Resolved {
            self.alerts.remove(&alert.id);
        } else {
            self.alerts.insert(alert.id, alert);
        }
    }

    /// Acknowledges an open alert; `by` is a contact id or `api:<key id>`.
    pub fn ack(&mut self, id: i64, by: &str, now: i64) -> Result<Alert, IotError> {
        let Some(mut alert) = self.alerts.get(&id).cloned() else {
            return Err(IotError::NotFound(format!("open alert {id}")));
        };
        if alert.state == AlertState::Acknowledged {
            return Err(IotError::conflict(
                "already_acknowledged",
                format!(
                    "alert {id} was already acknowledged by {}",
                    alert.acked_by.as_deref().unwrap_or("someone")
                ),
            ));
        }
        self.batch.now = now;
        alert.state = AlertState::Acknowledged;
        alert.acked_at = Some(now);
        alert.acked_by = Some(by.to_owned());
        alert.next_escalation_at = None;
        tracing::info!(alert = id, by, "alert acknowledged");
        let (dname, rname) = self.names(&alert);
        self.event(
            "alert.acknowledged",
            view::alert_event(&alert, &dname, &rname),
        );
        self.store_alert(alert.clone());
        Ok(alert)
    }

    /// Resolves an alert. `notify` sends the rule's resolved SMS (when it asks for one) to
    /// everyone who was told.
    pub(super) fn resolve(&mut self, id: i64, reason: &str, now: i64, notify: bool) {
        let Some(mut alert) = self.alerts.get(&id).cloned() else {
            return;
        };
        alert.state = AlertState::Resolved;
        alert.resolved_at = Some(now);
        alert.next_escalation_at = None;
        let rule = self.rules.get(&alert.rule_id).map(|r| r.rule.clone());
        if notify
            && let Some(rule) = &rule
            && rule.notify_resolved
            && let Some(dev) = self.devices.get(&alert.device_id)
        {
            let device = dev.row.device.clone();
            let readings = dev.row.state.readings.clone();
            let ctx = template::context(&device, rule, &alert, &readings, "just now");
            let src = rule
                .resolved_template
                .as_deref()
                .unwrap_or(DEFAULT_RESOLVED);
            let text = template::render(src, DEFAULT_RESOLVED, &ctx);
            let told = alert.notified.clone();
            let validity = self.validity_of(&alert.rule_id);
            for c in &told {
                if let Some(number) = self.contacts.get(c).map(|x| x.number.clone()) {
                    self.queue_sms(&number, &text, None, validity, alert.owner.as_ref(), now);
                }
            }
        }
        self.set_condition((alert.rule_id.clone(), alert.device_id.clone()), |st| {
            st.pending_since = None;
            st.last_resolved_at = Some(now);
        });
        tracing::info!(alert = id, reason, "alert resolved");
        let (dname, rname) = self.names(&alert);
        let mut data = view::alert_event(&alert, &dname, &rname);
        data["reason"] = json!(reason);
        self.event("alert.resolved", data);
        self.store_alert(alert);
    }

    /// Resolves the device's silence alerts: it spoke.
    pub(super) fn device_spoke(&mut self, device_id: &str, now: i64) {
        let silent: Vec<i64> = self
            .alerts
            .values()
            .filter(|a| a.device_id == device_id && a.kind == RuleKind::Silence)
            .map(|a| a.id)
            .collect();
        for id in silent {
            self.resolve(id, "device_spoke", now, true);
        }
    }

    /// The silence deadline of a device under a rule, if it has one.
    fn silence_deadline(&self, rule_id: &str, device_id: &str) -> Option<i64> {
        let rule = &self.rules.get(rule_id)?.rule;
        let dev = self.devices.get(device_id)?;
        let interval = rule.silence.or(dev.row.device.heartbeat)?;
        let base = dev.row.state.last_seen_at.unwrap_or(dev.row.created_at);
        let due = base + ms(interval);
        Some(due.max(self.cooldown_until(rule_id, device_id).unwrap_or(due)))
    }

    fn silence_pairs(&self) -> Vec<(String, String)> {
        let ids: Vec<String> = self.devices.keys().cloned().collect();
        ids.into_iter()
            .flat_map(|d| {
                self.rules_for(&d, RuleKind::Silence)
                    .into_iter()
                    .map(move |r| (r, d.clone()))
            })
            .filter(|(r, d)| self.open_alert(r, d).is_none())
            .collect()
    }

    pub(super) fn next_silence_due(&self) -> Option<i64> {
        self.silence_pairs()
            .iter()
            .filter_map(|(r, d)| self.silence_deadline(r, d))
            .min()
    }

    pub(super) fn run_silence(&mut self, now: i64) {
        for (r, d) in self.silence_pairs() {
            if self.silence_deadline(&r, &d).is_some_and(|t| t <= now) {
                self.raise(&r, &d, now);
            }
        }
    }

    /// A contact's open alerts (told to them, not yet acknowledged), oldest first.
    pub(super) fn open_alerts_of(&self, contact_id: &str) -> Vec<i64> {
        self.alerts
            .values()
            .filter(|a| a.state == AlertState::Open && a.notified.iter().any(|c| c == contact_id))
            .map(|a| a.id)
            .collect()
    }

    /// Whether a contact may acknowledge an alert: told of it, or a member of its group.
    pub(super) fn may_ack(&self, contact_id: &str, alert: &Alert) -> bool {
        alert.notified.iter().any(|c| c == contact_id)
            || self
                .rules
                .get(&alert.rule_id)
                .and_then(|r| r.rule.group.as_ref())
                .and_then(|g| self.groups.get(g))
                .is_some_and(|g| {
                    g.levels
                        .iter()
                        .any(|l| l.contacts.iter().any(|c| c == contact_id))
                })
    }

    /// One line per alert for an SMS listing (`42 Overheat pump-3`).
    pub(super) fn alert_line(&self, id: i64) -> String {
        match self.alerts.get(&id) {
            Some(a) => {
                let (d, r) = self.names(a);
                format!("{id} {r} {d}")
            }
            None => id.to_string(),
        }
    }

    /// The alert as stored now, if it is still open or acknowledged.
    pub fn alert(&self, id: i64) -> Option<&Alert> {
        self.alerts.get(&id)
    }
}
