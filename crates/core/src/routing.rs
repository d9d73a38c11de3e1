//! Which connectors may carry a message, in failover order.
//!
//! The longest matching E.164 prefix wins; `""` matches every number. Without any route, every
//! connector is a candidate in configuration order.

use std::collections::HashMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::connector::DynConnector;

/// One `[[routes]]` entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// E.164 prefix with `+` (`"+49"`), or `""` for all numbers.
    #[serde(default)]
    pub prefix: String,
    /// Connector names in failover order.
    pub connectors: Vec<String>,
}

/// Why a route table was refused at load time.
#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    /// A route names a connector that is not configured.
    #[error("route '{prefix}' names connector '{connector}', which is not configured")]
    UnknownConnector {
        /// The route's prefix.
        prefix: String,
        /// The missing name.
        connector: String,
    },
    /// A prefix that is neither empty nor `+` and digits.
    #[error("route prefix '{0}' must be empty or '+' followed by digits, e.g. \"+49\"")]
    BadPrefix(String),
    /// A route with no connectors.
    #[error("route '{0}' lists no connectors")]
    Empty(String),
}

/// The set of connectors of a running gateway, by name.
#[derive(Clone, Default)]
pub struct Connectors {
    list: Vec<DynConnector>,
    by_name: HashMap<String, usize>,
}

impl Connectors {
    /// Wraps the configured connectors (names must be unique; later duplicates are ignored).
    pub fn new(list: Vec<DynConnector>) -> Self {
        let mut by_name = HashMap::new();
        for (i, c) in list.iter().enumerate() {
            by_name.entry(c.name().to_owned()).or_insert(i);
        }
        Self { list, by_name }
    }

    /// All connectors in configuration order.
    pub fn all(&self) -> &[DynConnector] {
        &self.list
    }

    /// A connector by name.
    pub fn get(&self, name: &str) -> Option<&DynConnector> {
        self.by_name.get(name).map(|&i| &self.list[i])
    }
}

/// A validated route table.
#[derive(Clone)]
pub struct Router {
    routes: Vec<(String, Vec<DynConnector>)>,
    fallback: Vec<DynConnector>,
}

impl Router {
    /// Checks routes against the configured connectors.
    pub fn new(routes: &[Route], connectors: &Connectors) -> Result<Self, RouteError> {
        let mut table = Vec::with_capacity(routes.len());
        for r in routes {
            let p = &r.prefix;
            if !(p.is_empty() || (p.starts_with('+') && p[1..].bytes().all(|b| b.is_ascii_digit())))
            {
                return Err(RouteError::BadPrefix(p.clone()));
            }
            if r.connectors.is_empty() {
                return Err(RouteError::Empty(p.clone()));
            }
            let mut list = Vec::with_capacity(r.connectors.len());
            for name in &r.connectors {
                let c = connectors
                    .get(name)
                    .ok_or_else(|| RouteError::UnknownConnector {
                        prefix: p.clone(),
                        connector: name.clone(),
                    })?;
                list.push(Arc::clone(c));
            }
            table.push((p.clone(), list));
        }
        // Longest prefix first, so the first match is the most specific.
        table.sort_by_key(|r| std::cmp::Reverse(r.0.len()));
        Ok(Self {
            routes: table,
            fallback: connectors.all().to_vec(),
        })
    }

    /// Every configured connector.
    pub fn all_connectors(&self) -> &[DynConnector] {
        &self.fallback
    }

    /// The connectors for `to`, in failover order, and the prefix that matched (`None` when no
    /// route matched and every connector is a candidate).
    pub fn candidates(&self, to: &str) -> (&[DynConnector], Option<&str>) {
        for (prefix, list) in &self.routes {
            if to.starts_with(prefix.as_str()) {
                return (list, Some(prefix));
            }
        }
        if self.routes.is_empty() {
            (&self.fallback, None)
        } else {
            (&[], None)
        }
    }
}
