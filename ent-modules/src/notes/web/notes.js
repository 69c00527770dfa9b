// The notes module's pages (docs/web-ui.md, docs/modules/notes.md): the grades of a pupil (or of a parent's
// selected child) per period, the teacher's grid with grade entry for a whole class in one call, the class
// averages of direction, and the home widget of the latest grades. Plain ES module, no build step.
import { call, t, h, notice, currentChild, currentMe, lang } from "/assets/shell/api.js";

const T = {
  grades: { fr: "Mes notes", en: "My grades" },
  gradesOf: { fr: "Notes de", en: "Grades of" },
  period: { fr: "Période", en: "Period" },
  trimestre: { fr: "Trimestre", en: "Term" },
  closed: { fr: "clôturée", en: "closed" },
  noPeriod: { fr: "Aucune période n'est définie pour cette année.", en: "No period is set for this year." },
  general: { fr: "Moyenne générale", en: "Overall average" },
  average: { fr: "Moyenne", en: "Average" },
  classAvg: { fr: "Moyenne de la classe", en: "Class average" },
  classShort: { fr: "Classe", en: "Class" },
  min: { fr: "min.", en: "min" },
  max: { fr: "max.", en: "max" },
  rank: { fr: "Rang", en: "Rank" },
  coef: { fr: "coef.", en: "coef." },
  coefficient: { fr: "Coefficient", en: "Coefficient" },
  date: { fr: "Date", en: "Date" },
  evaluation: { fr: "Évaluation", en: "Assessment" },
  grade: { fr: "Note", en: "Grade" },
  noGrade: { fr: "Aucune note pour cette période.", en: "No grade for this period." },
  noAverage: { fr: "pas de moyenne", en: "no average" },
  notCounted: { fr: "non comptée", en: "not counted" },
  optional: { fr: "facultative", en: "optional" },
  bonus: { fr: "bonus", en: "bonus" },
  unpublished: { fr: "non publiée", en: "not published" },
  noChild: { fr: "Choisissez un enfant dans l'en-tête.", en: "Choose a child in the header." },
  latestNone: { fr: "Pas encore de note cette période.", en: "No grade yet this period." },
  seeAll: { fr: "Toutes les notes", en: "All grades" },
  grid: { fr: "Saisie des notes", en: "Grade entry" },
  teaching: { fr: "Classe et matière", en: "Class and subject" },
  noTeaching: { fr: "Vous n'avez aucun enseignement cette année.", en: "You teach no class this year." },
  pupil: { fr: "Élève", en: "Pupil" },
  newEval: { fr: "Nouvelle évaluation", en: "New assessment" },
  title: { fr: "Intitulé", en: "Title" },
  scale: { fr: "Noté sur", en: "Out of" },
  kind: { fr: "Type", en: "Kind" },
  kinds: { normal: { fr: "normale", en: "ordinary" }, optional: { fr: "facultative", en: "optional" }, bonus: { fr: "bonus", en: "bonus" } },
  create: { fr: "Créer l'évaluation", en: "Create the assessment" },
  created: { fr: "Évaluation créée : saisissez les notes ci-dessous.", en: "Assessment created: enter the grades below." },
  enter: { fr: "Saisir les notes", en: "Enter grades" },
  entering: { fr: "Notes de l'évaluation", en: "Grades of the assessment" },
  chooseEval: { fr: "Évaluation à saisir", en: "Assessment to grade" },
  none: { fr: "—", en: "—" },
  save: { fr: "Enregistrer les notes", en: "Save the grades" },
  saved: { fr: "Notes enregistrées", en: "Grades saved" },
  entryHint: {
    fr: "Une note (12,5) ou un code : Abs (absent), Disp (dispensé), NN (non noté), Inap (inapte), NR (non rendu), AbsZ et NRZ (comptent 0). Vide : pas de note.",
    en: "A grade (12.5) or a code: Abs (absent), Disp (exempt), NN (not graded), Inap (unfit), NR (not handed in), AbsZ and NRZ (count as 0). Empty: no grade.",
  },
  badMark: { fr: "Note illisible pour", en: "Unreadable grade for" },
  noEval: { fr: "Aucune évaluation pour cette période : créez-en une.", en: "No assessment this period: create one." },
  classes: { fr: "Moyennes des classes", en: "Class averages" },
  klass: { fr: "Classe", en: "Class" },
  noClass: { fr: "Aucune classe à afficher.", en: "No class to show." },
  pupils: { fr: "élèves", en: "pupils" },
  statsRow: { fr: "Classe (moy. / min. / max.)", en: "Class (mean / min / max)" },
};

const STATUSES = ["Abs", "Disp", "NN", "Inap", "NR", "AbsZ", "NRZ"];
const STATUS_LABEL = {
  Abs: { fr: "Absent", en: "Absent" }, Disp: { fr: "Dispensé", en: "Exempt" }, NN: { fr: "Non noté", en: "Not graded" },
  Inap: { fr: "Inapte", en: "Unfit" }, NR: { fr: "Non rendu", en: "Not handed in" },
  AbsZ: { fr: "Absent (0)", en: "Absent (0)" }, NRZ: { fr: "Non rendu (0)", en: "Not handed in (0)" },
};

/** Loads the module's stylesheet once (a declared asset: the CSP allows same-origin styles only). */
function styles() {
  if (document.querySelector("link[data-notes-css]")) return;
  document.head.append(h("link", { rel: "stylesheet", href: "/assets/modules/notes/web/notes.css", "data-notes-css": true }));
}

/** A decimal as the user reads it: "12,5" in French. */
function num(s) {
  if (s == null) return "";
  return lang() === "fr" ? String(s).replace(".", ",") : String(s);
}

function shown(v) { return v ? num(v.shown) : "—"; }

function dateText(d) {
  return new Date(`${d}T12:00:00`).toLocaleDateString(lang() === "fr" ? "fr-FR" : "en-GB", { day: "numeric", month: "short" });
}

function gradeText(g, scale) {
  if (!g) return "—";
  if (g.status) return g.status;
  return `${num(g.value)}/${scale}`;
}

function periodLabel(p) {
  return `${t(T.trimestre)} ${p.index}${p.closed ? ` (${t(T.closed)})` : ""}`;
}

/** The periods of the year and the one to show first: the one containing today, else the last begun. */
async function periods() {
  const list = await call("notes", "periods", {});
  const today = new Date().toISOString().slice(0, 10);
  const current = list.find((p) => p.start <= today && today <= p.end)
    ?? [...list].reverse().find((p) => p.start <= today) ?? list[0];
  return { list, current: current ? current.index : null };
}

let uid = 0;
function periodSelect(list, selected, onchange) {
  const id = `notes-period-${++uid}`;
  const select = h("select", { id }, list.map((p) => h("option", { value: p.index, selected: p.index === selected }, periodLabel(p))));
  select.addEventListener("change", () => onchange(Number(select.value)));
  return h("div", { class: "field notes-inline" }, h("label", { for: id }, t(T.period)), select);
}

function statsText(s) {
  if (!s) return "";
  return `${t(T.classShort)} ${num(s.mean.shown)} · ${t(T.min)} ${num(s.min.shown)} · ${t(T.max)} ${num(s.max.shown)}`;
}

/** Who the grades are of: the pupil themself, or a parent's selected child. */
async function subject() {
  const me = await currentMe();
  if (me.profiles.includes("responsable") && me.children.length > 0) {
    const id = currentChild() || me.children[0].id;
    const child = me.children.find((c) => c.id === id) || me.children[0];
    return { pupil: child.id, name: child.display_name };
  }
  return { pupil: null, name: null };
}

class Base extends HTMLElement {
  connectedCallback() {
    styles();
    this.refresh = () => this.render().catch((e) => this.replaceChildren(notice(e.message)));
    window.addEventListener("ent-lang-change", this.refresh);
    window.addEventListener("ent-child-change", this.refresh);
    this.refresh();
  }
  disconnectedCallback() {
    window.removeEventListener("ent-lang-change", this.refresh);
    window.removeEventListener("ent-child-change", this.refresh);
  }
}

// ---- pupils and parents ---------------------------------------------------------------------------------

class GradesPage extends Base {
  async render() {
    const who = await subject();
    const { list, current } = await periods();
    const heading = h("h1", {}, who.name ? `${t(T.gradesOf)} ${who.name}` : t(T.grades));
    if (current == null) { this.replaceChildren(heading, notice(t(T.noPeriod), "info")); return; }
    this.period = this.period ?? current;
    const body = h("div", { "aria-live": "polite" });
    const show = async (index) => {
      this.period = index;
      try {
        const input = { period: index };
        if (who.pupil) input.pupil = who.pupil;
        body.replaceChildren(period(await call("notes", "pupil_period", input)));
      } catch (e) { body.replaceChildren(notice(e.message)); }
    };
    this.replaceChildren(heading, periodSelect(list, this.period, show), body);
    await show(this.period);
  }
}

function period(p) {
  const out = h("div", { class: "notes-period" });
  const summary = h("dl", { class: "figures notes-summary" },
    h("div", {}, h("dt", {}, t(T.general)), h("dd", { class: "figure", "data-general": p.general?.shown ?? "" }, p.general ? num(p.general.shown) : "—")));
  if (p.general_class) {
    summary.append(h("div", {}, h("dt", {}, t(T.classAvg)), h("dd", { class: "figure" }, num(p.general_class.mean.shown))));
  }
  if (p.rank) summary.append(h("div", {}, h("dt", {}, t(T.rank)), h("dd", { class: "figure" }, String(p.rank))));
  out.append(h("section", { class: "panel", "aria-label": t(T.general) }, h("p", { class: "muted" }, `${p.class.name} — ${periodLabel(p.period)}`), summary));
  const graded = p.subjects.filter((s) => s.evaluations.length > 0);
  if (graded.length === 0) { out.append(notice(t(T.noGrade), "info")); return out; }
  for (const s of graded) {
    const hid = `notes-s-${s.subject.id}`;
    const rows = s.evaluations.map((e) => {
      const ev = e.evaluation;
      const tags = [];
      if (ev.kind !== "normal") tags.push(t(T[ev.kind]));
      if (e.grade && !e.grade.counted && !e.grade.status) tags.push(t(T.notCounted));
      return h("tr", {},
        h("td", {}, dateText(ev.date)),
        h("th", { scope: "row" }, ev.title, tags.length ? h("span", { class: "notes-tag" }, ` ${tags.join(", ")}`) : null,
          e.grade?.comment ? h("span", { class: "muted notes-comment" }, e.grade.comment) : null),
        h("td", { class: "notes-num" }, h("strong", {}, gradeText(e.grade, ev.scale))),
        h("td", { class: "notes-num" }, num(ev.coefficient)),
        h("td", { class: "notes-num muted" }, ev.stats ? `${num(ev.stats.mean.shown)}` : ""));
    });
    out.append(h("section", { class: "panel notes-subject", "aria-labelledby": hid },
      h("div", { class: "notes-subject-head" },
        h("h2", { id: hid }, s.subject.label),
        h("p", { class: "notes-avg" }, h("span", { class: "muted" }, `${t(T.average)} `),
          h("strong", { class: "figure" }, s.average ? num(s.average.shown) : t(T.noAverage)))),
      s.class ? h("p", { class: "muted notes-stats" }, statsText(s.class), s.rank ? ` · ${t(T.rank)} ${s.rank}` : "") : null,
      h("div", { class: "notes-scroll" }, h("table", { class: "notes-table" },
        h("caption", { class: "visually-hidden" }, `${s.subject.label} — ${t(T.evaluation)}`),
        h("thead", {}, h("tr", {},
          h("th", { scope: "col" }, t(T.date)), h("th", { scope: "col" }, t(T.evaluation)),
          h("th", { scope: "col", class: "notes-num" }, t(T.grade)), h("th", { scope: "col", class: "notes-num" }, t(T.coef)),
          h("th", { scope: "col", class: "notes-num" }, t(T.classShort)))),
        h("tbody", {}, rows)))));
  }
  return out;
}

class LatestGrades extends Base {
  async render() {
    const who = await subject();
    const { current } = await periods();
    if (current == null) { this.replaceChildren(h("p", { class: "muted" }, t(T.noPeriod))); return; }
    const input = { period: current };
    if (who.pupil) input.pupil = who.pupil;
    const p = await call("notes", "pupil_period", input);
    const latest = p.subjects.flatMap((s) => s.evaluations.filter((e) => e.grade).map((e) => ({ s, e })))
      .sort((a, b) => b.e.evaluation.date.localeCompare(a.e.evaluation.date) || a.s.subject.label.localeCompare(b.s.subject.label))
      .slice(0, 5);
    const general = p.general ? h("p", {}, `${t(T.general)} : `, h("strong", {}, num(p.general.shown))) : null;
    this.replaceChildren(
      who.name ? h("p", { class: "muted" }, who.name) : "",
      general ?? "",
      latest.length === 0 ? h("p", { class: "muted" }, t(T.latestNone)) :
        h("ul", { class: "plain" }, latest.map(({ s, e }) => h("li", { class: "notes-latest-item" },
          h("span", {}, h("strong", {}, s.subject.label), " — ", e.evaluation.title, h("span", { class: "muted" }, ` (${dateText(e.evaluation.date)})`)),
          h("strong", { class: "notes-num" }, gradeText(e.grade, e.evaluation.scale))))),
      h("p", {}, h("a", { href: "#/notes.grades" }, t(T.seeAll))));
  }
}

// ---- teachers ---------------------------------------------------------------------------------------------

/** Reads what a teacher typed in a grade field: a number (comma or point), a status code, or nothing. */
export function parseMark(text) {
  const s = text.trim();
  if (s === "") return {};
  const status = STATUSES.find((c) => c.toLowerCase() === s.toLowerCase());
  if (status) return { status };
  if (!/^\d{1,3}([.,]\d{1,2})?$/.test(s)) return null;
  return { value: s.replace(",", ".") };
}

class GridPage extends Base {
  async render() {
    const [rows, { list, current }] = await Promise.all([call("notes", "my_teachings", {}), periods()]);
    const teachings = rows.map((r) => ({ unit: r.unit.unit, name: r.unit.name, subject: r.subject, principal: r.principal }));
    const heading = h("h1", {}, t(T.grid));
    if (teachings.length === 0) { this.replaceChildren(heading, notice(t(T.noTeaching), "info")); return; }
    if (current == null) { this.replaceChildren(heading, notice(t(T.noPeriod), "info")); return; }
    this.period = this.period ?? current;
    this.choice = this.choice ?? 0;
    const body = h("div", {});
    const status = h("div", { "aria-live": "polite" });
    const tid = `notes-teaching-${++uid}`;
    const select = h("select", { id: tid }, teachings.map((x, i) =>
      h("option", { value: i, selected: i === this.choice }, `${x.name} — ${x.subject.label}`)));
    const load = async () => {
      const x = teachings[this.choice];
      try {
        const grid = await call("notes", "teacher_grid", { unit: x.unit, subject: x.subject.id, period: this.period });
        body.replaceChildren(...this.gridView(grid, x, list, status, load));
      } catch (e) { body.replaceChildren(notice(e.message)); }
    };
    select.addEventListener("change", () => { this.choice = Number(select.value); this.editing = null; load(); });
    this.replaceChildren(heading,
      h("div", { class: "notes-controls" },
        h("div", { class: "field notes-inline" }, h("label", { for: tid }, t(T.teaching)), select),
        periodSelect(list, this.period, (i) => { this.period = i; this.editing = null; load(); })),
      status, body);
    await load();
  }

  gridView(grid, x, list, status, reload) {
    const evals = grid.evaluations;
    const closed = grid.period.closed;
    const table = h("table", { class: "notes-table notes-grid" },
      h("caption", {}, `${grid.unit.name} — ${grid.subject.label} — ${periodLabel(grid.period)}`),
      h("thead", {}, h("tr", {},
        h("th", { scope: "col" }, t(T.pupil)),
        evals.map((e) => h("th", { scope: "col", class: "notes-num" },
          h("span", { class: "notes-eval-title" }, e.title), h("br"),
          h("span", { class: "muted" }, `${dateText(e.date)} · /${e.scale} · ${t(T.coef)} ${num(e.coefficient)}`),
          e.published ? "" : h("span", { class: "notes-tag" }, ` ${t(T.unpublished)}`))),
        h("th", { scope: "col", class: "notes-num" }, t(T.average)),
        h("th", { scope: "col", class: "notes-num" }, t(T.rank)))),
      h("tbody", {}, grid.pupils.map((r) => h("tr", {},
        h("th", { scope: "row" }, r.pupil.name),
        r.grades.map((g, i) => h("td", { class: "notes-num" }, gradeText(g, evals[i].scale))),
        h("td", { class: "notes-num" }, h("strong", {}, shown(r.average))),
        h("td", { class: "notes-num" }, r.rank ? String(r.rank) : "")))),
      grid.class ? h("tfoot", {}, h("tr", {},
        h("th", { scope: "row" }, t(T.statsRow)),
        evals.map((e) => h("td", { class: "notes-num muted" }, e.stats ? `${num(e.stats.mean.shown)} / ${num(e.stats.min.shown)} / ${num(e.stats.max.shown)}` : "")),
        h("td", { class: "notes-num" }, `${num(grid.class.mean.shown)} / ${num(grid.class.min.shown)} / ${num(grid.class.max.shown)}`),
        h("td", {}))) : null);
    const parts = [h("div", { class: "panel notes-scroll" }, evals.length === 0 ? notice(t(T.noEval), "info") : table)];
    if (!closed) {
      parts.push(this.entryForm(grid, status, reload));
      parts.push(this.createForm(grid, x, status, reload));
    }
    return parts;
  }

  entryForm(grid, status, reload) {
    const evals = grid.evaluations;
    const section = h("section", { class: "panel", "aria-labelledby": "notes-entry-h" }, h("h2", { id: "notes-entry-h" }, t(T.enter)));
    if (evals.length === 0) { section.append(h("p", { class: "muted" }, t(T.noEval))); return section; }
    const idx = this.editing != null ? Math.max(0, evals.findIndex((e) => e.id === this.editing)) : evals.length - 1;
    const ev = evals[idx];
    const sel = h("select", { id: "notes-entry-eval" }, evals.map((e, i) =>
      h("option", { value: e.id, selected: i === idx }, `${e.title} (${dateText(e.date)}, /${e.scale})`)));
    sel.addEventListener("change", () => { this.editing = sel.value; reload(); });
    const inputs = grid.pupils.map((r, n) => {
      const g = r.grades[idx];
      const value = g ? (g.status ?? num(g.value)) : "";
      const input = h("input", { id: `notes-mark-${n}`, name: r.pupil.id, value, inputmode: "decimal", autocomplete: "off",
        "aria-describedby": "notes-entry-hint", class: "notes-mark", size: 5 });
      return { r, input };
    });
    const form = h("form", { class: "notes-entry", novalidate: true },
      h("div", { class: "field" }, h("label", { for: "notes-entry-eval" }, t(T.chooseEval)), sel),
      h("p", { id: "notes-entry-hint", class: "hint" }, t(T.entryHint)),
      h("table", { class: "notes-table" },
        h("caption", { class: "visually-hidden" }, `${t(T.entering)} ${ev.title}`),
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t(T.pupil)), h("th", { scope: "col" }, `${t(T.grade)} /${ev.scale}`))),
        h("tbody", {}, inputs.map(({ r, input }) => h("tr", {},
          h("th", { scope: "row" }, h("label", { for: input.id }, r.pupil.name)), h("td", {}, input))))),
      h("button", { type: "submit", class: "primary" }, t(T.save)));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const grades = [];
      for (const { r, input } of inputs) {
        const mark = parseMark(input.value);
        if (mark === null) {
          input.setAttribute("aria-invalid", "true");
          status.replaceChildren(notice(`${t(T.badMark)} ${r.pupil.name} : « ${input.value} »`));
          input.focus();
          return;
        }
        input.removeAttribute("aria-invalid");
        grades.push({ pupil: r.pupil.id, ...mark });
      }
      try {
        const out = await call("notes", "record_grades", { evaluation: ev.id, grades });
        this.editing = ev.id;
        await reload();
        status.replaceChildren(notice(`${t(T.saved)} (${out.written})`, "success"));
      } catch (e) { status.replaceChildren(notice(e.message)); }
    });
    section.append(form);
    return section;
  }

  createForm(grid, x, status, reload) {
    const today = new Date().toISOString().slice(0, 10);
    const date = today < grid.period.start ? grid.period.start : today > grid.period.end ? grid.period.end : today;
    const field = (id, label, control) => h("div", { class: "field" }, h("label", { for: id }, t(label)), control);
    const title = h("input", { id: "notes-new-title", required: true, maxlength: 200 });
    const day = h("input", { id: "notes-new-date", type: "date", value: date, min: grid.period.start, max: grid.period.end, required: true });
    const scale = h("input", { id: "notes-new-scale", type: "number", min: 1, max: 100, value: 20, required: true });
    const coef = h("input", { id: "notes-new-coef", inputmode: "decimal", value: "1", required: true });
    const kind = h("select", { id: "notes-new-kind" }, ["normal", "optional", "bonus"].map((k) => h("option", { value: k }, t(T.kinds[k]))));
    const form = h("form", { class: "notes-new" },
      h("div", { class: "notes-form-grid" },
        field("notes-new-title", T.title, title), field("notes-new-date", T.date, day),
        field("notes-new-scale", T.scale, scale), field("notes-new-coef", T.coefficient, coef),
        field("notes-new-kind", T.kind, kind)),
      h("button", { type: "submit", class: "primary" }, t(T.create)));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        const out = await call("notes", "create_evaluation", {
          unit: x.unit, subject: x.subject.id, period: grid.period.index, date: day.value, title: title.value.trim(),
          scale: Number(scale.value), coefficient: coef.value.trim().replace(",", "."), kind: kind.value,
        });
        this.editing = out.id;
        await reload();
        status.replaceChildren(notice(t(T.created), "success"));
        document.getElementById("notes-mark-0")?.focus();
      } catch (e) { status.replaceChildren(notice(e.message)); }
    });
    return h("section", { class: "panel", "aria-labelledby": "notes-new-h" }, h("h2", { id: "notes-new-h" }, t(T.newEval)), form);
  }
}

// ---- direction --------------------------------------------------------------------------------------------

class ClassesPage extends Base {
  async render() {
    const [{ classes }, { list, current }] = await Promise.all([call("notes", "my_classes", {}), periods()]);
    const heading = h("h1", {}, t(T.classes));
    if (classes.length === 0) { this.replaceChildren(heading, notice(t(T.noClass), "info")); return; }
    if (current == null) { this.replaceChildren(heading, notice(t(T.noPeriod), "info")); return; }
    this.period = this.period ?? current;
    this.klass = this.klass ?? classes[0].id;
    const body = h("div", { "aria-live": "polite" });
    const cid = `notes-class-${++uid}`;
    const select = h("select", { id: cid }, classes.map((c) => h("option", { value: c.id, selected: c.id === this.klass }, c.name)));
    const load = async () => {
      try {
        body.replaceChildren(averages(await call("notes", "class_averages", { class: this.klass, period: this.period })));
      } catch (e) { body.replaceChildren(notice(e.message)); }
    };
    select.addEventListener("change", () => { this.klass = select.value; load(); });
    this.replaceChildren(heading,
      h("div", { class: "notes-controls" },
        h("div", { class: "field notes-inline" }, h("label", { for: cid }, t(T.klass)), select),
        periodSelect(list, this.period, (i) => { this.period = i; load(); })),
      body);
    await load();
  }
}

function averages(a) {
  const summary = h("dl", { class: "figures" },
    h("div", {}, h("dt", {}, t(T.pupils)), h("dd", { class: "figure" }, String(a.pupils.length))),
    h("div", {}, h("dt", {}, t(T.classAvg)), h("dd", { class: "figure" }, a.general ? num(a.general.mean.shown) : "—")));
  const table = h("table", { class: "notes-table notes-grid" },
    h("caption", {}, `${a.class.name} — ${periodLabel(a.period)}`),
    h("thead", {}, h("tr", {},
      h("th", { scope: "col" }, t(T.pupil)),
      a.subjects.map((s) => h("th", { scope: "col", class: "notes-num" }, s.subject.label, h("br"),
        h("span", { class: "muted" }, `${t(T.coef)} ${num(s.coefficient)}`))),
      h("th", { scope: "col", class: "notes-num" }, t(T.general)),
      h("th", { scope: "col", class: "notes-num" }, t(T.rank)))),
    h("tbody", {}, a.pupils.map((r) => h("tr", {},
      h("th", { scope: "row" }, r.pupil.name),
      r.averages.map((v) => h("td", { class: "notes-num" }, shown(v))),
      h("td", { class: "notes-num" }, h("strong", {}, shown(r.general))),
      h("td", { class: "notes-num" }, r.rank ? String(r.rank) : "")))),
    h("tfoot", {}, h("tr", {},
      h("th", { scope: "row" }, t(T.statsRow)),
      a.subjects.map((s) => h("td", { class: "notes-num muted" }, s.class ? `${num(s.class.mean.shown)} / ${num(s.class.min.shown)} / ${num(s.class.max.shown)}` : "")),
      h("td", { class: "notes-num" }, a.general ? `${num(a.general.mean.shown)} / ${num(a.general.min.shown)} / ${num(a.general.max.shown)}` : ""),
      h("td", {}))));
  return h("div", {}, h("section", { class: "panel" }, summary), h("div", { class: "panel notes-scroll" }, table));
}

const define = (name, cls) => customElements.get(name) || customElements.define(name, cls);
define("notes-grades", GradesPage);
define("notes-latest", LatestGrades);
define("notes-grid", GridPage);
define("notes-classes", ClassesPage);
