// The web shell: login and activation, then the portal built from the modules' manifests (navigation,
// pages, home-page widgets for the user's profile), a child switch for parents, French first with English.
import { request, loadMe, t, lang, setLang, h, notice, currentChild, setChild } from "./api.js";

const top = document.getElementById("top");
const main = document.getElementById("main");
let me = null;

const T = {
  skip: { fr: "Aller au contenu principal", en: "Skip to main content" },
  login: { fr: "Connexion", en: "Log in" },
  loginLead: { fr: "Connectez-vous avec l'identifiant fourni par votre établissement.", en: "Log in with the login your school gave you." },
  user: { fr: "Identifiant", en: "Login" },
  password: { fr: "Mot de passe", en: "Password" },
  code2fa: { fr: "Code de l'application d'authentification (ou code de secours)", en: "Authenticator app code (or recovery code)" },
  submitLogin: { fr: "Se connecter", en: "Log in" },
  firstTime: { fr: "Première connexion ? Activer mon compte", en: "First time? Activate my account" },
  activate: { fr: "Activer mon compte", en: "Activate my account" },
  activateLead: { fr: "Saisissez le code d'activation reçu de votre établissement, puis choisissez votre mot de passe.", en: "Enter the activation code your school gave you, then choose your password." },
  code: { fr: "Code d'activation", en: "Activation code" },
  newPassword: { fr: "Nouveau mot de passe", en: "New password" },
  confirm: { fr: "Confirmez le mot de passe", en: "Confirm the password" },
  passwordHint: { fr: "8 caractères au moins ; une phrase de plusieurs mots est idéale.", en: "At least 8 characters; a sentence of several words is ideal." },
  mismatch: { fr: "Les deux mots de passe diffèrent.", en: "The two passwords differ." },
  backToLogin: { fr: "Retour à la connexion", en: "Back to login" },
  home: { fr: "Accueil", en: "Home" },
  logout: { fr: "Se déconnecter", en: "Log out" },
  menu: { fr: "Menu", en: "Menu" },
  nav: { fr: "Navigation principale", en: "Main navigation" },
  child: { fr: "Enfant", en: "Child" },
  structure: { fr: "Établissement", en: "School" },
  welcome: { fr: "Bonjour", en: "Hello" },
  noWidget: { fr: "Aucun service n'est encore installé pour votre profil.", en: "No service is installed for your profile yet." },
  notFound: { fr: "Cette page n'existe pas.", en: "This page does not exist." },
  enroll: { fr: "Activez la double authentification", en: "Turn on two-step verification" },
  enrollLead: { fr: "Votre profil demande un second facteur avant d'accéder au portail.", en: "Your profile requires a second factor before using the portal." },
  language: { fr: "Langue", en: "Language" },
};

const PROFILE = {
  eleve: { fr: "Élève", en: "Pupil" }, responsable: { fr: "Parent", en: "Parent" },
  enseignant: { fr: "Enseignant", en: "Teacher" }, direction: { fr: "Direction", en: "Head" },
  vie_scolaire: { fr: "Vie scolaire", en: "Pupil welfare" }, administratif: { fr: "Administratif", en: "Administration" },
  documentaliste: { fr: "Documentaliste", en: "Librarian" }, collectivite: { fr: "Collectivité", en: "Local authority" },
  academie: { fr: "Académie", en: "Académie" }, invite: { fr: "Invité", en: "Guest" },
  admin_local: { fr: "Administrateur", en: "Administrator" }, admin_central: { fr: "Administrateur central", en: "Central administrator" },
};

function field(id, label, attrs = {}, hint) {
  const hintId = hint ? `${id}-hint` : null;
  return h("div", { class: "field" },
    h("label", { for: id }, t(label)),
    h("input", { id, name: id, "aria-describedby": hintId, ...attrs }),
    hint ? h("p", { class: "hint", id: hintId }, t(hint)) : null);
}

function setTitle(text) {
  document.title = `${text} · ${me?.title || document.title.split(" · ").pop()}`;
}

function focusMain() {
  const heading = main.querySelector("h1");
  (heading || main).setAttribute("tabindex", "-1");
  (heading || main).focus({ preventScroll: false });
}

function langSwitch() {
  const other = lang() === "fr" ? "en" : "fr";
  return h("button", {
    type: "button", class: "lang", lang: other,
    "aria-label": other === "en" ? "English version" : "Version française",
    onclick: () => { setLang(other); render(); },
  }, other === "en" ? "English" : "Français");
}

// ---- logged out -------------------------------------------------------------------------------------

function loginView(message) {
  top.replaceChildren(h("header", { class: "bar" }, h("span", { class: "brand" }, document.title.split(" · ").pop()), langSwitch()));
  const errors = h("div", { class: "errors" });
  if (message) errors.append(notice(message));
  const secondFactor = field("second_factor", T.code2fa, { autocomplete: "one-time-code", inputmode: "numeric" });
  secondFactor.hidden = true;
  const form = h("form", { class: "panel narrow", novalidate: true },
    h("h1", {}, t(T.login)),
    h("p", { class: "lead" }, t(T.loginLead)),
    errors,
    field("login", T.user, { autocomplete: "username", required: true, autocapitalize: "none", spellcheck: "false" }),
    field("password", T.password, { type: "password", autocomplete: "current-password", required: true }),
    secondFactor,
    h("button", { type: "submit", class: "primary" }, t(T.submitLogin)),
    h("p", {}, h("a", { href: "#/activate" }, t(T.firstTime))));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    errors.replaceChildren();
    const data = Object.fromEntries(new FormData(form));
    if (!data.second_factor) delete data.second_factor;
    try {
      await request("POST", "/api/v1/auth/login", data);
      location.hash = "#/";
      await start();
    } catch (e) {
      if (e.code === "second_factor_required") {
        secondFactor.hidden = false;
        errors.append(notice(e.message, "info"));
        form.querySelector("#second_factor").focus();
        return;
      }
      errors.append(notice(e.message));
      form.querySelector("#password").value = "";
      form.querySelector("#login").focus();
    }
  });
  main.replaceChildren(form);
  setTitle(t(T.login));
  form.querySelector("#login").focus();
}

function activateView() {
  top.replaceChildren(h("header", { class: "bar" }, h("span", { class: "brand" }, document.title.split(" · ").pop()), langSwitch()));
  const errors = h("div", { class: "errors" });
  const form = h("form", { class: "panel narrow", novalidate: true },
    h("h1", {}, t(T.activate)),
    h("p", { class: "lead" }, t(T.activateLead)),
    errors,
    field("code", T.code, { autocomplete: "off", required: true, autocapitalize: "characters", spellcheck: "false" }),
    field("password", T.newPassword, { type: "password", autocomplete: "new-password", required: true }, T.passwordHint),
    field("confirm", T.confirm, { type: "password", autocomplete: "new-password", required: true }),
    h("button", { type: "submit", class: "primary" }, t(T.activate)),
    h("p", {}, h("a", { href: "#/login" }, t(T.backToLogin))));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    errors.replaceChildren();
    const { code, password, confirm } = Object.fromEntries(new FormData(form));
    if (password !== confirm) {
      errors.append(notice(t(T.mismatch)));
      form.querySelector("#confirm").focus();
      return;
    }
    try {
      await request("POST", "/api/v1/auth/activate", { code, password });
      location.hash = "#/";
      await start();
    } catch (e) {
      errors.append(notice(e.message));
      form.querySelector(e.code.startsWith("password") ? "#password" : "#code").focus();
    }
  });
  main.replaceChildren(form);
  setTitle(t(T.activate));
  form.querySelector("#code").focus();
}

// ---- logged in --------------------------------------------------------------------------------------

async function logout() {
  try { await request("POST", "/api/v1/auth/logout"); } catch (_) { /* the cookie is cleared anyway */ }
  me = null;
  sessionStorage.clear();
  location.hash = "#/login";
  loginView();
}

async function load(script) {
  try { await import(script); } catch (e) { console.error(`ent: cannot load ${script}`, e); }
}

function header() {
  const route = location.hash.replace(/^#\/?/, "");
  const links = [{ page: "", label: T.home }, ...me.nav];
  const navList = h("ul", {}, links.map((n) => h("li", {},
    h("a", { href: `#/${n.page}`, "aria-current": route === n.page ? "page" : false }, t(n.label)))));
  const nav = h("nav", { id: "nav", "aria-label": t(T.nav) }, navList);
  const toggle = h("button", { type: "button", class: "menu", "aria-expanded": "false", "aria-controls": "nav" }, t(T.menu));
  toggle.addEventListener("click", () => {
    const open = toggle.getAttribute("aria-expanded") !== "true";
    toggle.setAttribute("aria-expanded", String(open));
    nav.classList.toggle("open", open);
  });
  const tools = h("div", { class: "tools" });
  if (me.children.length > 0) {
    if (!me.children.some((c) => c.id === currentChild())) setChild(me.children[0].id);
    const select = h("select", { id: "child-switch" }, me.children.map((c) =>
      h("option", { value: c.id, selected: c.id === currentChild() }, c.display_name)));
    select.addEventListener("change", () => setChild(select.value));
    tools.append(h("div", { class: "child" }, h("label", { for: "child-switch" }, t(T.child)), select));
  }
  const profiles = me.profiles.map((p) => t(PROFILE[p] || { fr: p })).join(", ");
  tools.append(
    h("span", { class: "who" }, h("strong", {}, me.user.display_name), h("span", { class: "profiles" }, profiles)),
    langSwitch(),
    h("button", { type: "button", class: "logout", onclick: logout }, t(T.logout)));
  const structure = me.structures.find((s) => s.id === me.structure);
  return h("header", { class: "bar" },
    h("a", { class: "brand", href: "#/" }, me.title, structure ? h("span", { class: "school" }, structure.name) : null),
    toggle, nav, tools);
}

async function homeView() {
  const grid = h("div", { class: "widgets" });
  const first = me.user.given_name || me.user.display_name;
  main.replaceChildren(h("h1", {}, `${t(T.welcome)} ${first}`), grid);
  setTitle(t(T.home));
  if (me.widgets.length === 0) grid.append(h("p", {}, t(T.noWidget)));
  await Promise.all([...new Set(me.widgets.map((w) => w.script))].map(load));
  for (const w of me.widgets) {
    const id = `w-${w.id.replace(/[^a-z0-9]/gi, "-")}`;
    grid.append(h("section", { class: "widget", "aria-labelledby": id, "data-widget": w.id },
      h("h2", { id }, t(w.title)), h(w.element)));
  }
}

async function pageView(id) {
  const page = me.pages.find((p) => p.id === id);
  if (!page) {
    main.replaceChildren(h("h1", {}, t(T.notFound)), h("p", {}, h("a", { href: "#/" }, t(T.home))));
    setTitle(t(T.notFound));
    return;
  }
  await load(page.script);
  const label = me.nav.find((n) => n.page === id)?.label;
  main.replaceChildren(h(page.element, { "data-page": id }));
  setTitle(label ? t(label) : id);
}

async function enrollView() {
  top.replaceChildren(h("header", { class: "bar" }, h("span", { class: "brand" }, me.title), langSwitch(),
    h("button", { type: "button", class: "logout", onclick: logout }, t(T.logout))));
  await load("/assets/modules/portal/web/account.js");
  main.replaceChildren(h("section", { class: "panel narrow" },
    h("h1", {}, t(T.enroll)), h("p", { class: "lead" }, t(T.enrollLead)),
    h("ent-totp-enroll", { onenrolled: () => start() })));
  setTitle(t(T.enroll));
}

async function render() {
  document.documentElement.lang = lang();
  document.querySelector(".skip").textContent = t(T.skip);
  const route = location.hash.replace(/^#\/?/, "");
  if (!me) {
    if (route === "activate") activateView(); else loginView();
    return;
  }
  if (me.must_enroll_second_factor) { await enrollView(); return; }
  top.replaceChildren(header());
  if (route === "" || route === "login" || route === "activate") await homeView();
  else await pageView(route);
  focusMain();
}

async function start(message) {
  try {
    me = await loadMe();
  } catch (e) {
    me = null;
    if (e.code !== "not_logged_in" && e.code !== "session_expired") message = e.message;
  }
  await render();
  if (message && !me) main.querySelector(".errors")?.append(notice(message));
}

window.addEventListener("hashchange", () => render());
window.addEventListener("ent-logged-out", (ev) => {
  if (!me) return;
  me = null;
  loginView(ev.detail.message);
});
start();
