//! Who is calling: the session of a request (cookie or bearer token), and the client's address.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header;
use axum::http::request::Parts;
use ent_core::Caller;
use ent_core::account::Session;

use crate::AppState;
use crate::WebConfig;
use crate::error::ApiError;
use crate::security::{SESSION_COOKIE, bearer, cookie};

/// The client's address: the peer's, or the last `X-Forwarded-For` entry behind a trusted proxy.
pub(crate) fn client_address(parts: &Parts, config: &WebConfig) -> Option<String> {
    if config.trust_forwarded_for
        && let Some(last) = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .rfind(|s| !s.is_empty())
    {
        return Some(last.to_owned());
    }
    parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_string())
}

/// The client's user agent, shortened (it goes into the list of sessions).
pub(crate) fn user_agent(parts: &Parts) -> Option<String> {
    let ua = parts.headers.get(header::USER_AGENT)?.to_str().ok()?;
    Some(ua.chars().take(200).collect())
}

/// What a request brought: its address and user agent.
pub(crate) struct Client {
    pub(crate) address: Option<String>,
    pub(crate) user_agent: Option<String>,
}

impl FromRequestParts<AppState> for Client {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Ok(Client { address: client_address(parts, &state.config), user_agent: user_agent(parts) })
    }
}

/// A request with a valid session (which may still have to enroll its second factor).
pub(crate) struct Authed {
    /// The session.
    pub(crate) session: Session,
    /// Its token, as the client sent it.
    pub(crate) token: String,
    /// The caller it acts as, with the client's address as origin.
    pub(crate) caller: Caller,
    /// Whether the token came in the cookie (the response then renews the cookie on rotation).
    pub(crate) by_cookie: bool,
}

impl FromRequestParts<AppState> for Authed {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let (token, by_cookie) = match cookie(&parts.headers, SESSION_COOKIE) {
            Some(t) => (t.to_owned(), true),
            None => (bearer(&parts.headers).ok_or(ApiError::NotLoggedIn)?.to_owned(), false),
        };
        let session = state.accounts.authenticate(&token).await?;
        let mut caller = session.caller();
        if let Some(address) = client_address(parts, &state.config) {
            caller = caller.with_origin(address);
        }
        Ok(Authed { session, token, caller, by_cookie })
    }
}

/// A request with a valid session that has its second factor where its profile requires one: what every
/// route but the account's own needs.
pub(crate) struct Enrolled(pub(crate) Authed);

impl FromRequestParts<AppState> for Enrolled {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let authed = Authed::from_request_parts(parts, state).await?;
        if authed.session.must_enroll_second_factor {
            return Err(ApiError::EnrollSecondFactor);
        }
        Ok(Enrolled(authed))
    }
}
