// The portal's directory components: my classes (pupils, teachers), my children (parents), my school
// (staff), and the directory page (a class's pupils and teachers).
import { call, t, h, notice, currentChild } from "/assets/shell/api.js";

const T = {
  none: { fr: "Aucune classe cette année.", en: "No class this year." },
  noChild: { fr: "Aucun enfant rattaché à votre compte.", en: "No child linked to your account." },
  principal: { fr: "professeur principal", en: "form tutor" },
  group: { fr: "groupe", en: "group" },
  pupils: { fr: "Élèves", en: "Pupils" },
  teachers: { fr: "Enseignants", en: "Teachers" },
  directory: { fr: "Annuaire", en: "Directory" },
  choose: { fr: "Choisissez une classe pour en voir les membres.", en: "Choose a class to see its members." },
  classesOf: { fr: "Classes de", en: "Classes of" },
  myClasses: { fr: "Mes classes", en: "My classes" },
  see: { fr: "Voir", en: "See" },
  count: { fr: "élèves", en: "pupils" },
};

const PROFILES = {
  eleve: { fr: "Élèves", en: "Pupils" }, responsable: { fr: "Parents", en: "Parents" },
  enseignant: { fr: "Enseignants", en: "Teachers" }, direction: { fr: "Direction", en: "Head" },
  vie_scolaire: { fr: "Vie scolaire", en: "Pupil welfare" },
};

function unitLabel(u) {
  const extra = [];
  if (u.kind === "group") extra.push(t(T.group));
  if (u.subjects?.length) extra.push(u.subjects.join(", ").toLowerCase());
  if (u.principal) extra.push(t(T.principal));
  return extra.length ? `${u.name} — ${extra.join(" · ")}` : u.name;
}

class Base extends HTMLElement {
  connectedCallback() {
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

class MyClasses extends Base {
  async render() {
    const { units } = await call("portal", "my_classes", {});
    this.replaceChildren(units.length === 0 ? h("p", { class: "muted" }, t(T.none)) :
      h("ul", { class: "plain" }, units.map((u) => h("li", {},
        h("a", { href: `#/portal.directory`, "data-unit": u.id, onclick: () => sessionStorage.setItem("ent.unit", JSON.stringify(u)) },
          unitLabel(u))))));
  }
}

class MyChildren extends Base {
  async render() {
    const { children } = await call("portal", "children", {});
    if (children.length === 0) { this.replaceChildren(h("p", { class: "muted" }, t(T.noChild))); return; }
    const selected = currentChild();
    this.replaceChildren(h("ul", { class: "plain" }, children.map((c) => h("li", {},
      h(c.person.id === selected ? "strong" : "span", {}, c.person.display_name),
      " ", h("span", { class: "muted" }, c.units.filter((u) => u.kind === "class").map((u) => u.name).join(", "))))));
  }
}

class StructureCard extends Base {
  async render() {
    const s = await call("portal", "structure_card", {});
    this.replaceChildren(
      h("p", {}, h("strong", {}, s.name), s.uai ? ` (UAI ${s.uai})` : "", h("br"), h("span", { class: "muted" }, `Académie ${s.academie}`)),
      h("dl", { class: "figures" }, s.people.map((p) => h("div", {},
        h("dt", {}, t(PROFILES[p.profile] || { fr: p.profile })), h("dd", { class: "figure" }, p.count.toLocaleString(document.documentElement.lang))))));
  }
}

class DirectoryPage extends Base {
  async render() {
    const child = currentChild();
    const forChild = document.querySelector("#child-switch") && child;
    const { units } = await call("portal", "my_classes", forChild ? { child } : {});
    const childName = forChild ? document.querySelector(`#child-switch option[value="${CSS.escape(child)}"]`)?.textContent : null;
    const members = h("div", { class: "panel", "aria-live": "polite" }, h("p", { class: "muted" }, t(T.choose)));
    const show = async (u) => {
      try {
        const r = await call("portal", "unit_members", { kind: u.kind, id: u.id });
        members.replaceChildren(
          h("h2", {}, `${r.name} — ${r.members.length} ${t(T.count)}`),
          h("h3", {}, t(T.teachers)),
          h("ul", { class: "plain" }, r.teachers.map((x) => h("li", {}, x.person.display_name, " ",
            h("span", { class: "muted" }, [x.subjects.join(", ").toLowerCase(), x.principal ? t(T.principal) : ""].filter(Boolean).join(" · "))))),
          h("h3", {}, t(T.pupils)),
          h("ul", { class: "plain" }, r.members.map((m) => h("li", {}, m.display_name))));
      } catch (e) { members.replaceChildren(notice(e.message)); }
    };
    const list = units.length === 0 ? h("p", { class: "muted" }, t(T.none)) :
      h("ul", { class: "plain" }, units.map((u) => h("li", {},
        h("button", { type: "button", class: "link", onclick: () => show(u) }, unitLabel(u)))));
    this.replaceChildren(
      h("h1", {}, t(T.directory)),
      h("div", { class: "columns" },
        h("section", { class: "panel", "aria-labelledby": "dir-units" },
          h("h2", { id: "dir-units" }, childName ? `${t(T.classesOf)} ${childName}` : t(T.myClasses)), list),
        members));
    const remembered = sessionStorage.getItem("ent.unit");
    sessionStorage.removeItem("ent.unit");
    const wanted = remembered && units.find((u) => u.id === JSON.parse(remembered).id);
    if (wanted) await show(wanted);
  }
}

customElements.get("ent-my-classes") || customElements.define("ent-my-classes", MyClasses);
customElements.get("ent-my-children") || customElements.define("ent-my-children", MyChildren);
customElements.get("ent-structure-card") || customElements.define("ent-structure-card", StructureCard);
customElements.get("ent-directory-page") || customElements.define("ent-directory-page", DirectoryPage);
