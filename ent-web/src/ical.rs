//! iCal feeds: `GET /ical/{token}/{action}.ics`.
//!
//! A module declares a feed in its manifest ([`ent_core::module::IcalFeedDecl`]): a read-only action that
//! takes `{}` and returns `{"events": [{"uid", "start", "end", "summary", "description", "location"}]}`,
//! with `start` and `end` as RFC 3339 instants, or `YYYY-MM-DD` dates for all-day events. Calendar
//! applications cannot log in, so the URL carries a token (`POST /api/v1/auth/feed-token`, 256 bits, stored
//! as its SHA-256; a new token replaces the previous ones). The feed runs the action as the token's owner,
//! through the same rights check as any call.

use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDate, Utc};
use ent_core::account::Token;
use ent_core::directory::{AccountState, User};
use ent_core::storage::{Record, Scan, TxExt, TxMode, retry};
use ent_core::{Caller, Error};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::error::ApiResult;
use crate::portal::{FILES, FeedToken};
use crate::session::Enrolled;

/// `POST /api/v1/auth/feed-token`: a new feed token for the caller, and the URLs of the feeds they can use.
pub(crate) async fn new_token(State(state): State<AppState>, Enrolled(authed): Enrolled) -> ApiResult<Response> {
    state.ent.authorize(&authed.caller, FILES).await?;
    let token = Token::generate()?;
    let s = &authed.session;
    let record = FeedToken {
        hash: token.hash(),
        user: s.user,
        structure: s.structure,
        profiles: s.profiles.clone(),
        created: state.ent.clock().now(),
    };
    retry::transact(&**state.ent.store(), TxMode::ReadWrite, |tx| {
        let record = &record;
        Box::pin(async move {
            tx.delete_range(&Scan::index(FeedToken::COLLECTION, "by_user").prefix((record.user.0,))).await?;
            tx.insert_record(record).await.map(|_| ())
        })
    })
    .await?;
    let mut feeds = Vec::new();
    for m in state.ent.registry().manifests() {
        for f in &m.web.ical_feeds {
            let right = state.ent.registry().action(&f.action).map(|a| a.right.clone()).unwrap_or_default();
            if state.ent.authorize(&authed.caller, &right).await.is_ok() {
                feeds.push(json!({"action": f.action, "name": f.name, "url": format!("/ical/{}/{}.ics", token.expose(), f.action)}));
            }
        }
    }
    Ok(axum::Json(json!({"token": token.expose(), "feeds": feeds})).into_response())
}

/// One event of a feed action's output.
#[derive(Debug, Deserialize)]
struct FeedEvent {
    uid: String,
    start: String,
    #[serde(default)]
    end: Option<String>,
    summary: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    location: Option<String>,
}

/// `DTSTART:20261130T080000Z` or `DTSTART;VALUE=DATE:20261130`.
fn when(property: &str, value: &str) -> Result<String, Error> {
    if let Ok(t) = DateTime::parse_from_rfc3339(value) {
        return Ok(format!("{property}:{}", t.with_timezone(&Utc).format("%Y%m%dT%H%M%SZ")));
    }
    if let Ok(d) = NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        return Ok(format!("{property};VALUE=DATE:{}", d.format("%Y%m%d")));
    }
    Err(Error::invalid("event", format!("`{value}` is neither an RFC 3339 instant nor a date")))
}

/// Escapes a TEXT value (RFC 5545 §3.3.11).
fn text(s: &str) -> String {
    s.replace('\\', "\\\\").replace(';', "\\;").replace(',', "\\,").replace("\r\n", "\\n").replace('\n', "\\n")
}

/// Folds a content line at 75 octets, never inside a UTF-8 character (RFC 5545 §3.1).
fn fold(line: &str, out: &mut String) {
    let mut width = 0;
    for c in line.chars() {
        if width + c.len_utf8() > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += c.len_utf8();
    }
    out.push_str("\r\n");
}

/// The calendar text of a feed's output.
pub(crate) fn render(name: &str, output: &Value, now: DateTime<Utc>) -> Result<String, Error> {
    let events: Vec<FeedEvent> = serde_json::from_value(output.get("events").cloned().unwrap_or(json!([])))
        .map_err(|e| Error::invalid("events", e.to_string()))?;
    let mut out = String::new();
    for l in ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//ent//ent-web//FR", "CALSCALE:GREGORIAN"] {
        fold(l, &mut out);
    }
    fold(&format!("X-WR-CALNAME:{}", text(name)), &mut out);
    let stamp = now.format("%Y%m%dT%H%M%SZ");
    for e in events {
        fold("BEGIN:VEVENT", &mut out);
        fold(&format!("UID:{}", text(&e.uid)), &mut out);
        fold(&format!("DTSTAMP:{stamp}"), &mut out);
        fold(&when("DTSTART", &e.start)?, &mut out);
        if let Some(end) = &e.end {
            fold(&when("DTEND", end)?, &mut out);
        }
        fold(&format!("SUMMARY:{}", text(&e.summary)), &mut out);
        if let Some(d) = &e.description {
            fold(&format!("DESCRIPTION:{}", text(d)), &mut out);
        }
        if let Some(l) = &e.location {
            fold(&format!("LOCATION:{}", text(l)), &mut out);
        }
        fold("END:VEVENT", &mut out);
    }
    fold("END:VCALENDAR", &mut out);
    Ok(out)
}

/// `GET /ical/{token}/{action}.ics`. An unknown token or feed is a 404 (a calendar application shows it).
pub(crate) async fn feed(
    State(state): State<AppState>,
    Path((token, file)): Path<(String, String)>,
) -> ApiResult<Response> {
    let not_found = || Error::not_found("feed", &file);
    let action = file.strip_suffix(".ics").ok_or_else(not_found)?;
    let decl = state
        .ent
        .registry()
        .manifests()
        .flat_map(|m| m.web.ical_feeds.iter())
        .find(|f| f.action == action)
        .ok_or_else(not_found)?
        .clone();
    let token = Token::parse(&token).map_err(|_| not_found())?;
    let owner = {
        let mut tx = state.ent.store().begin(TxMode::ReadOnly).await?;
        let t = tx.get_record::<FeedToken>((token.hash().as_str(),)).await?.ok_or_else(not_found)?.value;
        let user = tx.get_record::<User>(t.user).await?.ok_or_else(not_found)?.value;
        if matches!(user.state, AccountState::Disabled { .. }) {
            return Err(not_found().into());
        }
        t
    };
    let caller = Caller::user(owner.user, owner.structure, owner.profiles.iter().copied());
    let output = state.ent.call_value(&caller, action, json!({})).await?;
    let name = decl.name.get("fr").cloned().unwrap_or_default();
    let body = render(&name, &output, state.ent.clock().now())?;
    let mut response = body.into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/calendar; charset=utf-8"));
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=300"));
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_render_as_rfc_5545() {
        let now = DateTime::parse_from_rfc3339("2026-11-29T10:00:00Z").unwrap().with_timezone(&Utc);
        let out = json!({"events": [
            {"uid": "a@ent", "start": "2026-11-30T08:00:00+01:00", "end": "2026-11-30T09:00:00+01:00",
             "summary": "Mathématiques, salle 12; contrôle", "location": "Bâtiment B"},
            {"uid": "b@ent", "start": "2026-12-19", "summary": &"Vacances de Noël ".repeat(10)}]});
        let ics = render("Emploi du temps", &out, now).unwrap();
        assert!(ics.starts_with("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n"));
        assert!(ics.contains("DTSTART:20261130T070000Z\r\n"));
        assert!(ics.contains("SUMMARY:Mathématiques\\, salle 12\\; contrôle\r\n"));
        assert!(ics.contains("DTSTART;VALUE=DATE:20261219\r\n"));
        assert!(ics.lines().all(|l| l.len() <= 75), "folded");
        assert!(ics.ends_with("END:VCALENDAR\r\n"));
        let bad = json!({"events": [{"uid": "c", "start": "lundi", "summary": "?"}]});
        assert!(render("x", &bad, now).is_err());
    }
}
