//! Files: `POST /api/v1/files` streams the request body into the blob port (never whole in memory), with
//! the configured limit (`X-File-Name`, percent-encoded, names the file); `GET /api/v1/files/{id}` streams one of the caller's files back. A file is
//! readable by whoever uploaded it; modules that share files reference the blob in their own records.

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use ent_core::Error;
use ent_core::storage::blob::{BlobId, BlobStore, acquire};
use ent_core::storage::{TxExt, TxMode, retry};
use futures::StreamExt;
use serde_json::json;

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::portal::{FILES, Upload};
use crate::session::Enrolled;

fn blobs(state: &AppState) -> ApiResult<&std::sync::Arc<dyn BlobStore>> {
    state.config.blobs.as_ref().ok_or(ApiError::NoRoute)
}

/// Decodes `%XX` escapes (the shell sends `X-File-Name` through `encodeURIComponent`: header values are
/// ASCII); a malformed escape stays as it is.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(b) = s.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A file name made safe for a header and a download: no path, no control characters, 200 characters.
fn clean_name(raw: Option<&str>) -> String {
    let decoded = percent_decode(raw.unwrap_or(""));
    let name = decoded.rsplit(['/', '\\']).next().unwrap_or("");
    let name: String = name.chars().filter(|c| !c.is_control() && *c != '"').take(200).collect();
    if name.trim().is_empty() { "fichier".to_owned() } else { name }
}

/// `POST /api/v1/files`: the body is the file; `X-File-Name` its name; `Content-Type` its type.
pub(crate) async fn upload(
    State(state): State<AppState>,
    Enrolled(authed): Enrolled,
    request: Request,
) -> ApiResult<Response> {
    let blobs = blobs(&state)?.clone();
    state.ent.authorize(&authed.caller, FILES).await?;
    let limit = state.config.max_upload_bytes.min(blobs.max_blob_bytes());
    let headers = request.headers();
    if let Some(len) = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
        && len > limit
    {
        return Err(Error::TooLarge { what: "file".into(), size: len, limit }.into());
    }
    let name = clean_name(headers.get("x-file-name").and_then(|v| v.to_str().ok()));
    let media_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .filter(|t| t.len() < 100 && t.contains('/'))
        .unwrap_or("application/octet-stream")
        .to_owned();
    let mut stream = request.into_body().into_data_stream();
    let mut writer = blobs.writer().await?;
    let mut size: u64 = 0;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| ApiError::BadRequest(format!("the upload was interrupted: {e}")))?;
        size += chunk.len() as u64;
        if size > limit {
            // Dropping the writer discards the partial blob.
            return Err(Error::TooLarge { what: "file".into(), size, limit }.into());
        }
        writer.write(&chunk).await?;
    }
    let meta = writer.finish().await?;
    let user = authed.session.user;
    let now = state.ent.clock().now();
    let record = Upload { user, blob: meta.id.to_hex(), name, media_type, size: meta.size, at: now };
    retry::transact(&**state.ent.store(), TxMode::ReadWrite, |tx| {
        let (record, blobs, id) = (&record, &blobs, meta.id);
        Box::pin(async move {
            if tx.get_record::<Upload>((record.user.0, record.blob.as_str())).await?.is_none() {
                acquire(tx, &**blobs, &id).await?;
                tx.insert_record(record).await?;
            }
            Ok(())
        })
    })
    .await?;
    Ok(axum::Json(
        json!({"id": record.blob, "size": record.size, "name": record.name, "media_type": record.media_type}),
    )
    .into_response())
}

/// `GET /api/v1/files/{id}`: one of the caller's files, as an attachment (never rendered inline: an uploaded
/// page must not run as the portal).
pub(crate) async fn download(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Enrolled(authed): Enrolled,
) -> ApiResult<Response> {
    let blobs = blobs(&state)?.clone();
    let blob = BlobId::from_hex(&id).map_err(|_| Error::not_found("file", &id))?;
    let record = {
        let mut tx = state.ent.store().begin(TxMode::ReadOnly).await?;
        tx.get_record::<Upload>((authed.session.user.0, blob.to_hex().as_str()))
            .await?
            .ok_or_else(|| Error::not_found("file", &id))?
            .value
    };
    let stream = blobs.read(&blob).await?.map(|chunk| chunk.map(axum::body::Bytes::from));
    let mut response = Body::from_stream(stream).into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    if let Ok(v) = HeaderValue::from_str(&record.size.to_string()) {
        h.insert(header::CONTENT_LENGTH, v);
    }
    let encoded: String = record
        .name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") }
        })
        .collect();
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename*=UTF-8''{encoded}")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    Ok(response)
}
