// The messagerie's page and home widget (docs/web-ui.md, docs/modules/messagerie.md): folders with unread
// counts, a mailbox page, reading a message and its conversation, writing with a recipient picker (people,
// classes and groups, the school's profiles) and the preview of who will not receive it and why, reply,
// reply to all, forward, folders, trash, search. Built on the module's actions alone. Plain ES module.
import { call, t, h, notice, currentMe, currentChild, lang } from "/assets/shell/api.js";

const T = {
  mail: { fr: "Messagerie", en: "Mail" },
  folders: { fr: "Dossiers", en: "Folders" },
  inbox: { fr: "Boîte de réception", en: "Inbox" },
  sent: { fr: "Messages envoyés", en: "Sent" },
  trash: { fr: "Corbeille", en: "Trash" },
  write: { fr: "Nouveau message", en: "New message" },
  search: { fr: "Rechercher dans mes messages", en: "Search my mail" },
  searchBtn: { fr: "Rechercher", en: "Search" },
  results: { fr: "Résultats pour", en: "Results for" },
  empty: { fr: "Aucun message.", en: "No message." },
  unread: { fr: "non lu", en: "unread" },
  unreadN: { fr: "non lus", en: "unread" },
  more: { fr: "Messages plus anciens", en: "Older messages" },
  from: { fr: "De", en: "From" },
  to: { fr: "À", en: "To" },
  date: { fr: "Date", en: "Date" },
  back: { fr: "Retour à la liste", en: "Back to the list" },
  reply: { fr: "Répondre", en: "Reply" },
  replyAll: { fr: "Répondre à tous", en: "Reply to all" },
  forward: { fr: "Transférer", en: "Forward" },
  markUnread: { fr: "Marquer comme non lu", en: "Mark as unread" },
  moveTo: { fr: "Déplacer vers", en: "Move to" },
  move: { fr: "Déplacer", en: "Move" },
  remove: { fr: "Supprimer", en: "Delete" },
  restore: { fr: "Restaurer", en: "Restore" },
  destroy: { fr: "Supprimer définitivement", en: "Delete for good" },
  emptyTrash: { fr: "Vider la corbeille", en: "Empty the trash" },
  confirmEmpty: { fr: "Supprimer définitivement tous les messages de la corbeille ?", en: "Delete every message in the trash for good?" },
  thread: { fr: "Conversation", en: "Conversation" },
  showThread: { fr: "Voir toute la conversation", en: "Show the whole conversation" },
  attachments: { fr: "Pièces jointes", en: "Attachments" },
  attach: { fr: "Joindre des fichiers", en: "Attach files" },
  drafts: { fr: "Brouillons", en: "Drafts" },
  draft: { fr: "Brouillon", en: "Draft" },
  saveDraft: { fr: "Enregistrer le brouillon", en: "Save as draft" },
  draftSaved: { fr: "Brouillon enregistré", en: "Draft saved" },
  noSubject: { fr: "(sans objet)", en: "(no subject)" },
  receipts: { fr: "Lu par", en: "Read by" },
  receiptsDetail: { fr: "Voir qui l'a lu", en: "See who read it" },
  readAt: { fr: "lu le", en: "read on" },
  notRead: { fr: "pas encore lu", en: "not read yet" },
  recalled: { fr: "Message rappelé par son expéditeur.", en: "Message recalled by its sender." },
  recall: { fr: "Rappeler ce message", en: "Recall this message" },
  recalledDone: { fr: "Message rappelé", en: "Message recalled" },
  newFolder: { fr: "Nouveau dossier", en: "New folder" },
  folderName: { fr: "Nom du dossier", en: "Folder name" },
  create: { fr: "Créer", en: "Create" },
  deleteFolder: { fr: "Supprimer ce dossier", en: "Delete this folder" },
  confirmFolder: { fr: "Supprimer ce dossier ? Ses messages iront dans la corbeille.", en: "Delete this folder? Its messages go to the trash." },
  recipients: { fr: "Destinataires", en: "Recipients" },
  noRecipient: { fr: "Aucun destinataire choisi.", en: "No recipient chosen." },
  addFrom: { fr: "Classe ou groupe", en: "Class or group" },
  who: { fr: "Qui", en: "Who" },
  add: { fr: "Ajouter", en: "Add" },
  school: { fr: "Personnel de l'établissement", en: "School staff" },
  removeRecipient: { fr: "Retirer", en: "Remove" },
  whole: { fr: "Toute la classe ou le groupe", en: "The whole class or group" },
  members: { fr: "les élèves", en: "the pupils" },
  parents: { fr: "les parents", en: "the parents" },
  teachersOf: { fr: "les enseignants", en: "the teachers" },
  teachers: { fr: "Enseignants", en: "Teachers" },
  pupils: { fr: "Élèves", en: "Pupils" },
  subject: { fr: "Objet", en: "Subject" },
  body: { fr: "Message", en: "Message" },
  send: { fr: "Envoyer", en: "Send" },
  cancel: { fr: "Annuler", en: "Cancel" },
  sentOk: { fr: "Message envoyé à", en: "Message sent to" },
  people: { fr: "personne(s)", en: "person(s)" },
  previewTitle: { fr: "Qui recevra ce message", en: "Who will receive this message" },
  allowed: { fr: "recevront le message", en: "will receive it" },
  excluded: { fr: "Ne recevront pas ce message", en: "Will not receive this message" },
  skipped: { fr: "Ignorés (comptes inactifs)", en: "Skipped (inactive accounts)" },
  mass: { fr: "Message de masse : il sera tracé.", en: "Mass message: it will be recorded." },
  onlyAllowed: { fr: "Envoyer seulement aux destinataires autorisés", en: "Send to the allowed recipients only" },
  confirmNeeded: { fr: "Certains destinataires sont exclus : cochez la case pour envoyer aux autres.", en: "Some recipients are excluded: tick the box to send to the others." },
  replyPrefix: { fr: "RE : ", en: "RE: " },
  forwardPrefix: { fr: "TR : ", en: "FW: " },
  unreadCount: { fr: "message(s) non lu(s)", en: "unread message(s)" },
  open: { fr: "Ouvrir la messagerie", en: "Open the mail" },
  loading: { fr: "Chargement…", en: "Loading…" },
  recipientsN: { fr: "destinataires", en: "recipients" },
};

const PROFILES = {
  direction: { fr: "La direction", en: "The head's office" },
  vie_scolaire: { fr: "La vie scolaire", en: "Vie scolaire (pupil welfare)" },
  enseignant: { fr: "Tous les enseignants", en: "Every teacher" },
  documentaliste: { fr: "Le CDI (documentalistes)", en: "The library (librarians)" },
  administratif: { fr: "Le secrétariat", en: "The office staff" },
};

const BLOCKED = {
  outside_opening_hours: { fr: "Vous ne pouvez pas envoyer de message en dehors des horaires d'ouverture de la messagerie de l'établissement.",
                           en: "You cannot send messages outside the school's mail opening hours." },
  no_sender_profile: { fr: "Votre profil ne permet pas d'envoyer de message ici.", en: "Your profile cannot send messages here." },
};

const AUDIENCE = { members: T.members, parents: T.parents, teachers: T.teachersOf };
const SYSTEM = ["inbox", "sent", "trash"];

function styles() {
  if (document.querySelector("link[data-messagerie-css]")) return;
  document.head.append(h("link", { rel: "stylesheet", href: "/assets/modules/messagerie/web/messagerie.css", "data-messagerie-css": true }));
}

/** A server sentence "français / English" in the user's language. */
function bilingual(s) {
  const parts = String(s).split(" / ");
  return parts.length === 2 ? (lang() === "en" ? parts[1] : parts[0]) : s;
}

function when(iso, long = false) {
  const d = new Date(iso);
  const locale = lang() === "fr" ? "fr-FR" : "en-GB";
  const today = new Date().toDateString() === d.toDateString();
  if (long) return d.toLocaleString(locale, { dateStyle: "full", timeStyle: "short" });
  return today ? d.toLocaleTimeString(locale, { hour: "2-digit", minute: "2-digit" }) : d.toLocaleDateString(locale, { day: "numeric", month: "short" });
}

function folderName(f) {
  return SYSTEM.includes(f.folder) ? t(T[f.folder]) : f.name;
}

/** The text of an HTML body (a draft's), paragraphs as blank lines; parsed inertly, never shown as HTML. */
function htmlToText(html) {
  const doc = new DOMParser().parseFromString(html, "text/html");
  doc.querySelectorAll("br").forEach((b) => b.replaceWith("\n"));
  const blocks = [...doc.body.querySelectorAll("p, li, div")].filter((e) => !e.querySelector("p, li, div"));
  return (blocks.length ? blocks.map((b) => b.textContent).join("\n\n") : doc.body.textContent).trim();
}

/** Plain text as the HTML body the module sanitizes: escaped, paragraphs and line breaks kept. */
export function textToHtml(text) {
  const esc = (s) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
  return text.trim().split(/\n{2,}/).map((p) => `<p>${esc(p).replace(/\n/g, "<br>")}</p>`).join("");
}

let uid = 0;

class MailPage extends HTMLElement {
  connectedCallback() {
    styles();
    this.folder = this.folder ?? "inbox";
    this.refresh = () => this.render().catch((e) => this.replaceChildren(notice(e.message)));
    window.addEventListener("ent-lang-change", this.refresh);
    this.status = h("div", { class: "mail-status", "aria-live": "polite" });
    this.pane = h("div", { class: "mail-pane" });
    this.side = h("nav", { class: "mail-side panel", "aria-label": t(T.folders) });
    this.refresh();
  }
  disconnectedCallback() { window.removeEventListener("ent-lang-change", this.refresh); }

  async render() {
    this.replaceChildren(h("h1", {}, t(T.mail)), this.status, h("div", { class: "mail-layout" }, this.side, this.pane));
    await this.renderSide();
    const wanted = sessionStorage.getItem("messagerie.open");
    sessionStorage.removeItem("messagerie.open");
    if (wanted) await this.read(wanted); else await this.list(this.folder);
  }

  say(message, kind = "success") { this.status.replaceChildren(notice(message, kind)); }
  fail(e) { this.status.replaceChildren(notice(e.message)); }

  async renderSide() {
    const { folders, drafts } = await call("messagerie", "folders", {});
    this.folders = folders;
    const sid = `mail-search-${++uid}`;
    const query = h("input", { id: sid, type: "search", autocomplete: "off" });
    const search = h("form", { role: "search", class: "mail-search" },
      h("label", { for: sid }, t(T.search)),
      h("div", { class: "mail-row" }, query, h("button", { type: "submit", class: "secondary" }, t(T.searchBtn))));
    search.addEventListener("submit", (e) => { e.preventDefault(); if (query.value.trim()) this.search(query.value.trim()); });
    const fid = `mail-folder-${++uid}`;
    const name = h("input", { id: fid, maxlength: 100, required: true });
    const create = h("form", { class: "mail-newfolder" },
      h("label", { for: fid }, t(T.folderName)),
      h("div", { class: "mail-row" }, name, h("button", { type: "submit", class: "secondary" }, t(T.create))));
    create.addEventListener("submit", async (e) => {
      e.preventDefault();
      try { await call("messagerie", "create_folder", { name: name.value.trim() }); await this.renderSide(); } catch (err) { this.fail(err); }
    });
    this.side.setAttribute("aria-label", t(T.folders));
    this.side.replaceChildren(
      h("button", { type: "button", class: "primary mail-write", onclick: () => this.compose({}) }, t(T.write)),
      h("h2", { class: "visually-hidden" }, t(T.folders)),
      h("ul", { class: "mail-folders" }, [
        ...folders.map((f) => h("li", {},
          h("button", { type: "button", class: "mail-folder", "data-folder": f.folder, "aria-current": f.folder === this.folder ? "true" : false,
            onclick: () => this.list(f.folder) },
            h("span", {}, folderName(f)),
            f.unread > 0 ? h("span", { class: "mail-badge", "aria-label": `${f.unread} ${t(T.unreadN)}` }, String(f.unread)) : ""))),
        h("li", {}, h("button", { type: "button", class: "mail-folder", "data-folder": "drafts", "aria-current": this.folder === "drafts" ? "true" : false,
          onclick: () => this.listDrafts() },
          h("span", {}, t(T.drafts)), drafts > 0 ? h("span", { class: "mail-count muted" }, String(drafts)) : ""))]),
      search, h("details", { class: "mail-more" }, h("summary", {}, t(T.newFolder)), create));
  }

  markCurrent() {
    for (const b of this.side.querySelectorAll(".mail-folder")) {
      b.setAttribute("aria-current", b.dataset.folder === this.folder ? "true" : "false");
    }
  }

  entryList(entries, folder) {
    if (entries.length === 0) return h("p", { class: "muted" }, t(T.empty));
    return h("ul", { class: "mail-list" }, entries.map((e) => {
      const mine = e.sender === e.owner;
      return h("li", { class: e.unread ? "mail-item unread" : "mail-item" },
        h("button", { type: "button", class: "mail-open", "data-message": e.message, onclick: () => this.read(e.message) },
          h("span", { class: "mail-who" }, e.unread ? h("span", { class: "visually-hidden" }, `${t(T.unread)} : `) : "",
            mine && folder !== "inbox" ? `${t(T.to)} : ${e.recipient_count} ${t(T.recipientsN)}` : e.sender_name),
          h("span", { class: "mail-when" }, when(e.sent_at)),
          h("span", { class: "mail-subject" }, e.subject || "—", e.attachments ? " 📎" : ""),
          h("span", { class: "mail-snippet" }, e.recalled ? t(T.recalled) : e.snippet)));
    }));
  }

  async list(folder, cursor, into) {
    this.folder = folder;
    this.markCurrent();
    try {
      const page = await call("messagerie", "list", { folder, limit: 25, cursor: cursor ?? null });
      const f = this.folders.find((x) => x.folder === folder) ?? { folder, name: folder };
      const list = this.entryList(page.entries, folder);
      const more = page.next ? h("button", { type: "button", class: "secondary", onclick: () => this.list(folder, page.next, list) }, t(T.more)) : "";
      if (into && cursor) { into.replaceWith(h("div", {}, into, list)); return; }
      const tools = [];
      if (folder === "trash" && page.entries.length > 0) {
        tools.push(h("button", { type: "button", class: "secondary", onclick: async () => {
          if (!confirm(t(T.confirmEmpty))) return;
          try { await call("messagerie", "empty_trash", {}); await this.renderSide(); await this.list("trash"); } catch (e) { this.fail(e); }
        } }, t(T.emptyTrash)));
      }
      if (!SYSTEM.includes(folder)) {
        tools.push(h("button", { type: "button", class: "secondary", onclick: async () => {
          if (!confirm(t(T.confirmFolder))) return;
          try { await call("messagerie", "delete_folder", { id: folder }); this.folder = "inbox"; await this.renderSide(); await this.list("inbox"); } catch (e) { this.fail(e); }
        } }, t(T.deleteFolder)));
      }
      const hid = `mail-list-${++uid}`;
      this.pane.replaceChildren(h("section", { class: "panel", "aria-labelledby": hid },
        h("div", { class: "mail-head" }, h("h2", { id: hid }, folderName(f),
          page.unread > 0 ? h("span", { class: "muted" }, ` — ${page.unread} ${t(T.unreadN)}`) : ""), h("div", { class: "mail-tools" }, tools)),
        list, more));
    } catch (e) { this.fail(e); }
  }

  async listDrafts() {
    this.folder = "drafts";
    this.markCurrent();
    try {
      const { drafts } = await call("messagerie", "drafts", { limit: 50 });
      this.pane.replaceChildren(h("section", { class: "panel", "aria-labelledby": "mail-drafts" },
        h("h2", { id: "mail-drafts" }, t(T.drafts)),
        drafts.length === 0 ? h("p", { class: "muted" }, t(T.empty)) :
          h("ul", { class: "mail-list" }, drafts.map((d) => h("li", { class: "mail-item mail-draft" },
            h("button", { type: "button", class: "mail-open", onclick: () => this.compose({ draft: d }) },
              h("span", { class: "mail-subject" }, d.draft.subject || t(T.noSubject)),
              h("span", { class: "mail-when" }, when(d.draft.updated_at))),
            h("button", { type: "button", class: "link", onclick: () => this.act("delete_draft", { id: d.draft.id }, "drafts") },
              `${t(T.remove)} « ${d.draft.subject || t(T.noSubject)} »`))))));
    } catch (e) { this.fail(e); }
  }

  async search(query) {
    try {
      const { entries } = await call("messagerie", "search", { query, limit: 50 });
      this.folder = null;
      this.markCurrent();
      this.pane.replaceChildren(h("section", { class: "panel", "aria-labelledby": "mail-results" },
        h("h2", { id: "mail-results" }, `${t(T.results)} « ${query} »`), this.entryList(entries, "search")));
    } catch (e) { this.fail(e); }
  }

  messageView(opened, withActions) {
    const m = opened.message;
    const entry = opened.entry;
    const files = m.attachments.map((a, i) => h("li", {}, h("button", { type: "button", class: "link", onclick: () => download(m.id, i, a) },
      `${a.name} (${Math.max(1, Math.round(a.size / 1024))} ${lang() === "fr" ? "ko" : "KB"})`)));
    const article = h("article", { class: "panel mail-message", "aria-labelledby": `mail-m-${m.id}` },
      h("h2", { id: `mail-m-${m.id}` }, m.subject || "—"),
      h("dl", { class: "mail-meta" },
        h("dt", {}, t(T.from)), h("dd", {}, m.sender_name),
        h("dt", {}, t(T.to)), h("dd", {}, m.to.map((a) => a.label).join(", ")),
        h("dt", {}, t(T.date)), h("dd", {}, when(m.sent_at, true))),
      m.recalled_at && entry.owner !== m.sender ? notice(t(T.recalled), "info") : "",
      h("div", { class: "mail-body" }, m.body_text),
      files.length ? h("section", { "aria-label": t(T.attachments) }, h("h3", {}, t(T.attachments)), h("ul", {}, files)) : "");
    if (!withActions) return article;
    const b = (label, fn, cls = "secondary") => h("button", { type: "button", class: cls, onclick: fn }, t(label));
    const actions = h("div", { class: "mail-actions" });
    if (entry.folder === "trash") {
      actions.append(
        b(T.restore, () => this.act("restore", { messages: [m.id] }, "inbox")),
        b(T.destroy, () => this.act("delete", { messages: [m.id] }, "trash")));
    } else {
      actions.append(
        b(T.reply, () => this.compose({ reply: opened }), "primary"),
        m.to.length > 1 || m.recipient_count > 1 ? b(T.replyAll, () => this.compose({ reply: opened, all: true })) : "",
        b(T.forward, () => this.compose({ forward: opened })));
      if (entry.owner !== m.sender) actions.append(b(T.markUnread, () => this.act("mark", { messages: [m.id], unread: true }, entry.folder)));
      const own = this.folders.filter((f) => !SYSTEM.includes(f.folder) && f.folder !== entry.folder);
      const targets = [...(entry.owner !== m.sender && entry.folder !== "inbox" ? [{ folder: "inbox" }] : []),
        ...(entry.owner === m.sender && entry.folder !== "sent" ? [{ folder: "sent" }] : []), ...own];
      if (targets.length) {
        const sid = `mail-move-${m.id}`;
        const sel = h("select", { id: sid }, targets.map((f) => h("option", { value: f.folder }, folderName(f))));
        actions.append(h("span", { class: "mail-move" }, h("label", { for: sid }, t(T.moveTo)), sel,
          b(T.move, () => this.act("move", { messages: [m.id], to: sel.value }, entry.folder))));
      }
      actions.append(b(T.remove, () => this.act("move", { messages: [m.id], to: "trash" }, entry.folder)));
      if (entry.owner === m.sender && !m.recalled_at) {
        actions.append(b(T.recall, async () => {
          try {
            const r = await call("messagerie", "recall", { message: m.id });
            this.say(`${t(T.recalledDone)} (${r.removed})`);
            await this.read(m.id);
          } catch (e) { this.fail(e); }
        }));
      }
    }
    const receipts = entry.owner === m.sender && !m.recalled_at ? h("section", { class: "panel", "aria-labelledby": `mail-r-${m.id}` }) : "";
    if (receipts) this.receipts(m.id, receipts);
    return h("div", {}, h("button", { type: "button", class: "link mail-back", onclick: () => this.list(this.folder ?? "inbox") }, `← ${t(T.back)}`),
      article, actions, receipts,
      m.parent ? h("p", {}, h("button", { type: "button", class: "link", onclick: () => this.thread(m.thread) }, t(T.showThread))) : "");
  }

  /** The sender's view of who opened the message (`messagerie.receipts`), read first. */
  async receipts(id, into) {
    try {
      const { receipts } = await call("messagerie", "receipts", { message: id, limit: 500 });
      const read = receipts.filter((r) => r.read_at);
      const rows = [...read, ...receipts.filter((r) => !r.read_at)];
      into.replaceChildren(
        h("h3", { id: `mail-r-${id}` }, `${t(T.receipts)} : ${read.length} / ${receipts.length}`),
        h("details", {}, h("summary", {}, t(T.receiptsDetail)),
          h("ul", { class: "plain" }, rows.map((r) => h("li", {}, r.name, " — ",
            h("span", { class: "muted" }, r.read_at ? `${t(T.readAt)} ${when(r.read_at, true)}` : t(T.notRead)))))));
    } catch (e) { into.replaceChildren(notice(e.message)); }
  }

  async act(action, input, back) {
    try {
      await call("messagerie", action, input);
      await this.renderSide();
      if (back === "drafts") await this.listDrafts(); else await this.list(back);
    } catch (e) { this.fail(e); }
  }

  async read(id) {
    try {
      const opened = await call("messagerie", "open", { message: id });
      this.pane.replaceChildren(this.messageView(opened, true));
      this.pane.querySelector("h2")?.setAttribute("tabindex", "-1");
      this.pane.querySelector("h2")?.focus();
      await this.renderSide();
    } catch (e) { this.fail(e); }
  }

  async thread(id) {
    try {
      const { messages } = await call("messagerie", "thread", { thread: id });
      this.pane.replaceChildren(h("section", { "aria-labelledby": "mail-thread" },
        h("button", { type: "button", class: "link mail-back", onclick: () => this.list(this.folder ?? "inbox") }, `← ${t(T.back)}`),
        h("h2", { id: "mail-thread" }, `${t(T.thread)} (${messages.length})`),
        messages.map((o) => this.messageView(o, false))));
    } catch (e) { this.fail(e); }
  }

  async compose({ reply, all, forward, draft }) {
    this.status.replaceChildren();
    const picker = new Picker(() => preview.refresh());
    const original = reply?.message ?? forward?.message;
    const d = draft?.draft;
    let saved = draft ? { id: d.id, version: draft.version } : null;
    const replyTo = reply?.message.id ?? d?.reply_to ?? null;
    const forwardOf = forward?.message.id ?? d?.forward_of ?? null;
    all = all ?? d?.reply_all ?? false;
    const subject = h("input", { id: "mail-subject", maxlength: 200,
      value: d ? d.subject : original ? `${t(reply ? T.replyPrefix : T.forwardPrefix)}${original.subject.replace(/^(RE|TR|FW) ?: ?/i, "")}` : "" });
    const body = h("textarea", { id: "mail-body", rows: 10 });
    if (d) body.value = htmlToText(d.body_html);
    const files = new Attachments((e) => this.fail(e));
    if (d) { files.list = d.attachments.map((a) => ({ blob: a.blob, name: a.name, content_type: a.content_type })); files.draw(); }
    if (d?.to.length) {
      // The draft keeps addresses only: the preview gives them their labels back.
      const p = await call("messagerie", "preview", { to: d.to }).catch(() => null);
      picker.chosen = d.to.map((address, i) => ({ address, label: p?.to[i]?.label ?? address.kind }));
    }
    const preview = new PreviewBox(() => ({ to: picker.addresses(), reply_to: replyTo, reply_all: !!all }));
    const saveDraft = async () => {
      try {
        saved = await call("messagerie", "save_draft", {
          id: saved?.id ?? null, version: saved?.version ?? null, to: picker.addresses(), subject: subject.value.trim(),
          body: textToHtml(body.value), attachments: files.list, reply_to: replyTo, reply_all: !!all, forward_of: forwardOf,
        });
        await this.renderSide();
        this.markCurrent();
        this.say(t(T.draftSaved));
      } catch (e) { this.fail(e); }
    };
    const form = h("form", { class: "mail-compose", novalidate: true },
      reply ? h("p", { class: "muted" }, `${t(T.to)} : ${reply.message.sender_name}${all ? " …" : ""}`) : "",
      await picker.element(),
      preview.el,
      h("div", { class: "field" }, h("label", { for: "mail-subject" }, t(T.subject)), subject),
      h("div", { class: "field" }, h("label", { for: "mail-body" }, t(T.body)), body),
      forward?.message.attachments.length ? h("p", { class: "muted" }, `${t(T.attachments)} : ${forward.message.attachments.map((a) => a.name).join(", ")}`) : "",
      files.el,
      h("div", { class: "mail-actions" },
        h("button", { type: "submit", class: "primary" }, t(T.send)),
        h("button", { type: "button", class: "secondary mail-save-draft", onclick: saveDraft }, t(T.saveDraft)),
        h("button", { type: "button", class: "secondary", onclick: () => this.list(this.folder ?? "inbox") }, t(T.cancel))));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const p = await preview.refresh();
      if (!p) return;
      if (p.excluded.length > 0 && !preview.confirmed()) {
        this.status.replaceChildren(notice(t(T.confirmNeeded)));
        preview.focusConfirm();
        return;
      }
      try {
        const out = await call("messagerie", "send", {
          to: picker.addresses(), subject: subject.value.trim(), body: textToHtml(body.value), attachments: files.list,
          reply_to: replyTo, reply_all: !!all, forward_of: forwardOf, draft: saved?.id ?? null,
          only_allowed: preview.confirmed(),
        });
        this.folder = "sent";
        await this.renderSide();
        await this.list("sent");
        this.say(`${t(T.sentOk)} ${out.recipients} ${t(T.people)}`);
      } catch (err) { this.fail(err); }
    });
    const hid = "mail-compose-h";
    this.pane.replaceChildren(h("section", { class: "panel", "aria-labelledby": hid },
      h("h2", { id: hid }, d ? t(T.draft) : reply ? t(all ? T.replyAll : T.reply) : forward ? t(T.forward) : t(T.write)), form));
    if (replyTo || d?.to.length) await preview.refresh();
    (reply ? body : this.pane.querySelector("select, input"))?.focus();
  }
}

async function download(message, index, a) {
  const { data } = await call("messagerie", "download", { message, index });
  const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
  const url = URL.createObjectURL(new Blob([bytes], { type: a.content_type }));
  const link = h("a", { href: url, download: a.name });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

/** Files to attach: each is uploaded when chosen (`messagerie.upload`), then named in the message. */
class Attachments {
  constructor(fail) {
    this.list = [];
    this.fail = fail;
    this.items = h("ul", { class: "mail-chips", "aria-live": "polite" });
    const input = h("input", { type: "file", id: "mail-files", multiple: true });
    input.addEventListener("change", async () => {
      for (const file of input.files) {
        try {
          const data = await new Promise((resolve, reject) => {
            const reader = new FileReader();
            reader.onload = () => resolve(String(reader.result).split(",")[1] ?? "");
            reader.onerror = () => reject(reader.error);
            reader.readAsDataURL(file);
          });
          const { blob } = await call("messagerie", "upload", { data });
          this.list.push({ blob, name: file.name, content_type: file.type || "application/octet-stream" });
        } catch (e) { this.fail(e); }
      }
      input.value = "";
      this.draw();
    });
    this.el = h("div", { class: "field mail-files" }, h("label", { for: "mail-files" }, t(T.attach)), input, this.items);
  }
  draw() {
    this.items.replaceChildren(...this.list.map((a, i) => h("li", { class: "mail-chip" }, `📎 ${a.name}`,
      h("button", { type: "button", class: "mail-chip-x", "aria-label": `${t(T.removeRecipient)} ${a.name}`,
        onclick: () => { this.list.splice(i, 1); this.draw(); } }, "×"))));
  }
}

/** The recipient picker: classes and groups (whole, or a person in them) and the school's staff. */
class Picker {
  constructor(onchange) {
    this.chosen = [];
    this.onchange = onchange;
    this.chips = h("ul", { class: "mail-chips", "aria-live": "polite" });
  }

  addresses() { return this.chosen.map((c) => c.address); }

  add(address, label) {
    const key = JSON.stringify(address);
    if (this.chosen.some((c) => JSON.stringify(c.address) === key)) return;
    this.chosen.push({ address, label });
    this.draw();
    this.onchange();
  }

  draw() {
    this.chips.replaceChildren(...(this.chosen.length === 0 ? [h("li", { class: "muted" }, t(T.noRecipient))] :
      this.chosen.map((c, i) => h("li", { class: "mail-chip" }, c.label,
        h("button", { type: "button", class: "mail-chip-x", "aria-label": `${t(T.removeRecipient)} ${c.label}`,
          onclick: () => { this.chosen.splice(i, 1); this.draw(); this.onchange(); } }, "×")))));
  }

  async units() {
    const me = await currentMe();
    if (me.profiles.includes("responsable") && me.children.length > 0) {
      const all = [];
      for (const c of me.children) {
        const { units } = await call("portal", "my_classes", { child: c.id });
        for (const u of units) if (!all.some((x) => x.id === u.id)) all.push({ ...u, child: c.display_name });
      }
      const first = currentChild();
      return all.sort((a, b) => (b.child === first) - (a.child === first));
    }
    const { units } = await call("portal", "my_classes", {});
    return units;
  }

  async element() {
    this.draw();
    const me = await currentMe();
    const parent = me.profiles.includes("responsable");
    const units = await this.units().catch(() => []);
    const unitSel = h("select", { id: "mail-unit" }, units.map((u, i) =>
      h("option", { value: i }, u.child ? `${u.name} (${u.child})` : u.name)));
    const whoSel = h("select", { id: "mail-who" });
    const fill = async () => {
      const u = units[Number(unitSel.value)];
      whoSel.replaceChildren();
      if (!u) return;
      const whole = h("optgroup", { label: t(T.whole) });
      const audiences = parent ? ["teachers"] : ["members", "parents", "teachers"];
      for (const a of audiences) {
        whole.append(h("option", { value: JSON.stringify({ kind: u.kind, id: u.id, audience: a }), "data-label": `${u.name} — ${t(AUDIENCE[a])}` },
          `${u.name} — ${t(AUDIENCE[a])}`));
      }
      whoSel.append(whole);
      try {
        const r = await call("portal", "unit_members", { kind: u.kind, id: u.id });
        if (r.teachers.length) {
          whoSel.append(h("optgroup", { label: t(T.teachers) }, r.teachers.map((x) => {
            const label = `${x.person.display_name}${x.subjects.length ? ` (${x.subjects.join(", ").toLowerCase()})` : ""}`;
            return h("option", { value: JSON.stringify({ kind: "user", id: x.person.id }), "data-label": x.person.display_name }, label);
          })));
        }
        if (!parent && r.members.length) {
          whoSel.append(h("optgroup", { label: t(T.pupils) }, r.members.map((p) =>
            h("option", { value: JSON.stringify({ kind: "user", id: p.id }), "data-label": p.display_name }, p.display_name))));
        }
      } catch (_) { /* members are a convenience: the whole-group choices stay */ }
    };
    unitSel.addEventListener("change", fill);
    await fill();
    const addUnit = h("button", { type: "button", class: "secondary", onclick: () => {
      const o = whoSel.selectedOptions[0];
      if (o) this.add(JSON.parse(o.value), o.dataset.label);
    } }, t(T.add));
    const staffSel = h("select", { id: "mail-staff" }, Object.entries(PROFILES)
      .filter(([p]) => p !== "enseignant" || me.profiles.some((x) => x !== "eleve" && x !== "responsable"))
      .map(([p, l]) => h("option", { value: p }, t(l))));
    const addStaff = h("button", { type: "button", class: "secondary", onclick: () => {
      const o = staffSel.selectedOptions[0];
      if (o) this.add({ kind: "structure", profile: o.value }, o.textContent);
    } }, t(T.add));
    return h("fieldset", { class: "mail-picker" },
      h("legend", {}, t(T.recipients)),
      this.chips,
      units.length ? h("div", { class: "mail-pick-row" },
        h("div", { class: "field" }, h("label", { for: "mail-unit" }, t(T.addFrom)), unitSel),
        h("div", { class: "field" }, h("label", { for: "mail-who" }, t(T.who)), whoSel), addUnit) : "",
      h("div", { class: "mail-pick-row" },
        h("div", { class: "field" }, h("label", { for: "mail-staff" }, t(T.school)), staffSel), addStaff));
  }
}

/** The preview of a message being written: who receives it, who does not and why. */
class PreviewBox {
  constructor(input) {
    this.input = input;
    this.el = h("section", { class: "mail-preview", "aria-live": "polite", "aria-label": t(T.previewTitle) });
    this.box = null;
  }
  confirmed() { return !!this.box?.checked; }
  focusConfirm() { this.box?.focus(); }
  async refresh() {
    const input = this.input();
    if (input.to.length === 0 && !input.reply_to) { this.el.replaceChildren(); this.last = null; return null; }
    try {
      const p = await call("messagerie", "preview", input);
      const r = p; // the resolution's fields are flattened into the preview
      const was = this.confirmed();
      const parts = [h("h3", {}, t(T.previewTitle)),
        h("p", { class: "mail-allowed" }, h("strong", { "data-allowed": r.allowed.length }, String(r.allowed.length)), ` ${t(T.people)} ${t(T.allowed)}`,
          r.allowed.length > 0 && r.allowed.length <= 8 ? ` : ${r.allowed.map((x) => x.name).join(", ")}` : "")];
      if (r.blocked) parts.push(notice(t(BLOCKED[r.blocked] ?? { fr: r.blocked })));
      if (p.mass) parts.push(h("p", { class: "muted" }, t(T.mass)));
      if (r.excluded.length) {
        parts.push(h("div", { class: "notice error mail-excluded", role: "alert" },
          h("p", {}, h("strong", {}, t(T.excluded))),
          h("ul", {}, r.excluded.map((x) => h("li", { "data-reason": x.reason }, h("strong", {}, x.name ?? x.label), ` — ${bilingual(x.message)}`)))));
        this.box = h("input", { type: "checkbox", id: "mail-only-allowed", checked: was });
        parts.push(h("p", { class: "mail-confirm" }, this.box, " ", h("label", { for: "mail-only-allowed" }, t(T.onlyAllowed))));
      } else this.box = null;
      if (r.skipped.length) {
        parts.push(h("details", {}, h("summary", {}, `${t(T.skipped)} (${r.skipped.length})`),
          h("ul", {}, r.skipped.map((x) => h("li", {}, `${x.name ?? x.label} — ${bilingual(x.message)}`)))));
      }
      this.el.replaceChildren(...parts);
      this.last = p;
      return p;
    } catch (e) { this.el.replaceChildren(notice(e.message)); return null; }
  }
}

class MailWidget extends HTMLElement {
  connectedCallback() {
    styles();
    this.refresh = () => this.render().catch((e) => this.replaceChildren(notice(e.message)));
    window.addEventListener("ent-lang-change", this.refresh);
    this.refresh();
  }
  disconnectedCallback() { window.removeEventListener("ent-lang-change", this.refresh); }
  async render() {
    const [{ inbox }, page] = await Promise.all([call("messagerie", "unread", {}), call("messagerie", "list", { folder: "inbox", limit: 4 })]);
    this.replaceChildren(
      h("p", { class: "mail-unread" }, h("strong", { class: "figure", "data-unread": inbox }, String(inbox)), ` ${t(T.unreadCount)}`),
      page.entries.length === 0 ? h("p", { class: "muted" }, t(T.empty)) :
        h("ul", { class: "plain" }, page.entries.map((e) => h("li", { class: e.unread ? "unread" : "" },
          h("a", { href: "#/messagerie.mail", onclick: () => sessionStorage.setItem("messagerie.open", e.message) },
            e.unread ? h("span", { class: "visually-hidden" }, `${t(T.unread)} : `) : "", e.subject || "—"),
          h("br"), h("span", { class: "muted" }, `${e.sender_name} · ${when(e.sent_at)}`)))),
      h("p", {}, h("a", { href: "#/messagerie.mail" }, t(T.open))));
  }
}

customElements.get("messagerie-page") || customElements.define("messagerie-page", MailPage);
customElements.get("messagerie-latest") || customElements.define("messagerie-latest", MailWidget);
