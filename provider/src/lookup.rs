//! Finding one client by what a user knows of it (its id, its public
//! `client_id`, or its org's name (or id) and its own name), and the
//! filters the listings share.
use crate::client::{ApiClient, ApiError, ClientFilter, ClientStatus, ClientView, OrgView};
use crate::resources::partner_org::find_org;

/// The client `reference` names, revoked ones included: `ID`, `CLIENT_ID`,
/// or `ORG/CLIENT_NAME` where ORG is the org's name or id. Among several
/// clients of one name (a revoked one and its successor), the one that is
/// not revoked.
pub async fn find_client(api: &ApiClient, reference: &str) -> Result<Option<ClientView>, ApiError> {
    match reference.split_once('/') {
        Some((org, name)) => find_client_by_name(api, org, name).await,
        None => api.get_client(reference).await,
    }
}

/// The client called `name` in the org `org` (a name or an id).
pub async fn find_client_by_name(
    api: &ApiClient,
    org: &str,
    name: &str,
) -> Result<Option<ClientView>, ApiError> {
    let Some(org) = find_org(api, org).await? else {
        return Ok(None);
    };
    let filter = ClientFilter {
        org_id: Some(org.id),
        ..ClientFilter::default()
    };
    let mut named: Vec<ClientView> = api
        .list_clients(&filter)
        .await?
        .into_iter()
        .filter(|c| c.profile.name == name)
        .collect();
    named.sort_by_key(|c| c.status == ClientStatus::Revoked);
    Ok(named.into_iter().next())
}

/// Whether the org's contract has not ended at `now` and ends by `horizon`
/// (Unix seconds); always true without a horizon.
pub fn contract_ends_by(org: &OrgView, now: i64, horizon: Option<i64>) -> bool {
    horizon.is_none_or(|horizon| {
        partner_rules::end_of_day(&org.profile.contract_end)
            .map(|end| end.unix_timestamp())
            .is_some_and(|end| end >= now && end <= horizon)
    })
}
