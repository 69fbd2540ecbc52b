//! What the registry said about each org and its clients, read once per
//! provider process and shared by the refreshes and plans of all its clients
//! (a refresh of a thousand clients of one org is one listing).
//!
//! The freshness rule: Terraform starts a new provider process for every
//! command (each `terraform plan`, the apply of `terraform apply`,
//! `terraform destroy`), so an org and its clients are read from the registry
//! at the first plan of one of its clients in that command, and a change made
//! behind Terraform's back between two commands is always seen by the second.
//! Within one process, this process's own writes are applied to what it
//! read: an org it updates or offboards is read again, a client it changes or
//! revokes is changed or revoked in the memo too. The clients it creates are
//! not added: the plans of this run count those (`org_facts::PlannedOrgs`),
//! and adding them would count them twice.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use crate::client::{ApiError, ClientStatus, ClientView, OrgView};

/// One memo: per key, the value once read. Concurrent plans of clients of
/// one org wait for the one read rather than each sending their own.
#[derive(Debug)]
struct Memo<T>(Mutex<HashMap<String, Arc<tokio::sync::Mutex<Option<T>>>>>);

impl<T> Default for Memo<T> {
    fn default() -> Self {
        Self(Mutex::default())
    }
}

impl<T: Clone> Memo<T> {
    fn slot(&self, key: &str) -> Option<Arc<tokio::sync::Mutex<Option<T>>>> {
        let mut slots = self.0.lock().ok()?;
        Some(Arc::clone(slots.entry(key.to_string()).or_default()))
    }

    /// The value for `key`, read with `read` the first time (a failed read
    /// is not remembered).
    async fn get<F, Fut>(&self, key: &str, read: F) -> Result<T, ApiError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, ApiError>>,
    {
        let Some(slot) = self.slot(key) else {
            return read().await;
        };
        let mut value = slot.lock().await;
        if let Some(known) = value.as_ref() {
            return Ok(known.clone());
        }
        let fresh = read().await?;
        *value = Some(fresh.clone());
        Ok(fresh)
    }

    /// Forgets `key`: the next `get` reads it again.
    fn forget(&self, key: &str) {
        if let Ok(mut slots) = self.0.lock() {
            slots.remove(key);
        }
    }

    /// Changes every value read so far with `change`; a read under way is
    /// waited for (applying a change its answer already holds is harmless).
    async fn change_all(&self, change: impl Fn(&mut T)) {
        let slots: Vec<_> = match self.0.lock() {
            Ok(slots) => slots.values().cloned().collect(),
            Err(_) => return,
        };
        for slot in slots {
            if let Some(value) = slot.lock().await.as_mut() {
                change(value);
            }
        }
    }
}

/// The orgs and their clients as this provider process read them for plans.
#[derive(Debug, Default)]
pub struct RunMemo {
    orgs: Memo<Option<OrgView>>,
    clients: Memo<Arc<Vec<ClientView>>>,
}

impl RunMemo {
    pub async fn org<F, Fut>(&self, id: &str, read: F) -> Result<Option<OrgView>, ApiError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Option<OrgView>, ApiError>>,
    {
        self.orgs.get(id, read).await
    }

    pub async fn clients_of<F, Fut>(
        &self,
        org_id: &str,
        read: F,
    ) -> Result<Arc<Vec<ClientView>>, ApiError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Vec<ClientView>, ApiError>>,
    {
        self.clients
            .get(org_id, || async { read().await.map(Arc::new) })
            .await
    }

    /// This process changed the org (updated or offboarded it; offboarding
    /// revokes its clients too).
    pub fn org_written(&self, id: &str) {
        self.orgs.forget(id);
        self.clients.forget(id);
    }

    /// This process changed a client: the memo holds it as answered.
    pub async fn client_written(&self, client: &ClientView) {
        self.clients
            .change_all(|clients| {
                if let Some(at) = clients.iter().position(|c| c.id == client.id) {
                    Arc::make_mut(clients)[at] = client.clone();
                }
            })
            .await;
    }

    /// This process revoked the client with this id.
    pub async fn client_revoked(&self, id: &str) {
        self.clients
            .change_all(|clients| {
                if let Some(at) = clients.iter().position(|c| c.id == id) {
                    Arc::make_mut(clients)[at].status = ClientStatus::Revoked;
                }
            })
            .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::ClientProfile;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn client(id: &str) -> ClientView {
        ClientView {
            id: id.into(),
            client_id: format!("pc_{id}"),
            org_id: "org_a".into(),
            profile: ClientProfile {
                name: id.into(),
                purpose: "p".into(),
                owner: "o@example.com".into(),
                ..ClientProfile::default()
            },
            auth_method: "client_secret".into(),
            jwks: None,
            jwks_uri: None,
            expires_at: "2030-01-01T00:00:00Z".into(),
            status: ClientStatus::Active,
            created_at: "2026-01-01T00:00:00Z".into(),
            updated_at: "2026-01-01T00:00:00Z".into(),
            revoked_at: None,
            version: 1,
            secret_rotated_at: "2026-01-01T00:00:00Z".into(),
            previous_secret_expires_at: None,
            last_used_at: None,
            client_secret: None,
        }
    }

    #[tokio::test]
    async fn concurrent_plans_share_one_read_and_own_writes_show() {
        let memo = Arc::new(RunMemo::default());
        let reads = Arc::new(AtomicUsize::new(0));
        let plans: Vec<_> = (0..8)
            .map(|_| {
                let (memo, reads) = (Arc::clone(&memo), Arc::clone(&reads));
                tokio::spawn(async move {
                    memo.clients_of("org_a", || async {
                        reads.fetch_add(1, Ordering::SeqCst);
                        tokio::task::yield_now().await;
                        Ok(vec![client("a"), client("b")])
                    })
                    .await
                    .expect("read")
                })
            })
            .collect();
        for plan in plans {
            assert_eq!(plan.await.expect("plan").len(), 2);
        }
        assert_eq!(reads.load(Ordering::SeqCst), 1, "one read for all plans");

        memo.client_revoked("a").await;
        let mut renamed = client("b");
        renamed.profile.name = "b2".into();
        memo.client_written(&renamed).await;
        let seen = memo
            .clients_of("org_a", || async { panic!("read again") })
            .await
            .expect("memo");
        assert_eq!(seen[0].status, ClientStatus::Revoked);
        assert_eq!(seen[1].profile.name, "b2");

        memo.org_written("org_a");
        let again = memo
            .clients_of("org_a", || async { Ok(vec![client("c")]) })
            .await
            .expect("read");
        assert_eq!(again[0].id, "c", "a written org is read again");
    }
}
