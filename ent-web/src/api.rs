//! The JSON action API (`POST /api/v1/{module}/{action}`) and the shell's description of the user's portal
//! (`GET /api/v1/me`).

use axum::extract::{Path, Request, State};
use axum::response::{IntoResponse, Response};
use ent_core::directory::query::{self, Responsables};
use ent_core::directory::{Profile, Structure, User};
use ent_core::module::Label;
use ent_core::storage::{TxExt, TxMode};
use ent_core::{Caller, Error};
use serde::Serialize;
use serde_json::json;

use crate::AppState;
use crate::auth::read_limited;
use crate::error::{ApiError, ApiResult};
use crate::session::{Authed, Enrolled};

/// `POST /api/v1/{module}/{action}`: runs `module.action` as the session's user. Everything goes through
/// [`ent_core::Ent::call`]: the right, the input's schema, the transaction.
pub(crate) async fn call(
    State(state): State<AppState>,
    Path((module, action)): Path<(String, String)>,
    Enrolled(authed): Enrolled,
    request: Request,
) -> ApiResult<Response> {
    let name = format!("{module}.{action}");
    // Unknown names answer before the body is read.
    match state.ent.registry().module(&module) {
        None => return Err(Error::UnknownModule { module }.into()),
        Some(_) if state.ent.registry().action(&name).is_none() => {
            return Err(Error::UnknownAction { module, action: name }.into());
        }
        Some(_) => {}
    }
    let body = read_limited(request, state.config.max_json_bytes).await?;
    let text = std::str::from_utf8(&body).map_err(|_| ApiError::BadRequest("the body is not UTF-8".into()))?;
    let text = if text.trim().is_empty() { "{}" } else { text };
    let output = state.ent.call(&authed.caller, &name, text).await?;
    Ok(axum::Json(output).into_response())
}

/// A navigation entry, resolved for the user.
#[derive(Debug, Serialize)]
struct NavView {
    module: String,
    page: String,
    label: Label,
    order: i32,
}

/// A page or widget, with the URL of its script.
#[derive(Debug, Serialize)]
struct PieceView {
    module: String,
    id: String,
    element: String,
    script: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<Label>,
}

/// The script URL of a module's asset.
pub(crate) fn asset_url(module: &str, path: &str) -> String {
    format!("/assets/modules/{module}/{path}")
}

/// `GET /api/v1/me`: who the user is, where they act, their children (parents), and their portal: the
/// navigation and home-page widgets of the assembled modules for their profiles. It answers with
/// `must_enroll_second_factor` for a session that must enroll first (and no navigation).
pub(crate) async fn me(State(state): State<AppState>, authed: Authed) -> ApiResult<Response> {
    let s = &authed.session;
    let (user, structures, children) = {
        let mut tx = state.ent.store().begin(TxMode::ReadOnly).await?;
        let user = tx.fetch_record::<User>(s.user).await?.value;
        let mut structures = Vec::new();
        for id in user.structures() {
            if let Some(st) = tx.get_record::<Structure>(id).await? {
                structures
                    .push(json!({"id": id, "name": st.value.name, "uai": st.value.uai.map(|u| u.as_str().to_owned())}));
            }
        }
        let children = if s.profiles.contains(&Profile::Responsable) {
            query::children_of(&mut *tx, s.user, Responsables::WithAuthority)
                .await?
                .into_iter()
                .map(|(_, c)| json!({"id": c.id, "display_name": c.display_name()}))
                .collect()
        } else {
            Vec::new()
        };
        (user, structures, children)
    };
    let (nav, pages, widgets) =
        if s.must_enroll_second_factor { (vec![], vec![], vec![]) } else { portal_of(&state, &authed.caller).await };
    let body = json!({
        "title": state.config.title,
        "user": {"id": user.id, "login": user.login, "display_name": user.display_name(),
                 "given_name": user.given_name, "family_name": user.family_name},
        "structure": s.structure,
        "structures": structures,
        "profiles": s.profiles,
        "second_factor": s.second_factor,
        "must_enroll_second_factor": s.must_enroll_second_factor,
        "children": children,
        "nav": nav,
        "pages": pages,
        "widgets": widgets,
    });
    Ok(axum::Json(body).into_response())
}

/// The navigation, pages and widgets the caller may see, from the manifests.
async fn portal_of(state: &AppState, caller: &Caller) -> (Vec<NavView>, Vec<PieceView>, Vec<PieceView>) {
    let profiles = caller.as_user().map(|u| u.profiles.clone()).unwrap_or_default();
    let shown = |wanted: &[Profile]| wanted.is_empty() || wanted.iter().any(|p| profiles.contains(p));
    let (mut nav, mut pages, mut widgets) = (Vec::new(), Vec::new(), Vec::new());
    for m in state.ent.registry().manifests() {
        for p in &m.web.pages {
            let allowed = match &p.right {
                Some(right) => state.ent.authorize(caller, right).await.is_ok(),
                None => true,
            };
            if !allowed {
                continue;
            }
            pages.push(PieceView {
                module: m.id.clone(),
                id: p.id.clone(),
                element: p.element.clone(),
                script: asset_url(&m.id, &p.script),
                title: None,
            });
        }
        for n in m.web.nav.iter().filter(|n| shown(&n.profiles)) {
            if pages.iter().any(|p| p.id == n.page) {
                nav.push(NavView {
                    module: m.id.clone(),
                    page: n.page.clone(),
                    label: n.label.clone(),
                    order: n.order,
                });
            }
        }
        let mut mine: Vec<_> = m.web.widgets.iter().filter(|w| shown(&w.profiles)).collect();
        mine.sort_by_key(|w| w.order);
        widgets.extend(mine.into_iter().map(|w| {
            (
                w.order,
                PieceView {
                    module: m.id.clone(),
                    id: w.id.clone(),
                    element: w.element.clone(),
                    script: asset_url(&m.id, &w.script),
                    title: Some(w.title.clone()),
                },
            )
        }));
    }
    // Stable: equal orders keep the modules' order.
    nav.sort_by_key(|n| n.order);
    widgets.sort_by_key(|(order, _)| *order);
    (nav, pages, widgets.into_iter().map(|(_, w)| w).collect())
}

/// Any other path under `/api/v1`.
pub(crate) async fn not_found() -> ApiError {
    ApiError::NoRoute
}

/// A known path with another method.
pub(crate) async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}
