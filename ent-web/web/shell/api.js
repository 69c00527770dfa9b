// The shell's API for itself and for modules' web components: JSON calls with the session cookie and the
// CSRF token, French-first texts, the selected child of a parent. See docs/web-ui.md.

const LANG_KEY = "ent.lang";
const CHILD_KEY = "ent.child";

/** The interface language: "fr" (default) or "en". */
export function lang() {
  const l = localStorage.getItem(LANG_KEY);
  return l === "en" ? "en" : "fr";
}

/** Changes the interface language and tells every component (`ent-lang-change` on window). */
export function setLang(l) {
  localStorage.setItem(LANG_KEY, l === "en" ? "en" : "fr");
  document.documentElement.lang = lang();
  window.dispatchEvent(new CustomEvent("ent-lang-change", { detail: lang() }));
}

/** The text of a label `{fr, en}` in the interface language, French when missing. */
export function t(label) {
  if (label == null) return "";
  if (typeof label === "string") return label;
  return label[lang()] ?? label.fr ?? Object.values(label)[0] ?? "";
}

/** An error of the API: `code` is stable, `message` is for people. */
export class ApiError extends Error {
  constructor(status, body) {
    const e = (body && body.error) || {};
    super(t(e.message) || `HTTP ${status}`);
    this.status = status;
    this.code = e.code || "http_" + status;
    this.body = e;
  }
}

function csrfToken() {
  for (const part of document.cookie.split(";")) {
    const [k, v] = part.trim().split("=");
    if (k === "__Host-ent-csrf") return v;
  }
  return "";
}

/** A request to the API; resolves with the JSON body (or null), rejects with an ApiError. */
export async function request(method, path, body) {
  const headers = { accept: "application/json" };
  if (method !== "GET") {
    headers["x-csrf-token"] = csrfToken();
    if (body !== undefined) headers["content-type"] = "application/json";
  }
  const response = await fetch(path, {
    method,
    headers,
    credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  const json = text ? JSON.parse(text) : null;
  if (!response.ok) {
    const error = new ApiError(response.status, json);
    if (error.code === "session_expired" || error.code === "not_logged_in") {
      window.dispatchEvent(new CustomEvent("ent-logged-out", { detail: error }));
    }
    throw error;
  }
  return json;
}

/** Runs `module.action` with `input`: `call("notes", "list", {...})`. */
export function call(module, action, input = {}) {
  return request("POST", `/api/v1/${encodeURIComponent(module)}/${encodeURIComponent(action)}`, input);
}

let meCache = null;

/** Asks the server who is logged in (`GET /api/v1/me`) and remembers the answer for `currentMe`. */
export function loadMe() {
  meCache = request("GET", "/api/v1/me");
  meCache.catch(() => { meCache = null; });
  return meCache;
}

/** Who is logged in, as the shell last loaded it (no request when it has): components use it. */
export function currentMe() {
  return meCache ?? loadMe();
}

/** For a parent: the id of the child selected in the shell's switch (null otherwise). */
export function currentChild() {
  return sessionStorage.getItem(CHILD_KEY);
}

/** Selects a child and tells every component (`ent-child-change` on window, detail: the child's id). */
export function setChild(id) {
  sessionStorage.setItem(CHILD_KEY, id);
  window.dispatchEvent(new CustomEvent("ent-child-change", { detail: id }));
}

/** Builds an element: h("p", {class: "x"}, "text", child...). Text is always text, never HTML. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === false || v == null) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c == null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** A message for people in a live region: role=alert for errors, role=status otherwise. */
export function notice(message, kind = "error") {
  return h("p", { class: `notice ${kind}`, role: kind === "error" ? "alert" : "status" }, message);
}
