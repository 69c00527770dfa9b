// The guest book's page and home-page widget: a web component that talks to the JSON action API through
// the shell's `call` helper (which sends the session cookie and the CSRF token).
import { call, t } from "/assets/shell/api.js";

class GuestbookPage extends HTMLElement {
  async connectedCallback() {
    try {
      const { signatures } = await call("guestbook", "list", { limit: 20 });
      if (signatures.length === 0) {
        const p = document.createElement("p");
        p.textContent = t({ fr: "Personne n'a encore signé.", en: "Nobody has signed yet." });
        this.replaceChildren(p);
        return;
      }
      this.replaceChildren(...signatures.map((s) => {
        const p = document.createElement("p");
        p.textContent = s.message;
        return p;
      }));
    } catch (e) {
      const p = document.createElement("p");
      p.setAttribute("role", "alert");
      p.textContent = e.message;
      this.replaceChildren(p);
    }
  }
}
customElements.define("guestbook-page", GuestbookPage);
