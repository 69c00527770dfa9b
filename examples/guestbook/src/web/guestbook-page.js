// The guest book's page: a web component that talks to the JSON action API.
class GuestbookPage extends HTMLElement {
  async connectedCallback() {
    const response = await fetch("/api/v1/guestbook/list", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ limit: 20 }),
    });
    const { signatures } = await response.json();
    this.replaceChildren(...signatures.map((s) => {
      const p = document.createElement("p");
      p.textContent = s.message;
      return p;
    }));
  }
}
customElements.define("guestbook-page", GuestbookPage);
