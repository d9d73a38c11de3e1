//! The registry: devices, contacts, on-call groups and rules, as the API and the config file
//! create, replace, delete and list them.
//!
//! Rules, alerts and commands rely on what the registry holds, so every write checks it whole:
//! a number belongs to one device or contact, the group, contacts and device a rule names
//! exist, and an entry still named elsewhere cannot be deleted. Entries are compiled (patterns,
//! conditions, templates) when written, so a bad one is refused at the request instead of
//! failing later at evaluation. A write that changes nothing adds nothing to the batch.

use crate::model::tenant_of;
use regex::Regex;

use super::{DeviceEntry, DeviceRow, Engine, Put, RuleEntry, commands};
use crate::error::IotError;
use crate::expr::Condition;
use crate::model::{Contact, Device, Format, Group, Rule, RuleKind, check_id, check_number};
use crate::template;

impl Engine {
    /// Every device with its state, by id.
    pub fn devices(&self) -> Vec<DeviceRow> {
        self.devices.values().map(|d| d.row.clone()).collect()
    }

    /// One device with its state.
    pub fn device(&self, id: &str) -> Option<DeviceRow> {
        self.devices.get(id).map(|d| d.row.clone())
    }

    /// Every contact, by id.
    pub fn contacts(&self) -> Vec<Contact> {
        self.contacts.values().cloned().collect()
    }

    /// Every on-call group, by id.
    pub fn groups(&self) -> Vec<Group> {
        self.groups.values().cloned().collect()
    }

    /// Every rule, by id.
    pub fn rules(&self) -> Vec<Rule> {
        self.rules.values().map(|r| r.rule.clone()).collect()
    }

    pub(super) fn device_entry(&self, row: DeviceRow) -> Result<DeviceEntry, IotError> {
        let d = &row.device;
        let ty = match &d.device_type {
            Some(t) => Some(self.types.get(t).ok_or_else(|| {
                IotError::invalid(
                    "unknown_device_type",
                    format!("device type '{t}' is not configured ([[iot.device_types]])"),
                )
            })?),
            None => None,
        };
        let format = d.format.or(ty.map(|t| t.format)).unwrap_or(Format::Auto);
        let source = d
            .pattern
            .as_deref()
            .or(ty.and_then(|t| t.pattern.as_deref()));
        let pattern = source
            .map(|p| {
                Regex::new(p).map_err(|e| {
                    IotError::invalid("invalid_pattern", format!("pattern '{p}': {e}"))
                })
            })
            .transpose()?;
        if format == Format::Regex && pattern.is_none() {
            return Err(IotError::invalid(
                "invalid_pattern",
                "format \"regex\" needs a pattern with named captures",
            ));
        }
        let commands = if d.commands.is_empty() {
            ty.map(|t| t.commands.clone()).unwrap_or_default()
        } else {
            d.commands.clone()
        };
        Ok(DeviceEntry {
            row,
            format,
            pattern,
            commands,
        })
    }

    /// Creates or replaces the registry entries the config file names (contacts, groups,
    /// devices, rules, in that order); an entry equal to the stored one changes nothing. The
    /// error names the entry.
    pub fn seed(&mut self, now: i64) -> Result<(), IotError> {
        let named = |kind: &str, id: &str, e: IotError| {
            IotError::invalid("invalid_seed", format!("[[iot.{kind}]] '{id}': {e}"))
        };
        for c in self.config.contacts.clone() {
            let id = c.id.clone();
            self.put_contact(c, Put::Replace, now)
                .map_err(|e| named("contacts", &id, e))?;
        }
        for g in self.config.groups.clone() {
            let id = g.id.clone();
            self.put_group(g, Put::Replace, now)
                .map_err(|e| named("groups", &id, e))?;
        }
        for d in self.config.devices.clone() {
            let id = d.id.clone();
            self.put_device(d, Put::Replace, now)
                .map_err(|e| named("devices", &id, e))?;
        }
        for r in self.config.rules.clone() {
            let id = r.id.clone();
            self.put_rule(r, Put::Replace, now)
                .map_err(|e| named("rules", &id, e))?;
        }
        Ok(())
    }

    /// Whether a device id is registered.
    pub fn has_device(&self, id: &str) -> bool {
        self.devices.contains_key(id)
    }

    /// Creates or replaces a device; returns it as stored.
    pub fn put_device(&mut self, mut d: Device, put: Put, now: i64) -> Result<Device, IotError> {
        check_id("device", &d.id)?;
        d.number = check_number(&d.number)?;
        if d.name.trim().is_empty() {
            d.name = d.id.clone();
        }
        if let Some(s) = &d.secret
            && (s.is_empty() || s.contains(char::is_whitespace))
        {
            return Err(IotError::invalid(
                "invalid_secret",
                "secret must be one word (it is the first word of every SMS)",
            ));
        }
        let existing = self.devices.get(&d.id);
        if put == Put::Create && existing.is_some() {
            return Err(exists("device", &d.id));
        }
        if existing.is_some_and(|x| x.row.device == d) {
            return Ok(d);
        }
        if let Some(other) = self.device_numbers.get(&d.number)
            && *other != d.id
        {
            return Err(IotError::conflict(
                "number_taken",
                format!("{} is already the number of device '{other}'", d.number),
            ));
        }
        if let Some(c) = self.contact_numbers.get(&d.number) {
            return Err(IotError::conflict(
                "number_taken",
                format!("{} is the number of contact '{c}'", d.number),
            ));
        }
        let row = DeviceRow {
            created_at: existing.map_or(now, |x| x.row.created_at),
            state: existing.map(|x| x.row.state.clone()).unwrap_or_default(),
            device: d.clone(),
        };
        let entry = self.device_entry(row)?;
        if let Some(old) = self.devices.remove(&d.id) {
            self.device_numbers.remove(&old.row.device.number);
        }
        self.device_numbers.insert(d.number.clone(), d.id.clone());
        self.devices.insert(d.id.clone(), entry);
        self.batch.now = now;
        self.batch.devices.push(d.clone());
        Ok(d)
    }

    /// Removes a device: its open alerts resolve, its outstanding commands fail.
    pub fn delete_device(&mut self, id: &str, now: i64) -> Result<(), IotError> {
        let Some(old) = self.devices.remove(id) else {
            return Err(IotError::NotFound(format!("device '{id}'")));
        };
        self.batch.now = now;
        self.device_numbers.remove(&old.row.device.number);
        let open: Vec<i64> = self
            .alerts
            .values()
            .filter(|a| a.device_id == id)
            .map(|a| a.id)
            .collect();
        for a in open {
            self.resolve(a, "device_deleted", now, false);
        }
        self.fail_commands_of(id, "the device was deleted", now);
        self.forget_conditions(|_, d| d == id);
        self.batch.deleted_devices.push(id.to_owned());
        Ok(())
    }

    /// Creates or replaces a contact.
    pub fn put_contact(&mut self, mut c: Contact, put: Put, now: i64) -> Result<Contact, IotError> {
        check_id("contact", &c.id)?;
        c.number = check_number(&c.number)?;
        if c.name.trim().is_empty() {
            c.name = c.id.clone();
        }
        if put == Put::Create && self.contacts.contains_key(&c.id) {
            return Err(exists("contact", &c.id));
        }
        if self.contacts.get(&c.id) == Some(&c) {
            return Ok(c);
        }
        if let Some(other) = self.contact_numbers.get(&c.number)
            && *other != c.id
        {
            return Err(IotError::conflict(
                "number_taken",
                format!("{} is already the number of contact '{other}'", c.number),
            ));
        }
        if let Some(d) = self.device_numbers.get(&c.number) {
            return Err(IotError::conflict(
                "number_taken",
                format!("{} is the number of device '{d}'", c.number),
            ));
        }
        if let Some(old) = self.contacts.remove(&c.id) {
            self.contact_numbers.remove(&old.number);
        }
        self.contact_numbers.insert(c.number.clone(), c.id.clone());
        self.contacts.insert(c.id.clone(), c.clone());
        self.batch.now = now;
        self.batch.contacts.push(c.clone());
        Ok(c)
    }

    /// Removes a contact that no group or rule names.
    pub fn delete_contact(&mut self, id: &str, now: i64) -> Result<(), IotError> {
        if !self.contacts.contains_key(id) {
            return Err(IotError::NotFound(format!("contact '{id}'")));
        }
        if let Some(g) = self
            .groups
            .values()
            .find(|g| g.levels.iter().any(|l| l.contacts.iter().any(|c| c == id)))
        {
            return Err(in_use("contact", id, "group", &g.id));
        }
        if let Some(r) = self
            .rules
            .values()
            .find(|r| r.rule.contacts.iter().any(|c| c == id))
        {
            return Err(in_use("contact", id, "rule", &r.rule.id));
        }
        if let Some(old) = self.contacts.remove(id) {
            self.contact_numbers.remove(&old.number);
        }
        self.batch.now = now;
        self.batch.deleted_contacts.push(id.to_owned());
        Ok(())
    }

    /// Creates or replaces an on-call group; every contact it names must exist.
    pub fn put_group(&mut self, mut g: Group, put: Put, now: i64) -> Result<Group, IotError> {
        check_id("group", &g.id)?;
        if g.name.trim().is_empty() {
            g.name = g.id.clone();
        }
        if put == Put::Create && self.groups.contains_key(&g.id) {
            return Err(exists("group", &g.id));
        }
        if self.groups.get(&g.id) == Some(&g) {
            return Ok(g);
        }
        if g.levels.is_empty() || g.levels.iter().any(|l| l.contacts.is_empty()) {
            return Err(IotError::invalid(
                "invalid_group",
                "a group needs at least one level, and each level at least one contact",
            ));
        }
        for c in g.levels.iter().flat_map(|l| &l.contacts) {
            self.need_contact(c, g.owner.as_ref())?;
        }
        self.groups.insert(g.id.clone(), g.clone());
        self.batch.now = now;
        self.batch.groups.push(g.clone());
        Ok(g)
    }

    /// Removes a group that no rule names.
    pub fn delete_group(&mut self, id: &str, now: i64) -> Result<(), IotError> {
        if !self.groups.contains_key(id) {
            return Err(IotError::NotFound(format!("group '{id}'")));
        }
        if let Some(r) = self
            .rules
            .values()
            .find(|r| r.rule.group.as_deref() == Some(id))
        {
            return Err(in_use("group", id, "rule", &r.rule.id));
        }
        self.groups.remove(id);
        self.batch.now = now;
        self.batch.deleted_groups.push(id.to_owned());
        Ok(())
    }

    /// Creates or replaces a rule; its expressions and templates must compile and the group
    /// and contacts it names must exist. Pending `for` clocks of a replaced rule restart.
    pub fn put_rule(&mut self, mut r: Rule, put: Put, now: i64) -> Result<Rule, IotError> {
        check_id("rule", &r.id)?;
        if r.name.trim().is_empty() {
            r.name = r.id.clone();
        }
        if put == Put::Create && self.rules.contains_key(&r.id) {
            return Err(exists("rule", &r.id));
        }
        if self.rules.get(&r.id).is_some_and(|x| x.rule == r) {
            return Ok(r);
        }
        let tenant = tenant_of(r.owner.as_ref());
        if let Some(g) = &r.group
            && self
                .groups
                .get(g)
                .is_none_or(|g| tenant_of(g.owner.as_ref()) != tenant)
        {
            return Err(IotError::invalid(
                "unknown_group",
                format!("group '{g}' does not exist"),
            ));
        }
        for c in &r.contacts {
            self.need_contact(c, r.owner.as_ref())?;
        }
        if let Some(d) = &r.device
            && self
                .devices
                .get(d)
                .is_none_or(|d| tenant_of(d.row.device.owner.as_ref()) != tenant)
        {
            return Err(IotError::invalid(
                "unknown_device",
                format!("device '{d}' does not exist"),
            ));
        }
        let entry = compile_rule(&r)?;
        let id = r.id.clone();
        self.rules.insert(id.clone(), entry);
        let pending: Vec<(String, String)> = self
            .conditions
            .iter()
            .filter(|((rule, _), st)| *rule == id && st.pending_since.is_some())
            .map(|(k, _)| k.clone())
            .collect();
        for key in pending {
            self.set_condition(key, |st| st.pending_since = None);
        }
        self.batch.now = now;
        self.batch.rules.push(r.clone());
        Ok(r)
    }

    /// Removes a rule; its open alerts resolve.
    pub fn delete_rule(&mut self, id: &str, now: i64) -> Result<(), IotError> {
        if self.rules.remove(id).is_none() {
            return Err(IotError::NotFound(format!("rule '{id}'")));
        }
        self.batch.now = now;
        let open: Vec<i64> = self
            .alerts
            .values()
            .filter(|a| a.rule_id == id)
            .map(|a| a.id)
            .collect();
        for a in open {
            self.resolve(a, "rule_deleted", now, false);
        }
        self.forget_conditions(|r, _| r == id);
        self.batch.deleted_rules.push(id.to_owned());
        Ok(())
    }

    /// A contact named by a group or rule must exist in the same tenant (another tenant's
    /// contact is reported as unknown: its existence is not the caller's business).
    fn need_contact(&self, id: &str, tenant: Option<&String>) -> Result<(), IotError> {
        if self
            .contacts
            .get(id)
            .is_some_and(|c| tenant_of(c.owner.as_ref()) == tenant_of(tenant))
        {
            Ok(())
        } else {
            Err(IotError::invalid(
                "unknown_contact",
                format!("contact '{id}' does not exist"),
            ))
        }
    }
}

fn exists(kind: &str, id: &str) -> IotError {
    IotError::conflict(
        "already_exists",
        format!("{kind} '{id}' already exists; use PUT to replace it"),
    )
}

fn in_use(kind: &str, id: &str, by_kind: &str, by: &str) -> IotError {
    IotError::conflict(
        "in_use",
        format!("{kind} '{id}' is used by {by_kind} '{by}'; change that first"),
    )
}

pub(super) fn compile_rule(r: &Rule) -> Result<RuleEntry, IotError> {
    let condition = match (&r.kind, &r.condition) {
        (RuleKind::Condition, Some(src)) => Some(Condition::compile("condition", src)?),
        (RuleKind::Condition, None) => {
            return Err(IotError::invalid(
                "invalid_condition",
                "a rule of kind \"condition\" needs a condition, e.g. \"temp > 80\"",
            ));
        }
        (RuleKind::Silence, Some(_)) => {
            return Err(IotError::invalid(
                "invalid_condition",
                "a rule of kind \"silence\" takes no condition",
            ));
        }
        (RuleKind::Silence, None) => None,
    };
    let clear = r
        .clear
        .as_deref()
        .map(|src| Condition::compile("clear", src))
        .transpose()?;
    for (field, t) in [
        ("template", &r.template),
        ("resolved_template", &r.resolved_template),
    ] {
        if let Some(src) = t {
            template::check(field, src)?;
        }
    }
    if let Some(a) = &r.action {
        commands::check_pattern("action.expect", a.expect.as_deref())?;
        if a.command.trim().is_empty() {
            return Err(IotError::invalid(
                "invalid_command",
                "action.command is empty",
            ));
        }
    }
    Ok(RuleEntry {
        rule: r.clone(),
        condition,
        clear,
    })
}
