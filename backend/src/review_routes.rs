//! The routes of access review campaigns (`/v1/reviews/campaigns…`): their
//! filters and HTTP shapes, over the use cases of [`crate::service`].

use crate::App;
use crate::campaigns::{self, Campaign, CampaignStatus};
use crate::error::{Error, FieldError, Result};
use crate::filters::{authorized, body, query};
use crate::handlers::{Call, Query, answer, json_response, now, reject_unknown_query};
use crate::records::Org;
use crate::requests::body_object;
use crate::service;
use serde_json::json;
use warp::http::StatusCode;
use warp::http::header::{HeaderValue, LOCATION};
use warp::hyper::body::Bytes;
use warp::reply::Response;
use warp::{Filter, Rejection};

/// Every route of this module.
pub fn routes(app: App) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    open(app.clone())
        .or(list(app.clone()))
        .unify()
        .or(get(app.clone()))
        .unify()
        .or(decide(app))
        .unify()
}

/// POST /v1/reviews/campaigns (admin)
fn open(app: App) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("v1" / "reviews" / "campaigns")
        .and(warp::post())
        .and(authorized(app))
        .and(body())
        .then(open_campaign)
        .map(answer)
}

/// GET /v1/reviews/campaigns?org_id=&status=
fn list(app: App) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("v1" / "reviews" / "campaigns")
        .and(warp::get())
        .and(authorized(app))
        .and(query())
        .then(list_campaigns)
        .map(answer)
}

/// GET /v1/reviews/campaigns/{id}
fn get(app: App) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("v1" / "reviews" / "campaigns" / String)
        .and(warp::get())
        .and(authorized(app))
        .then(get_campaign)
        .map(answer)
}

/// POST /v1/reviews/campaigns/{id}/decisions (reviewer, admin)
fn decide(app: App) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("v1" / "reviews" / "campaigns" / String / "decisions")
        .and(warp::post())
        .and(authorized(app))
        .and(body())
        .then(decide_campaign)
        .map(answer)
}

fn view(app: &App, (campaign, org): &(Campaign, Org)) -> campaigns::CampaignView {
    campaign.view(org, now(app))
}

async fn open_campaign(call: Call, body: Bytes) -> Result<Response> {
    let map = body_object(&body, campaigns::OPEN_FIELDS)?;
    let draft = campaigns::parse_open(&map);
    let opened = call
        .write(move |tx, ctx| service::open_campaign(tx, ctx, draft))
        .await?;
    let mut resp = json_response(StatusCode::CREATED, &view(&call.app, &opened), None);
    if let Ok(h) = HeaderValue::from_str(&format!("/v1/reviews/campaigns/{}", opened.0.id)) {
        resp.headers_mut().insert(LOCATION, h);
    }
    Ok(resp)
}

/// The `status` filter of the list.
fn status_param(q: &Query) -> Result<Option<CampaignStatus>> {
    match q.get("status").map(String::as_str) {
        None | Some("") => Ok(None),
        Some(s) => CampaignStatus::parse(s).map(Some).ok_or_else(|| {
            Error::Validation(vec![FieldError::new(
                "status",
                "must be open, overdue or complete",
            )])
        }),
    }
}

async fn list_campaigns(call: Call, q: Query) -> Result<Response> {
    let Call { app, authed, .. } = call;
    reject_unknown_query(&q, &["org_id", "status"])?;
    let status = status_param(&q)?;
    let org = q.get("org_id").filter(|s| !s.is_empty()).cloned();
    let now = now(&app);
    let actor = authed.actor;
    let found = app
        .read(move |r| service::list_campaigns(r, &actor, org.as_deref(), status, now))
        .await?;
    let items: Vec<_> = found.iter().map(|c| view(&app, c)).collect();
    Ok(json_response(
        StatusCode::OK,
        &json!({ "items": items }),
        None,
    ))
}

async fn get_campaign(id: String, call: Call) -> Result<Response> {
    let Call { app, authed, .. } = call;
    let actor = authed.actor;
    let found = app
        .read(move |r| service::get_campaign(r, &actor, &id))
        .await?;
    Ok(json_response(StatusCode::OK, &view(&app, &found), None))
}

async fn decide_campaign(id: String, call: Call, body: Bytes) -> Result<Response> {
    let map = body_object(&body, campaigns::DECISION_FIELDS)?;
    let draft = campaigns::parse_decision(&map);
    let decided = call
        .write(move |tx, ctx| service::decide_campaign(tx, ctx, &id, draft))
        .await?;
    Ok(json_response(
        StatusCode::OK,
        &view(&call.app, &decided),
        None,
    ))
}
