//! The web shell: one HTML page, its scripts and styles (embedded with rust-embed: no CDN, no build step),
//! and the modules' own assets as their manifests declare them.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;
use sha2::{Digest, Sha256};

use crate::AppState;
use crate::error::ApiError;

#[derive(RustEmbed)]
#[folder = "web/shell/"]
struct ShellAssets;

fn media_type(path: &str) -> &'static str {
    match path.rsplit('.').next() {
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("html") => "text/html; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("woff2") => "font/woff2",
        Some("json") => "application/json",
        Some("ftl") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// A static file, revalidated by its ETag (a 304 when the browser has it).
fn file(headers: &HeaderMap, bytes: Vec<u8>, etag: &str, media: &str) -> Response {
    let etag = format!("\"{etag}\"");
    let fresh = headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()).is_some_and(|v| v == etag);
    let mut response = if fresh { StatusCode::NOT_MODIFIED.into_response() } else { bytes.into_response() };
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(media) {
        h.insert(header::CONTENT_TYPE, v);
    }
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// `GET /`: the shell's page (the same for everyone; the scripts ask `/api/v1/me` who is there).
pub(crate) async fn index(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some(f) = ShellAssets::get("index.html") else { return ApiError::NoRoute.into_response() };
    let html = String::from_utf8_lossy(&f.data).replace("{{title}}", &escape_html(&state.config.title));
    let etag = hex::encode(&Sha256::digest(html.as_bytes())[..16]);
    file(&headers, html.into_bytes(), &etag, "text/html; charset=utf-8")
}

/// `GET /assets/shell/{path}`.
pub(crate) async fn shell_asset(Path(path): Path<String>, headers: HeaderMap) -> Response {
    match ShellAssets::get(&path) {
        Some(f) => {
            let etag = hex::encode(&f.metadata.sha256_hash()[..16]);
            file(&headers, f.data.into_owned(), &etag, media_type(&path))
        }
        None => ApiError::NoRoute.into_response(),
    }
}

/// `GET /assets/modules/{module}/{path}`: an asset the module's manifest declares, with its media type.
pub(crate) async fn module_asset(
    State(state): State<AppState>,
    Path((module, path)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let registry = state.ent.registry();
    let Some(bytes) = registry.asset(&module, &path) else { return ApiError::NoRoute.into_response() };
    let declared = registry
        .module(&module)
        .and_then(|e| e.manifest.assets.iter().find(|a| a.path == path).map(|a| a.media_type.clone()));
    let media = declared.map_or_else(
        || media_type(&path).to_owned(),
        |m| {
            if m.starts_with("text/") && !m.contains("charset") { format!("{m}; charset=utf-8") } else { m }
        },
    );
    let etag = hex::encode(&Sha256::digest(&bytes)[..16]);
    file(&headers, bytes.into_owned(), &etag, &media)
}

/// Any other path: the API's error body for clients, which the shell shows as "page not found".
pub(crate) async fn not_found() -> ApiError {
    ApiError::NoRoute
}
