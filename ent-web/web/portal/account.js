// The portal's account components: the account page (password, sessions, second factor, calendar feeds),
// the security widget, and the second-factor enrollment the shell shows when a profile requires one.
import { request, loadMe, currentMe, t, h, notice } from "/assets/shell/api.js";

const T = {
  title: { fr: "Mon compte", en: "My account" },
  password: { fr: "Changer de mot de passe", en: "Change password" },
  current: { fr: "Mot de passe actuel", en: "Current password" },
  next: { fr: "Nouveau mot de passe", en: "New password" },
  hint: { fr: "8 caractères au moins ; une phrase de plusieurs mots est idéale. Vos autres sessions seront fermées.", en: "At least 8 characters; a sentence is ideal. Your other sessions will be closed." },
  save: { fr: "Enregistrer", en: "Save" },
  changed: { fr: "Mot de passe changé. Vos autres sessions sont fermées.", en: "Password changed. Your other sessions are closed." },
  sessions: { fr: "Sessions ouvertes", en: "Open sessions" },
  since: { fr: "Ouverte le", en: "Opened on" },
  seen: { fr: "Dernière activité", en: "Last activity" },
  from: { fr: "Depuis", en: "From" },
  browser: { fr: "Navigateur", en: "Browser" },
  current_s: { fr: "Cette session", en: "This session" },
  close: { fr: "Fermer", en: "Close" },
  totp: { fr: "Double authentification", en: "Two-step verification" },
  totpOn: { fr: "Activée : un code de votre application est demandé à chaque connexion.", en: "On: a code from your app is asked at each login." },
  totpOff: { fr: "Désactivée. Activez-la pour protéger votre compte.", en: "Off. Turn it on to protect your account." },
  start: { fr: "Activer la double authentification", en: "Turn on two-step verification" },
  scan: { fr: "Ajoutez ce compte à votre application d'authentification (saisie manuelle de la clé), puis saisissez le code affiché.", en: "Add this account to your authenticator app (enter the key by hand), then type the code it shows." },
  key: { fr: "Clé", en: "Key" },
  link: { fr: "Ouvrir dans l'application", en: "Open in the app" },
  code: { fr: "Code à 6 chiffres", en: "6-digit code" },
  confirm: { fr: "Confirmer", en: "Confirm" },
  recovery: { fr: "Codes de secours : notez-les, chacun sert une fois si vous perdez votre téléphone. Ils ne seront plus affichés.", en: "Recovery codes: write them down; each works once if you lose your phone. They will not be shown again." },
  continue: { fr: "J'ai noté mes codes, continuer", en: "I wrote my codes down, continue" },
  feeds: { fr: "Agendas à synchroniser", en: "Calendars to subscribe to" },
  feedsLead: { fr: "Une adresse personnelle permet d'abonner votre agenda (téléphone, messagerie). Une nouvelle adresse remplace la précédente.", en: "A personal address lets your calendar app subscribe. A new address replaces the previous one." },
  feedsNew: { fr: "Créer mes adresses d'abonnement", en: "Create my subscription addresses" },
  feedsNone: { fr: "Aucun service de ce portail ne propose d'agenda.", en: "No service of this portal offers a calendar." },
  open: { fr: "sessions ouvertes", en: "open sessions" },
  openOne: { fr: "Une session ouverte", en: "One open session" },
  manage: { fr: "Gérer mon compte", en: "Manage my account" },
};

function fmt(iso) {
  return new Date(iso).toLocaleString(document.documentElement.lang, { dateStyle: "medium", timeStyle: "short" });
}

function field(id, label, attrs, hint) {
  return h("div", { class: "field" }, h("label", { for: id }, t(label)),
    h("input", { id, name: id, "aria-describedby": hint ? `${id}-hint` : null, ...attrs }),
    hint ? h("p", { class: "hint", id: `${id}-hint` }, t(hint)) : null);
}

class TotpEnroll extends HTMLElement {
  connectedCallback() { this.renderStart(); }
  renderStart() {
    const errors = h("div");
    const button = h("button", { type: "button", class: "primary" }, t(T.start));
    button.addEventListener("click", async () => {
      try { this.renderCode(await request("POST", "/api/v1/auth/totp/begin")); } catch (e) { errors.replaceChildren(notice(e.message)); }
    });
    this.replaceChildren(errors, button);
  }
  renderCode({ secret, url }) {
    const errors = h("div");
    const form = h("form", { novalidate: true },
      h("p", {}, t(T.scan)),
      h("p", {}, `${t(T.key)} : `, h("code", { class: "secret", "data-secret": secret }, secret.replace(/(.{4})/g, "$1 ").trim())),
      h("p", {}, h("a", { href: url }, t(T.link))),
      errors,
      field("totp-code", T.code, { inputmode: "numeric", autocomplete: "one-time-code", required: true, pattern: "[0-9 ]*" }),
      h("button", { type: "submit", class: "primary" }, t(T.confirm)));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      errors.replaceChildren();
      try {
        const r = await request("POST", "/api/v1/auth/totp/confirm", { code: form.querySelector("#totp-code").value.replace(/\s/g, "") });
        this.renderCodes(r.recovery_codes);
      } catch (e) { errors.replaceChildren(notice(e.message)); form.querySelector("#totp-code").focus(); }
    });
    this.replaceChildren(form);
    form.querySelector("#totp-code").focus();
  }
  renderCodes(codes) {
    const done = h("button", { type: "button", class: "primary" }, t(T.continue));
    done.addEventListener("click", () => this.dispatchEvent(new CustomEvent("enrolled", { bubbles: true })));
    this.replaceChildren(notice(t(T.recovery), "success"), h("ul", { class: "plain recovery" }, codes.map((c) => h("li", {}, h("code", {}, c)))), done);
    done.focus();
  }
}

class AccountPage extends HTMLElement {
  connectedCallback() {
    this.refresh = () => this.render().catch((e) => this.replaceChildren(notice(e.message)));
    window.addEventListener("ent-lang-change", this.refresh);
    this.refresh();
  }
  disconnectedCallback() { window.removeEventListener("ent-lang-change", this.refresh); }

  async render() {
    const [me, { sessions }] = await Promise.all([loadMe(), request("GET", "/api/v1/auth/sessions")]);
    this.replaceChildren(
      h("h1", {}, t(T.title)),
      h("p", { class: "lead" }, `${me.user.display_name} — ${me.user.login}`),
      this.passwordSection(),
      this.sessionsSection(sessions),
      this.totpSection(me),
      this.feedsSection());
  }

  passwordSection() {
    const errors = h("div", { "aria-live": "polite" });
    const form = h("form", { novalidate: true },
      errors,
      field("pw-current", T.current, { type: "password", autocomplete: "current-password", required: true }),
      field("pw-new", T.next, { type: "password", autocomplete: "new-password", required: true }, T.hint),
      h("button", { type: "submit", class: "primary" }, t(T.save)));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      errors.replaceChildren();
      try {
        await request("POST", "/api/v1/auth/password", { current: form.querySelector("#pw-current").value, new: form.querySelector("#pw-new").value });
        form.reset();
        errors.replaceChildren(notice(t(T.changed), "success"));
      } catch (e) { errors.replaceChildren(notice(e.message)); }
    });
    return h("section", { class: "panel", "aria-labelledby": "acc-pw" }, h("h2", { id: "acc-pw" }, t(T.password)), form);
  }

  sessionsSection(sessions) {
    const rows = sessions.map((s) => {
      const close = s.current ? h("span", { class: "muted" }, t(T.current_s)) :
        h("button", { type: "button", class: "secondary", onclick: async () => {
          try { await request("POST", "/api/v1/auth/sessions/revoke", { id: s.id }); this.refresh(); } catch (e) { this.prepend(notice(e.message)); }
        } }, t(T.close));
      return h("tr", {}, h("td", {}, fmt(s.created)), h("td", {}, fmt(s.last_seen)), h("td", {}, s.address || "—"),
        h("td", {}, (s.user_agent || "—").slice(0, 60)), h("td", {}, close));
    });
    return h("section", { class: "panel", "aria-labelledby": "acc-sessions" }, h("h2", { id: "acc-sessions" }, t(T.sessions)),
      h("table", {}, h("thead", {}, h("tr", {}, [T.since, T.seen, T.from, T.browser, T.close].map((c) => h("th", { scope: "col" }, t(c))))),
        h("tbody", {}, rows)));
  }

  totpSection(me) {
    const body = me.second_factor ? h("p", {}, t(T.totpOn)) :
      h("div", {}, h("p", {}, t(T.totpOff)), h("ent-totp-enroll", { onenrolled: () => this.refresh() }));
    return h("section", { class: "panel", "aria-labelledby": "acc-totp" }, h("h2", { id: "acc-totp" }, t(T.totp)), body);
  }

  feedsSection() {
    const out = h("div", { "aria-live": "polite" });
    const button = h("button", { type: "button", class: "secondary" }, t(T.feedsNew));
    button.addEventListener("click", async () => {
      try {
        const r = await request("POST", "/api/v1/auth/feed-token");
        out.replaceChildren(r.feeds.length === 0 ? h("p", { class: "muted" }, t(T.feedsNone)) :
          h("ul", { class: "plain" }, r.feeds.map((f) => h("li", {}, t(f.name), " : ", h("code", { class: "secret" }, `${location.origin}${f.url}`)))));
      } catch (e) { out.replaceChildren(notice(e.message)); }
    });
    return h("section", { class: "panel", "aria-labelledby": "acc-feeds" }, h("h2", { id: "acc-feeds" }, t(T.feeds)),
      h("p", { class: "muted" }, t(T.feedsLead)), button, out);
  }
}

class SecurityCard extends HTMLElement {
  async connectedCallback() {
    try {
      const [me, { sessions }] = await Promise.all([currentMe(), request("GET", "/api/v1/auth/sessions")]);
      this.replaceChildren(
        h("p", {}, `${t(T.totp)} : `, h("strong", {}, me.second_factor ? "✓" : "✗"), " ", me.second_factor ? t(T.totpOn) : t(T.totpOff)),
        h("p", {}, sessions.length === 1 ? t(T.openOne) : `${sessions.length} ${t(T.open)}`),
        h("p", {}, h("a", { href: "#/portal.account" }, t(T.manage))));
    } catch (e) { this.replaceChildren(notice(e.message)); }
  }
}

customElements.get("ent-totp-enroll") || customElements.define("ent-totp-enroll", TotpEnroll);
customElements.get("ent-account-page") || customElements.define("ent-account-page", AccountPage);
customElements.get("ent-security-card") || customElements.define("ent-security-card", SecurityCard);
