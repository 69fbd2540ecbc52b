//! The provider's resources, one per file, and the value conversions they
//! share.
pub mod approvals;
pub mod org_facts;
pub mod partner_client;
pub mod partner_org;

use crate::client::{ApiClient, ApiError, Role};
use crate::report::report;
use crate::validate;
use std::future::Future;
use tfplugin::{Context, Diagnostics, Private, Val};

/// What the resources' CRUD shares about a record of the registry: how
/// messages name it, the version that guards its next update, and whether
/// it has ended.
pub trait Record {
    /// The kind of record, as messages name it (`"org"`).
    const KIND: &'static str;
    /// The resource's type name (`"partner_org"`).
    const TYPE_NAME: &'static str;
    /// The word for an ended record (`"offboarded"`).
    const ENDED: &'static str;
    /// What an import ID may be (`"id or name"`).
    const IMPORT_IDS: &'static str;
    /// What an import ID may be, told to someone who gave none.
    const IMPORT_HINT: &'static str;
    /// The fields a refusal of a write may name as attributes.
    const WRITABLE: &'static [&'static str];
    /// The version of the record this value shows.
    fn version(&self) -> i64;
    /// Whether the record has ended (an org offboarded, a client revoked):
    /// gone for Terraform, whose next plan makes it anew.
    fn ended(&self) -> bool;
}

/// The model of the record the registry has just written (its version
/// remembered as the next update's guard), or `None` with the refusal
/// reported (`doing` is what was attempted: `"create"`).
pub fn written<T: Record, M, D>(
    ctx: &Context<D>,
    doing: &str,
    result: Result<T, ApiError>,
    model: impl FnOnce(T) -> M,
    diags: &mut Diagnostics,
) -> Option<M> {
    match result {
        Ok(record) => {
            remember_version(ctx, record.version());
            Some(model(record))
        }
        Err(e) => {
            let summary = format!("Cannot {doing} the partner {}", T::KIND);
            report(diags, &summary, &e, T::WRITABLE);
            None
        }
    }
}

/// What a refresh makes of the registry's answer for the record in `state`
/// (`name` is the name the state holds, `org_id` its org): the record's
/// model, its version remembered; `None` once it has ended; `state` kept
/// when a 404 may only mean the token cannot see the record
/// ([`hidden_from_token`]), or when the read failed.
pub async fn refreshed<T: Record, M, D>(
    ctx: &Context<D>,
    api: &ApiClient,
    read: Result<Option<T>, ApiError>,
    state: M,
    (name, id, org_id): (&str, &str, &str),
    model: impl FnOnce(T, &M) -> M,
    diags: &mut Diagnostics,
) -> Option<M> {
    match read {
        Ok(Some(record)) if !record.ended() => {
            remember_version(ctx, record.version());
            Some(model(record, &state))
        }
        Ok(Some(_)) => None,
        Ok(None) => {
            let what = format!("{} {name:?} ({id})", T::TYPE_NAME);
            hidden_from_token(api, &what, org_id, diags)
                .await
                .then_some(state)
        }
        Err(e) => {
            let summary = format!("Cannot read the partner {}", T::KIND);
            report(diags, &summary, &e, &[]);
            Some(state)
        }
    }
}

/// The model of the record that the import ID `id` names, found by `find`
/// unless it has ended; `None` with an error naming the ID otherwise.
pub async fn imported<T: Record, M, F>(
    api: &ApiClient,
    id: &str,
    find: impl FnOnce() -> F,
    model: impl FnOnce(T) -> M,
    diags: &mut Diagnostics,
) -> Option<M>
where
    F: Future<Output = Result<Option<T>, ApiError>>,
{
    let summary = format!("Cannot import the partner {}", T::KIND);
    if id.trim().is_empty() {
        diags.error(
            &summary,
            format!(
                "The import ID is empty: give the {}'s {}.",
                T::KIND,
                T::IMPORT_HINT
            ),
        );
        return None;
    }
    match find().await {
        Ok(Some(record)) if !record.ended() => Some(model(record)),
        Ok(_) => {
            diags.error(
                &summary,
                format!(
                    "The registry at {} has no {} with {} {id:?} that is not {}.",
                    api.endpoint(),
                    T::KIND,
                    T::IMPORT_IDS,
                    T::ENDED
                ),
            );
            None
        }
        Err(e) => {
            report(diags, &summary, &e, &[]);
            None
        }
    }
}

/// A value that is known by the time it is used (a required attribute at
/// apply, say), or empty.
pub fn known_string(v: &Val<String>) -> String {
    v.known().cloned().unwrap_or_default()
}

/// An optional attribute's value as the registry takes it.
pub fn optional_string(v: &Val<String>) -> Option<String> {
    v.known().cloned()
}

/// Whether two RFC 3339 timestamps name the same instant, so that a user's
/// `+02:00` form is kept in state when the registry answers in UTC.
pub fn same_instant(a: &str, b: &str) -> bool {
    match (validate::parse_timestamp(a), validate::parse_timestamp(b)) {
        (Some(a), Some(b)) => a == b,
        _ => a == b,
    }
}

/// The registry's timestamp, unless the state already holds the same
/// instant written another way (as the user configured it).
pub fn keep_timestamp_form(from_registry: String, in_state: &Val<String>) -> Val<String> {
    match in_state.known() {
        Some(existing) if same_instant(existing, &from_registry) => Val::Known(existing.clone()),
        _ => Val::Known(from_registry),
    }
}

/// Whether a record the registry answered 404 for is only hidden from the
/// provider's token (an `org` token sees one org: another org's records
/// answer 404 as if they did not exist) rather than gone. When it is, or when
/// that cannot be told, reports an error naming the token and the record, so
/// that the refresh keeps the record in state instead of forgetting it.
///
/// `what` names the record (`partner_org "acme" (org_…)`), `org_id` is the
/// org it belongs to.
pub async fn hidden_from_token(
    api: &ApiClient,
    what: &str,
    org_id: &str,
    diags: &mut Diagnostics,
) -> bool {
    match api.whoami().await {
        Ok(me) if me.role == Role::Org && me.org.as_deref() != Some(org_id) => {
            diags.error(
                "Record not visible to this token",
                format!(
                    "The registry at {} answers 404 for {what} to the provider's token {:?}, \
                     whose role is org for org {}: the record may well exist, in another org. \
                     Terraform keeps it in state. Plan this configuration with a token that \
                     sees every org it manages (admin), or move the other org's resources to \
                     a configuration of their own.",
                    api.endpoint(),
                    me.name,
                    me.org.as_deref().unwrap_or("none"),
                ),
            );
            true
        }
        Ok(_) => false,
        Err(e) => {
            report(
                diags,
                &format!("Cannot tell whether {what} is gone"),
                &e,
                &[],
            );
            true
        }
    }
}

/// The key of the instance's private state that holds the version of the
/// registry's record its state was last read or written at: the version a
/// plan is made against, and that its apply sends as `If-Match`.
const VERSION: &str = "version";

/// Keeps `version` (of the record the state now shows) as the instance's
/// private state.
/// What a plan left there besides is for that plan alone, and goes.
pub fn remember_version<D>(ctx: &Context<D>, version: i64) {
    let mut private = Private::default();
    private.set(VERSION, version);
    ctx.set_private(private);
}

/// The version of the record the plan was made against, when the private
/// state holds one (a state written by an older provider does not).
pub fn planned_version<D>(ctx: &Context<D>) -> Option<i64> {
    ctx.private().get_i64(VERSION)
}

/// Runs the update a plan made against the record at `planned_version`:
/// `guarded` sends it with that version as `If-Match`, so that no change
/// made in the registry since the plan is overwritten. When the record has
/// moved on, when there is no version to send, or when there is nothing to
/// send (`guarded` answers `None`: only Terraform-only arguments change),
/// `reread` takes over: it reads the record again, refuses when a field the
/// update writes was changed by someone else ([`unchanged_since_plan`]),
/// and otherwise updates the version it read (a change the plan does not
/// touch, such as a secret rotation or an expiry that followed its contract
/// in this same apply).
pub async fn update_since_plan<R, G, Fr>(
    planned_version: Option<i64>,
    guarded: impl FnOnce(i64) -> G,
    reread: impl FnOnce() -> Fr,
) -> Result<R, ApiError>
where
    G: Future<Output = Result<Option<R>, ApiError>>,
    Fr: Future<Output = Result<R, ApiError>>,
{
    if let Some(version) = planned_version {
        match guarded(version).await {
            Ok(Some(done)) => return Ok(done),
            Ok(None) | Err(ApiError::Stale { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    reread().await
}

/// Refuses an update of `what` when a field the registry holds now has a
/// value that is neither the one the plan was made against (`prior`) nor the
/// one it plans: a change made in the registry since the plan, which the
/// apply must not overwrite.
pub fn unchanged_since_plan<F: serde::Serialize>(
    what: &str,
    now: &F,
    prior: &F,
    planned: &F,
) -> Result<(), ApiError> {
    let changed = changed_fields(now, prior, planned);
    if changed.is_empty() {
        return Ok(());
    }
    Err(crate::report::changed_since_plan(&format!(
        "{what} changed in the registry after this plan was made: {}",
        changed.join(", ")
    )))
}

fn changed_fields<F: serde::Serialize>(now: &F, prior: &F, planned: &F) -> Vec<String> {
    let as_map = |f: &F| match serde_json::to_value(f) {
        Ok(serde_json::Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    };
    let (now, prior, planned) = (as_map(now), as_map(prior), as_map(planned));
    now.iter()
        .filter(|(k, v)| prior.get(*k) != Some(*v) && planned.get(*k) != Some(*v))
        .map(|(k, _)| k.clone())
        .collect()
}

/// The scopes of `after` that `before` does not hold: what a plan adds.
fn added_scopes<'a>(before: &[String], after: &'a [String]) -> Vec<&'a str> {
    after
        .iter()
        .filter(|s| !before.contains(s))
        .map(String::as_str)
        .collect()
}
