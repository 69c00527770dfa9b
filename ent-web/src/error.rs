//! The one place where errors become HTTP responses.
//!
//! Every error answers with a status from [`ent_core::ErrorKind`] and the same JSON body:
//!
//! ```json
//! {"error": {"code": "forbidden", "status": 403,
//!            "message": {"fr": "Vous n'avez pas le droit de faire cela.", "en": "You are not allowed to do that."},
//!            "detail": "forbidden: the right `notes.grade.write` is required",
//!            "right": "notes.grade.write"}}
//! ```
//!
//! `code` is stable (clients switch on it); `message` is for people, French first; `detail` is for
//! developers and is left out of internal errors (it could reveal the setup). Extra fields by code:
//! `right` (forbidden), `violations` (invalid input), `retry_after_secs` (throttled, also sent as
//! `Retry-After`), `field` (invalid), `limit` (too large).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ent_core::{Error, ErrorKind};
use serde_json::{Map, Value, json};

use crate::i18n;

/// An error of the HTTP layer: the core's errors, and the few that only HTTP has.
#[derive(Debug)]
#[non_exhaustive]
pub enum ApiError {
    /// An error of ent-core, an action or the store.
    Core(Error),
    /// No session cookie or bearer token came with a request that needs one.
    NotLoggedIn,
    /// A state-changing request without a valid CSRF token, or from another site.
    Csrf,
    /// The session must enroll a second factor before anything else.
    EnrollSecondFactor,
    /// The body is not what the route takes (not JSON, wrong content type).
    BadRequest(String),
    /// No such route.
    NoRoute,
    /// The route exists but not with this method.
    MethodNotAllowed,
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError::Core(e)
    }
}

/// The stable code of a core error.
pub fn code(e: &Error) -> &'static str {
    match e {
        Error::NotFound { .. } => "not_found",
        Error::Forbidden { .. } => "forbidden",
        Error::Conflict { .. } => "conflict",
        Error::Duplicate { .. } => "duplicate",
        Error::Invalid { field, reason } if field == "password" => password_code(reason),
        Error::Invalid { .. } => "invalid",
        Error::TooLarge { .. } => "too_large",
        Error::InvalidCursor { .. } => "invalid_cursor",
        Error::UnknownModule { .. } => "unknown_module",
        Error::UnknownAction { .. } => "unknown_action",
        Error::UnknownRight { .. } => "unknown_right",
        Error::UnknownSetting { .. } => "unknown_setting",
        Error::MalformedJson { .. } => "malformed_json",
        Error::InvalidInput { .. } => "invalid_input",
        Error::InvalidSetting { .. } => "invalid_setting",
        Error::Unauthenticated => "unauthenticated",
        Error::Throttled { .. } => "throttled",
        Error::SecondFactorRequired => "second_factor_required",
        Error::AccountDisabled => "account_disabled",
        Error::SessionExpired => "session_expired",
        Error::Storage { retryable: true, .. } => "unavailable",
        _ => "internal",
    }
}

/// The account service's password refusals carry a stable code at the start of their reason.
fn password_code(reason: &str) -> &'static str {
    ["password-too-short", "password-too-long", "password-common", "password-too-weak"]
        .into_iter()
        .find(|c| reason.starts_with(c))
        .map_or("invalid", |c| match c {
            "password-too-short" => "password_too_short",
            "password-too-long" => "password_too_long",
            "password-common" => "password_common",
            _ => "password_too_weak",
        })
}

/// The status of an error kind.
pub fn status(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Forbidden => StatusCode::FORBIDDEN,
        ErrorKind::Unauthenticated => StatusCode::UNAUTHORIZED,
        ErrorKind::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
        ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::Invalid => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorKind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl ApiError {
    /// The status, the code, the developer's detail and the extra fields of the body.
    fn parts(&self) -> (StatusCode, &'static str, Option<String>, Map<String, Value>) {
        let mut extra = Map::new();
        match self {
            ApiError::Core(e) => {
                let status = match e {
                    // A body that does not parse is a bad request, not a semantic refusal.
                    Error::MalformedJson { .. } => StatusCode::BAD_REQUEST,
                    _ => status(e.kind()),
                };
                match e {
                    Error::Forbidden { right } => {
                        extra.insert("right".into(), json!(right));
                    }
                    Error::InvalidInput { violations, .. } | Error::InvalidSetting { violations, .. } => {
                        extra.insert("violations".into(), json!(violations));
                    }
                    Error::Throttled { retry_after_secs } => {
                        extra.insert("retry_after_secs".into(), json!(retry_after_secs));
                    }
                    Error::Invalid { field, .. } => {
                        extra.insert("field".into(), json!(field));
                    }
                    Error::TooLarge { limit, .. } => {
                        extra.insert("limit".into(), json!(limit));
                    }
                    _ => {}
                }
                let detail = (status != StatusCode::INTERNAL_SERVER_ERROR && e.kind() != ErrorKind::Unavailable)
                    .then(|| e.to_string());
                (status, code(e), detail, extra)
            }
            ApiError::NotLoggedIn => (StatusCode::UNAUTHORIZED, "not_logged_in", None, extra),
            ApiError::Csrf => (StatusCode::FORBIDDEN, "csrf", None, extra),
            ApiError::EnrollSecondFactor => (StatusCode::FORBIDDEN, "enroll_second_factor", None, extra),
            ApiError::BadRequest(why) => (StatusCode::BAD_REQUEST, "bad_request", Some(why.clone()), extra),
            ApiError::NoRoute => (StatusCode::NOT_FOUND, "no_route", None, extra),
            ApiError::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", None, extra),
        }
    }

    /// The JSON body and status of this error.
    pub fn body(&self) -> (StatusCode, Value) {
        let (status, code, detail, mut extra) = self.parts();
        let (fr, en) = i18n::message(code);
        extra.insert("code".into(), json!(code));
        extra.insert("status".into(), json!(status.as_u16()));
        extra.insert("message".into(), json!({"fr": fr, "en": en}));
        if let Some(d) = detail {
            extra.insert("detail".into(), json!(d));
        }
        (status, json!({ "error": extra }))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Core(e) = &self
            && matches!(e.kind(), ErrorKind::Internal | ErrorKind::Unavailable)
        {
            // The body says nothing of the setup: the operator's log does.
            eprintln!("ent-web: internal error: {e}");
        }
        let (status, body) = self.body();
        let mut response = (status, axum::Json(body)).into_response();
        if let ApiError::Core(Error::Throttled { retry_after_secs }) = &self
            && let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        response
    }
}

/// The result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;
