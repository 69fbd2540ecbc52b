//! The library's error type and its RFC 9457 `application/problem+json` form.

use serde::Serialize;
use std::convert::Infallible;
use warp::http::StatusCode;
use warp::http::header::{CONTENT_TYPE, HeaderValue};
use warp::reply::Response;
use warp::{Rejection, Reply};

/// One failing field of a validation error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
    /// The value is well-formed but another record holds it (a name, an
    /// id): a conflict with the registry's state rather than bad input.
    #[serde(skip)]
    pub taken: bool,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
            taken: false,
        }
    }

    /// A value another record holds.
    pub fn taken(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            taken: true,
            ..FieldError::new(field, message)
        }
    }
}

/// Everything that can go wrong while answering a request.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    BadRequest(String),
    #[error("missing or invalid bearer token")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error(
        "the record changed since it was read: If-Match {given} does not match the current version {current}"
    )]
    PreconditionFailed { given: String, current: i64 },
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// A request head over the server's limits (size, number of fields).
    #[error("{0}")]
    HeadTooLarge(String),
    /// A client that took longer than the server waits.
    #[error("{0}")]
    RequestTimeout(String),
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    /// A known path asked with a method it does not have; the ones it has.
    #[error("this route does not answer {method}; it answers {}", allowed.join(", "))]
    MethodNotAllowed {
        method: String,
        allowed: Vec<&'static str>,
    },
    #[error("service unavailable: {0}")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        Error::Validation(vec![FieldError::new(field, message)])
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Error::BadRequest(_) => StatusCode::BAD_REQUEST,
            Error::Unauthorized => StatusCode::UNAUTHORIZED,
            Error::Forbidden(_) => StatusCode::FORBIDDEN,
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::Conflict(_) => StatusCode::CONFLICT,
            Error::PreconditionFailed { .. } => StatusCode::PRECONDITION_FAILED,
            Error::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Error::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Error::HeadTooLarge(_) => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Error::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            // Only values other records hold: the request is fine, the
            // registry's state is in the way.
            Error::Validation(errors) if !errors.is_empty() && errors.iter().all(|e| e.taken) => {
                StatusCode::CONFLICT
            }
            Error::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Error::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Error::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn slug(&self) -> &'static str {
        match self {
            Error::BadRequest(_) => "bad-request",
            Error::Unauthorized => "unauthorized",
            Error::Forbidden(_) => "forbidden",
            Error::NotFound(_) => "not-found",
            Error::Conflict(_) => "conflict",
            Error::PreconditionFailed { .. } => "precondition-failed",
            Error::PayloadTooLarge(_) => "payload-too-large",
            Error::UnsupportedMediaType(_) => "unsupported-media-type",
            Error::HeadTooLarge(_) => "request-header-fields-too-large",
            Error::RequestTimeout(_) => "request-timeout",
            Error::Validation(_) if self.status() == StatusCode::CONFLICT => "conflict",
            Error::Validation(_) => "validation",
            Error::MethodNotAllowed { .. } => "method-not-allowed",
            Error::Unavailable(_) => "unavailable",
            Error::Internal(_) => "internal",
        }
    }

    /// The RFC 9457 problem document of this error.
    pub fn problem(&self) -> serde_json::Value {
        let status = self.status();
        let mut body = serde_json::json!({
            "type": format!("https://partner-registry.invalid/problems/{}", self.slug()),
            "title": status.canonical_reason().unwrap_or("Error"),
            "status": status.as_u16(),
            "detail": self.to_string(),
        });
        if let Error::Validation(errors) = self {
            body["detail"] = serde_json::Value::String(
                errors
                    .iter()
                    .map(|e| format!("{}: {}", e.field, e.message))
                    .collect::<Vec<_>>()
                    .join("; "),
            );
            body["errors"] = serde_json::to_value(errors).unwrap_or_default();
        }
        body
    }

    /// The problem+json response for this error.
    pub fn to_response(&self) -> Response {
        let status = self.status();
        let mut resp =
            warp::reply::with_status(warp::reply::json(&self.problem()), status).into_response();
        resp.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Error::Unavailable(_) = self {
            resp.headers_mut()
                .insert("retry-after", HeaderValue::from_static("1"));
        }
        if let Error::MethodNotAllowed { allowed, .. } = self {
            if let Ok(v) = HeaderValue::from_str(&allowed.join(", ")) {
                resp.headers_mut().insert("allow", v);
            }
        }
        if let Error::Unauthorized = self {
            resp.headers_mut()
                .insert("www-authenticate", HeaderValue::from_static("Bearer"));
        }
        resp
    }
}

impl Error {
    /// The same failure once more, for each of several callers it reaches
    /// (the writes of a batch whose commit failed).
    pub fn again(&self) -> Error {
        match self {
            Error::Unavailable(m) => Error::Unavailable(m.clone()),
            Error::Conflict(m) => Error::Conflict(m.clone()),
            other => Error::Internal(other.to_string()),
        }
    }
}

impl From<crate::crypto::CryptoError> for Error {
    fn from(e: crate::crypto::CryptoError) -> Self {
        Error::Internal(e.to_string())
    }
}

impl warp::reject::Reject for Error {}

/// Maps every rejection warp can produce to a problem+json answer (never a 5xx for input).
pub async fn recover(rej: Rejection) -> Result<Response, Infallible> {
    let err = if let Some(e) = rej.find::<Error>() {
        return Ok(e.to_response());
    } else if let Some(e) = rej.find::<warp::reject::InvalidQuery>() {
        Error::BadRequest(format!("invalid query string: {e}"))
    } else if let Some(e) = rej.find::<warp::reject::InvalidHeader>() {
        Error::BadRequest(e.to_string())
    } else if let Some(e) = rej.find::<warp::reject::MissingHeader>() {
        Error::BadRequest(e.to_string())
    } else if rej.find::<warp::reject::UnsupportedMediaType>().is_some() {
        Error::UnsupportedMediaType("use application/json".into())
    } else if rej.is_not_found() || rej.find::<warp::reject::MethodNotAllowed>().is_some() {
        // Unknown routes are 404 (known paths with a method they do not
        // have are answered 405 by `filters::method_not_allowed`).
        Error::NotFound("no such route".into())
    } else {
        Error::BadRequest(format!("bad request: {rej:?}"))
    };
    Ok(err.to_response())
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
