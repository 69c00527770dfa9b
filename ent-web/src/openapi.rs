//! `GET /api/v1/openapi.json`: an OpenAPI 3.1 document generated from the manifests.
//!
//! Each action becomes `POST /api/v1/{module}/{action}` with its input and output JSON Schemas (draft
//! 2020-12, which OpenAPI 3.1 uses as is). Their `$defs` are hoisted into `components.schemas` under the
//! action's name (`guestbook.sign.SignInput`) and their references rewritten, since a `#/$defs/...`
//! reference inside an OpenAPI document would point at the document's root.

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use ent_core::module::Registry;
use serde_json::{Map, Value, json};

use crate::AppState;

/// `GET /api/v1/openapi.json`.
pub(crate) async fn serve(State(state): State<AppState>) -> Response {
    let mut r = state.openapi.to_vec().into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

/// Rewrites `#/$defs/X` references to `#/components/schemas/{prefix}X`.
fn rewrite_refs(value: &mut Value, prefix: &str) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get_mut("$ref")
                && let Some(name) = r.strip_prefix("#/$defs/")
            {
                *r = format!("#/components/schemas/{prefix}{name}");
            }
            for v in map.values_mut() {
                rewrite_refs(v, prefix);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| rewrite_refs(v, prefix)),
        _ => {}
    }
}

/// A schema made fit for the document: `$schema` dropped, `$defs` moved to `components`.
fn hoist(mut schema: Value, prefix: &str, components: &mut Map<String, Value>) -> Value {
    if let Some(map) = schema.as_object_mut() {
        map.remove("$schema");
        if let Some(Value::Object(defs)) = map.remove("$defs") {
            for (name, mut def) in defs {
                rewrite_refs(&mut def, prefix);
                components.insert(format!("{prefix}{name}"), def);
            }
        }
    }
    rewrite_refs(&mut schema, prefix);
    schema
}

fn error_responses() -> Value {
    let e = json!({"$ref": "#/components/responses/Error"});
    json!({"400": e, "401": e, "403": e, "404": e, "409": e, "413": e, "422": e, "429": e, "500": e, "503": e})
}

fn json_body(schema: &Value) -> Value {
    json!({"required": true, "content": {"application/json": {"schema": schema}}})
}

fn ok(description: &str, schema: &Value) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": schema}}})
}

/// The document for the modules of `registry`.
pub fn document(registry: &Registry) -> Value {
    let mut components = Map::new();
    let mut paths = Map::new();
    let csrf = json!({"$ref": "#/components/parameters/Csrf"});
    for m in registry.manifests() {
        for a in &m.actions {
            let Some(action) = a.name.strip_prefix(&format!("{}.", m.id)) else { continue };
            let prefix = format!("{}.", a.name);
            let input = hoist(a.input.clone(), &prefix, &mut components);
            let output = hoist(a.output.clone(), &prefix, &mut components);
            let mut responses = error_responses();
            responses["200"] = ok("The action's output", &output);
            let op = json!({
                "operationId": a.name,
                "summary": if a.description.is_empty() { a.name.clone() } else { a.description.clone() },
                "description": format!("Needs the right `{}`.{}", a.right, if a.read_only { " Reads only." } else { "" }),
                "tags": [m.id],
                "parameters": [csrf],
                "requestBody": json_body(&input),
                "responses": responses,
            });
            paths.insert(format!("/api/v1/{}/{action}", m.id), json!({ "post": op }));
        }
    }
    let session = json!({"$ref": "#/components/schemas/Session"});
    let public: Value = json!([]);
    let mut auth = |path: &str, summary: &str, body: Option<Value>, result: Value, secured: bool| {
        let mut op =
            json!({"summary": summary, "tags": ["auth"], "parameters": [csrf], "responses": error_responses()});
        op["responses"]["200"] = ok("Done", &result);
        if let Some(b) = body {
            op["requestBody"] = json_body(&b);
        }
        if !secured {
            op["security"] = public.clone();
        }
        paths.insert(format!("/api/v1/auth/{path}"), json!({ "post": op }));
    };
    auth(
        "login",
        "Log in with a login and password (and the second factor's code when the account has one)",
        Some(json!({"type": "object", "required": ["login", "password"], "properties": {
            "login": {"type": "string"}, "password": {"type": "string"},
            "second_factor": {"type": ["string", "null"]}, "structure": {"type": ["string", "null"], "format": "uuid"},
            "bearer": {"type": "boolean", "description": "Return the token in the body instead of setting the cookie"}}})),
        session.clone(),
        false,
    );
    auth(
        "activate",
        "First login with the activation code of the import: sets the password",
        Some(json!({"type": "object", "required": ["code", "password"], "properties": {
            "code": {"type": "string"}, "password": {"type": "string"}}})),
        session.clone(),
        false,
    );
    auth("logout", "End the session and clear the cookie", None, json!({}), false);
    auth(
        "password",
        "Change one's password; the other sessions end",
        Some(json!({"type": "object", "required": ["current", "new"], "properties": {
            "current": {"type": "string"}, "new": {"type": "string"}}})),
        session.clone(),
        true,
    );
    auth(
        "totp/begin",
        "Start enrolling a TOTP second factor",
        None,
        json!({"type": "object", "properties": {
        "secret": {"type": "string"}, "url": {"type": "string"}}}),
        true,
    );
    auth(
        "totp/confirm",
        "Confirm the second factor with a first code; returns the recovery codes once",
        Some(json!({"type": "object", "required": ["code"], "properties": {"code": {"type": "string"}}})),
        session.clone(),
        true,
    );
    auth(
        "sessions/revoke",
        "End one of one's sessions by its id",
        Some(json!({"type": "object", "required": ["id"], "properties": {"id": {"type": "string", "format": "uuid"}}})),
        json!({}),
        true,
    );
    auth(
        "structure",
        "Act in another of one's structures",
        Some(
            json!({"type": "object", "required": ["structure"], "properties": {"structure": {"type": "string", "format": "uuid"}}}),
        ),
        session,
        true,
    );
    auth(
        "feed-token",
        "A new iCal feed token (the previous ones stop working)",
        None,
        json!({"type": "object",
        "properties": {"token": {"type": "string"}, "feeds": {"type": "array", "items": {"type": "object"}}}}),
        true,
    );
    let mut get = |path: &str, summary: &str, tag: &str| {
        let mut op = json!({"summary": summary, "tags": [tag], "responses": error_responses()});
        op["responses"]["200"] = ok("Done", &json!({"type": "object"}));
        paths.insert(path.to_owned(), json!({ "get": op }));
    };
    get("/api/v1/me", "The user, where they act, and their portal (navigation, pages, widgets)", "shell");
    get("/api/v1/auth/sessions", "One's open sessions", "auth");
    let mut upload = json!({"summary": "Upload a file (streamed; the body is the file)", "tags": ["files"],
        "parameters": [csrf, {"name": "x-file-name", "in": "header", "schema": {"type": "string"}}],
        "requestBody": {"required": true, "content": {"*/*": {"schema": {"type": "string", "contentMediaType": "application/octet-stream"}}}},
        "responses": error_responses()});
    upload["responses"]["200"] = ok(
        "Stored",
        &json!({"type": "object", "properties": {
        "id": {"type": "string"}, "size": {"type": "integer"}, "name": {"type": "string"}}}),
    );
    paths.insert("/api/v1/files".into(), json!({ "post": upload }));
    let mut download = json!({"summary": "Download one of one's files", "tags": ["files"],
        "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
        "responses": error_responses()});
    download["responses"]["200"] = json!({"description": "The file", "content": {"*/*": {}}});
    paths.insert("/api/v1/files/{id}".into(), json!({ "get": download }));

    components.insert(
        "Session".into(),
        json!({"type": "object", "properties": {
        "id": {"type": "string", "format": "uuid"}, "user": {"type": "string", "format": "uuid"},
        "structure": {"type": "string", "format": "uuid"}, "profiles": {"type": "array", "items": {"type": "string"}},
        "expires": {"type": "string", "format": "date-time"}, "must_enroll_second_factor": {"type": "boolean"},
        "token": {"type": "string"}}}),
    );
    components.insert(
        "Error".into(),
        json!({"type": "object", "required": ["error"], "properties": {"error": {
        "type": "object", "required": ["code", "status", "message"], "properties": {
            "code": {"type": "string", "description": "Stable: clients switch on it"},
            "status": {"type": "integer"},
            "message": {"type": "object", "properties": {"fr": {"type": "string"}, "en": {"type": "string"}}},
            "detail": {"type": "string", "description": "For developers"},
            "right": {"type": "string"}, "field": {"type": "string"}, "limit": {"type": "integer"},
            "retry_after_secs": {"type": "integer"},
            "violations": {"type": "array", "items": {"type": "object", "properties": {
                "pointer": {"type": "string"}, "reason": {"type": "string"}}}}}}}}),
    );
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "ent",
            "version": ent_core::module::CORE_VERSION,
            "description": "The JSON API of an ent portal: one operation per action of each assembled module.",
        },
        "servers": [{"url": "/"}],
        "security": [{"session": []}, {"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": components,
            "responses": {"Error": {"description": "An error, with its stable code",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}},
            "parameters": {"Csrf": {"name": "x-csrf-token", "in": "header", "required": false,
                "description": "With the session cookie: the value of the `__Host-ent-csrf` cookie. Not needed with a bearer token.",
                "schema": {"type": "string"}}},
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "__Host-ent-session"},
                "bearer": {"type": "http", "scheme": "bearer"},
            },
        },
    })
}
