//! Security on every request: CSRF checks before state-changing requests, security headers on every
//! response, the CSRF cookie handed out with pages.
//!
//! CSRF: a request that changes state (any method but GET, HEAD, OPTIONS) and authenticates by cookie must
//! 1. not come from another site (`Sec-Fetch-Site` is `same-origin` or `none` when the browser sends it;
//!    `Origin`, when sent, names this host), and
//! 2. carry the `X-CSRF-Token` header equal to the `__Host-ent-csrf` cookie (a double-submit token: a
//!    random 256-bit value the shell reads from the cookie; another site can neither read it nor, thanks
//!    to the `__Host-` prefix, plant its own).
//!
//! A request with `Authorization: Bearer` and no session cookie is exempt: a browser never adds that header
//! on its own, so another site cannot forge it.

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ent_core::account::Token;

use crate::error::ApiError;

/// The session cookie (HttpOnly).
pub(crate) const SESSION_COOKIE: &str = "__Host-ent-session";
/// The CSRF cookie (readable by the shell's scripts, which echo it in [`CSRF_HEADER`]).
pub(crate) const CSRF_COOKIE: &str = "__Host-ent-csrf";
/// The header carrying the CSRF token.
pub(crate) const CSRF_HEADER: &str = "x-csrf-token";

/// The content security policy: nothing inline, nothing from elsewhere, never framed.
pub(crate) const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
     frame-ancestors 'none'";

/// A cookie's value from the request's `Cookie` headers.
pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty())
}

/// The bearer token of an `Authorization` header.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::AUTHORIZATION)?.to_str().ok()?.strip_prefix("Bearer ").map(str::trim)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Whether a state-changing request passes the CSRF checks.
pub(crate) fn csrf_ok(headers: &HeaderMap) -> bool {
    if bearer(headers).is_some() && cookie(headers, SESSION_COOKIE).is_none() {
        return true;
    }
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok())
        && !matches!(site, "same-origin" | "none")
    {
        return false;
    }
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
        let authority = origin.split_once("://").map_or("", |(_, a)| a);
        if host.is_empty() || authority != host {
            return false;
        }
    }
    let sent = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
    match (cookie(headers, CSRF_COOKIE), sent) {
        (Some(c), Some(s)) => constant_time_eq(c.as_bytes(), s.as_bytes()),
        _ => false,
    }
}

/// A `Set-Cookie` value for a `__Host-` cookie.
pub(crate) fn set_cookie(
    name: &str,
    value: &str,
    http_only: bool,
    same_site: &str,
    max_age: Option<i64>,
) -> HeaderValue {
    let mut c = format!("{name}={value}; Path=/; Secure; SameSite={same_site}");
    if http_only {
        c.push_str("; HttpOnly");
    }
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    HeaderValue::from_str(&c).unwrap_or_else(|_| HeaderValue::from_static("invalid=; Max-Age=0"))
}

/// The middleware.
pub(crate) async fn layer(request: Request, next: Next) -> Response {
    let safe = matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if !safe && !csrf_ok(request.headers()) {
        return with_headers(ApiError::Csrf.into_response());
    }
    // Browsers get the CSRF cookie with their first page; API clients with a bearer token need none.
    let needs_csrf_cookie =
        safe && cookie(request.headers(), CSRF_COOKIE).is_none() && bearer(request.headers()).is_none();
    let mut response = next.run(request).await;
    if needs_csrf_cookie && let Ok(token) = Token::generate() {
        response
            .headers_mut()
            .append(header::SET_COOKIE, set_cookie(CSRF_COOKIE, token.expose(), false, "Strict", None));
    }
    with_headers(response)
}

fn with_headers(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert("cross-origin-opener-policy", HeaderValue::from_static("same-origin"));
    h.insert("cross-origin-resource-policy", HeaderValue::from_static("same-origin"));
    h.insert("permissions-policy", HeaderValue::from_static("camera=(), microphone=(), geolocation=(), payment=()"));
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}
