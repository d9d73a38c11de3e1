//! What the API needs to know about tenants on every send: the `from` values a tenant may use
//! and its queue quota. Tenants change rarely, so the list is re-read at most every two seconds
//! (a change made through `/v1/tenants` is seen at once: the cache is dropped), and each
//! tenant with a quota has its own [`QueueGate`], counted in the background like the global one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use smsgate_core::intake::{QueueFull, QueueGate};
use smsgate_core::store::{Store, StoreResult, Tenant};

const TTL: Duration = Duration::from_secs(2);

/// Tenants by id.
pub type TenantMap = Arc<HashMap<String, Tenant>>;

/// The tenants as last read, and the quota gates.
#[derive(Default)]
pub struct TenantCache {
    list: std::sync::RwLock<Option<(Instant, TenantMap)>>,
    gates: Mutex<HashMap<String, Arc<QueueGate>>>,
}

impl TenantCache {
    /// Every tenant by id, at most two seconds old.
    pub async fn all(&self, store: &dyn Store) -> StoreResult<TenantMap> {
        // Every send reads it: a shared read lock, never held across an await.
        if let Some((at, map)) = self.list.read().unwrap_or_else(|e| e.into_inner()).as_ref()
            && at.elapsed() < TTL
        {
            return Ok(Arc::clone(map));
        }
        let map: HashMap<String, Tenant> = store
            .list_tenants()
            .await?
            .into_iter()
            .map(|t| (t.id.clone(), t))
            .collect();
        let map = Arc::new(map);
        *self.list.write().unwrap_or_else(|e| e.into_inner()) =
            Some((Instant::now(), Arc::clone(&map)));
        Ok(map)
    }

    /// One tenant (`None` when it does not exist).
    pub async fn get(&self, store: &dyn Store, id: &str) -> StoreResult<Option<Tenant>> {
        Ok(self.all(store).await?.get(id).cloned())
    }

    /// Forgets the list, after a change through the API.
    pub fn invalidate(&self) {
        *self.list.write().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// Refuses `n` more messages of `tenant` when its quota would be passed. A tenant's first
    /// send counts its queue before admitting, so it starts from what waits already.
    pub async fn admit(
        &self,
        store: &Arc<dyn Store>,
        tenant: &str,
        quota: u64,
        n: u64,
        now_ms: i64,
    ) -> StoreResult<Result<(), QueueFull>> {
        let (gate, fresh) = self.gate(tenant);
        if fresh {
            gate.seed(store.tenant_waiting(tenant).await?, now_ms);
        }
        Ok(gate.admit(store, now_ms, n, quota.max(1)))
    }

    /// Counts `n` messages of `tenant` accepted since its last recount.
    pub fn accepted(&self, tenant: &str, n: u64) {
        let gates = self.gates.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(g) = gates.get(tenant) {
            g.accepted(n);
        }
    }

    /// The tenant's gate, and whether it was just made.
    fn gate(&self, tenant: &str) -> (Arc<QueueGate>, bool) {
        let mut gates = self.gates.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(g) = gates.get(tenant) {
            return (Arc::clone(g), false);
        }
        let g = Arc::new(QueueGate::for_tenant(tenant));
        gates.insert(tenant.to_owned(), Arc::clone(&g));
        (g, true)
    }
}
