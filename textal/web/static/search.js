// Keyword search and "more like this"; every result can be labeled in place.
"use strict";

function names() {
  const template = document.getElementById("label-names");
  return Array.from(template.content.querySelectorAll("span")).map((s) => s.dataset.label);
}

function render(results) {
  const list = document.getElementById("results");
  document.getElementById("search-status").textContent = `${results.length} results`;
  list.replaceChildren(
    ...results.map((r) => {
      const li = textal.el("li");
      li.dataset.id = r.id;
      const meta = textal.el("p", null, "meta");
      if (r.sim !== null) meta.append(`similarity ${textal.fixed(r.sim, 2)} · `);
      const current = textal.el("span", r.label ? `labeled ${r.label}` : "not labeled", "current");
      meta.append(current);
      li.append(textal.el("p", r.text, "review"), meta);
      for (const name of names()) {
        const button = textal.el("button", name);
        button.type = "button";
        button.addEventListener("click", async () => {
          await textal.post("/api/label", { id: r.id, label: name, next: false });
          current.textContent = `labeled ${name}`;
        });
        li.append(button, " ");
      }
      const more = textal.el("button", "more like this");
      more.type = "button";
      more.addEventListener("click", async () => render((await textal.post("/api/similar", { id: r.id })).results));
      li.append(more);
      return li;
    }),
  );
}

document.addEventListener("DOMContentLoaded", () => {
  const status = document.getElementById("search-status");
  const fail = (error) => { status.textContent = error.message; };
  document.getElementById("keyword-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const q = document.getElementById("keyword").value;
    textal.get(`/api/search?q=${encodeURIComponent(q)}`).then((d) => render(d.results)).catch(fail);
  });
  document.getElementById("similar-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = document.getElementById("sentence").value;
    status.textContent = "Embedding…";
    textal.post("/api/similar", { text }).then((d) => render(d.results)).catch(fail);
  });
});
