//! `/api/v1/auth/*`: login, activation, logout, password, sessions, second factor, structure switch.

use axum::extract::{FromRequest, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use ent_core::account::{LoginRequest, Opened, Session};
use ent_core::directory::Profile;
use ent_core::{Error, SessionId, StructureId, UserId};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::security::{SESSION_COOKIE, set_cookie};
use crate::session::{Authed, Client};

/// A JSON body read with the configured limit; errors are the API's own (`malformed_json`, `too_large`).
pub(crate) struct JsonBody<T>(pub(crate) T);

/// Reads a request's body up to `limit` bytes.
pub(crate) async fn read_limited(request: Request, limit: usize) -> ApiResult<axum::body::Bytes> {
    if let Some(len) = request.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
        && len > limit as u64
    {
        return Err(Error::TooLarge { what: "request body".into(), size: len, limit: limit as u64 }.into());
    }
    axum::body::to_bytes(request.into_body(), limit).await.map_err(|_| {
        Error::TooLarge { what: "request body".into(), size: limit as u64 + 1, limit: limit as u64 }.into()
    })
}

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = ApiError;
    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        let bytes = read_limited(request, state.config.max_json_bytes).await?;
        let text = if bytes.is_empty() { &b"{}"[..] } else { &bytes[..] };
        serde_json::from_slice(text).map(JsonBody).map_err(|e| {
            if e.is_data() {
                ApiError::Core(Error::invalid("body", e.to_string()))
            } else {
                ApiError::Core(Error::malformed_json("request body", &e))
            }
        })
    }
}

/// What the client sees of its session.
#[derive(Debug, Serialize)]
pub(crate) struct SessionView {
    pub(crate) id: SessionId,
    pub(crate) user: UserId,
    pub(crate) structure: StructureId,
    pub(crate) profiles: Vec<Profile>,
    pub(crate) expires: DateTime<Utc>,
    pub(crate) must_enroll_second_factor: bool,
    /// The bearer token, only when asked for (`"bearer": true` at login) or when the session came as a
    /// bearer token and was rotated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) token: Option<String>,
}

impl SessionView {
    pub(crate) fn of(s: &Session, token: Option<String>) -> Self {
        SessionView {
            id: s.id,
            user: s.user,
            structure: s.structure,
            profiles: s.profiles.clone(),
            expires: s.expires,
            must_enroll_second_factor: s.must_enroll_second_factor,
            token,
        }
    }
}

/// The response to a request that opened (or rotated) a session: the cookie, or the token in the body.
fn opened(state: &AppState, opened: &Opened, bearer: bool, extra: &serde_json::Value) -> Response {
    let mut body =
        serde_json::to_value(SessionView::of(&opened.session, bearer.then(|| opened.token.expose().to_owned())))
            .unwrap_or_default();
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    let mut response = axum::Json(body).into_response();
    if !bearer {
        let age = (opened.session.expires - state.ent.clock().now()).num_seconds().max(0);
        response
            .headers_mut()
            .append(header::SET_COOKIE, set_cookie(SESSION_COOKIE, opened.token.expose(), true, "Lax", Some(age)));
    }
    response
}

fn clear_session_cookie(mut response: Response) -> Response {
    response.headers_mut().append(header::SET_COOKIE, set_cookie(SESSION_COOKIE, "", true, "Lax", Some(0)));
    response
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LoginInput {
    login: String,
    password: String,
    #[serde(default)]
    second_factor: Option<String>,
    #[serde(default)]
    structure: Option<StructureId>,
    /// Return the token in the body (for API clients) instead of setting the cookie.
    #[serde(default)]
    bearer: bool,
}

/// `POST /api/v1/auth/login`.
pub(crate) async fn login(
    State(state): State<AppState>,
    client: Client,
    JsonBody(input): JsonBody<LoginInput>,
) -> ApiResult<Response> {
    let req = LoginRequest {
        login: input.login,
        password: input.password,
        second_factor: input.second_factor.filter(|c| !c.trim().is_empty()),
        address: client.address,
        user_agent: client.user_agent,
        structure: input.structure,
    };
    let o = state.accounts.login(&req).await?;
    Ok(opened(&state, &o, input.bearer, &json!({})))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ActivateInput {
    code: String,
    password: String,
}

/// `POST /api/v1/auth/activate`: first login with the activation code of the import.
pub(crate) async fn activate(
    State(state): State<AppState>,
    client: Client,
    JsonBody(input): JsonBody<ActivateInput>,
) -> ApiResult<Response> {
    let o = state.accounts.activate(&input.code, &input.password, client.address, client.user_agent).await?;
    Ok(opened(&state, &o, false, &json!({})))
}

/// `POST /api/v1/auth/logout`: ends the session (if it is still alive) and clears the cookie.
pub(crate) async fn logout(State(state): State<AppState>, authed: Result<Authed, ApiError>) -> ApiResult<Response> {
    match authed {
        Ok(a) => match state.accounts.logout(&a.token).await {
            Ok(()) | Err(Error::SessionExpired) => {}
            Err(e) => return Err(e.into()),
        },
        Err(ApiError::NotLoggedIn | ApiError::Core(Error::SessionExpired)) => {}
        Err(e) => return Err(e),
    }
    Ok(clear_session_cookie(StatusCode::NO_CONTENT.into_response()))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PasswordInput {
    current: String,
    new: String,
}

/// `POST /api/v1/auth/password`: every other session ends; this one gets a new token.
pub(crate) async fn change_password(
    State(state): State<AppState>,
    authed: Authed,
    JsonBody(input): JsonBody<PasswordInput>,
) -> ApiResult<Response> {
    let o = state.accounts.change_password(&authed.token, &input.current, &input.new).await?;
    Ok(opened(&state, &o, !authed.by_cookie, &json!({})))
}

/// `GET /api/v1/auth/sessions`: the account's open sessions, the current one marked.
pub(crate) async fn sessions(State(state): State<AppState>, authed: Authed) -> ApiResult<Response> {
    let list = state.accounts.sessions_of(authed.session.user).await?;
    let items: Vec<_> = list
        .iter()
        .map(|s| {
            let mut v = serde_json::to_value(s).unwrap_or_default();
            v["current"] = json!(s.id == authed.session.id);
            v
        })
        .collect();
    Ok(axum::Json(json!({ "sessions": items })).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RevokeInput {
    id: SessionId,
}

/// `POST /api/v1/auth/sessions/revoke`: ends one of one's sessions, by its public id.
pub(crate) async fn revoke(
    State(state): State<AppState>,
    authed: Authed,
    JsonBody(input): JsonBody<RevokeInput>,
) -> ApiResult<Response> {
    let found = state.accounts.revoke(&authed.caller, authed.session.user, input.id).await?;
    if !found {
        return Err(Error::not_found("session", input.id).into());
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /api/v1/auth/totp/begin`: a new secret to enter in an authenticator app.
pub(crate) async fn totp_begin(State(state): State<AppState>, authed: Authed) -> ApiResult<Response> {
    let e = state.accounts.begin_totp(&authed.token).await?;
    Ok(axum::Json(json!({"secret": e.secret, "url": e.url})).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TotpInput {
    code: String,
}

/// `POST /api/v1/auth/totp/confirm`: the first code turns the second factor on; the recovery codes are
/// shown once; the session gets a new token.
pub(crate) async fn totp_confirm(
    State(state): State<AppState>,
    authed: Authed,
    JsonBody(input): JsonBody<TotpInput>,
) -> ApiResult<Response> {
    let (o, codes) = state.accounts.confirm_totp(&authed.token, input.code.trim()).await?;
    Ok(opened(&state, &o, !authed.by_cookie, &json!({"recovery_codes": codes})))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StructureInput {
    structure: StructureId,
}

/// `POST /api/v1/auth/structure`: act in another of one's structures (the session's token rotates).
pub(crate) async fn switch_structure(
    State(state): State<AppState>,
    authed: Authed,
    JsonBody(input): JsonBody<StructureInput>,
) -> ApiResult<Response> {
    let o = state.accounts.rotate(&authed.token, Some(input.structure)).await?;
    Ok(opened(&state, &o, !authed.by_cookie, &json!({})))
}
