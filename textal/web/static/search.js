// Search (keyword with filters and pages, or "more like this"); every result can be labeled in
// place, and selected results in bulk: each label goes through /api/label's one write path.
"use strict";

let page = 0;
let cursor = 0;
let shown = []; // {r, li, box, current} of the results on the page

function names() {
  const template = document.getElementById("label-names");
  return Array.from(template.content.querySelectorAll("span")).map((s) => s.dataset.label);
}

function say(text) {
  document.getElementById("search-status").textContent = text;
}

function labeledAs(label) {
  return label === null ? "marked ambiguous" : `labeled ${label}`;
}

function countSelected() {
  const n = shown.filter((x) => x.box.checked).length;
  document.getElementById("selected-count").textContent = `${n} selected`;
  document.getElementById("select-all").checked = n > 0 && n === shown.length;
}

function focusResult(k) {
  if (!shown.length) return;
  cursor = Math.max(0, Math.min(shown.length - 1, k));
  shown.forEach((x, i) => x.li.classList.toggle("current", i === cursor));
  shown[cursor].li.scrollIntoView({ block: "nearest" });
}

function render(data, paged) {
  const results = data.results;
  const list = document.getElementById("results");
  say(`${results.length} results${paged && (data.page || data.more) ? ` on page ${data.page + 1}` : ""}`);
  shown = results.map((r) => {
    const li = textal.el("li");
    li.dataset.id = r.id;
    const box = textal.el("input");
    box.type = "checkbox";
    box.className = "pick";
    box.setAttribute("aria-label", "select");
    box.addEventListener("change", countSelected);
    const meta = textal.el("p", null, "meta");
    meta.append(box, " ");
    if (r.sim !== null) meta.append(`similarity ${textal.fixed(r.sim, 2)} · `);
    const current = textal.el("span", r.label ? `labeled ${r.label}` : "not labeled", "current");
    meta.append(current);
    li.append(textal.el("p", r.text, "review"), meta);
    for (const name of names()) {
      const button = textal.el("button", name);
      button.type = "button";
      button.addEventListener("click", async () => {
        button.blur();
        await textal.post("/api/label", { id: r.id, ...textal.answerFields(name), next: false });
        current.textContent = `labeled ${name}`;
      });
      li.append(button, " ");
    }
    const more = textal.el("button", "more like this");
    more.type = "button";
    more.addEventListener("click", async () => render(await textal.post("/api/similar", { id: r.id }), false));
    li.append(more);
    return { r, li, box, current };
  });
  list.replaceChildren(...shown.map((x) => x.li));
  document.getElementById("bulk").hidden = shown.length === 0;
  document.getElementById("prev-page").hidden = !paged || !data.page;
  document.getElementById("next-page").hidden = !paged || !data.more;
  document.getElementById("page").textContent = paged && (data.page || data.more) ? `page ${data.page + 1}` : "";
  countSelected();
  focusResult(0);
}

async function search(toPage) {
  const query = new URLSearchParams({ q: document.getElementById("keyword").value, page: String(toPage) });
  for (const id of ["status", "label", "predicted", "filter"]) {
    const value = document.getElementById(id).value;
    if (value) query.set(id, value);
  }
  say(document.getElementById("predicted").value ? "Searching (the model predicts each review)…" : "Searching…");
  try {
    const data = await textal.get(`/api/search?${query}`);
    page = data.page;
    render(data, true);
  } catch (error) {
    say(error.message);
  }
}

async function labelSelected(label) {
  let chosen = shown.filter((x) => x.box.checked);
  if (!chosen.length && shown.length) chosen = [shown[cursor]];
  if (!chosen.length) return;
  try {
    const done = await textal.post("/api/label/bulk", { ids: chosen.map((x) => x.r.id), ...textal.answerFields(label) });
    for (const x of chosen) {
      x.current.textContent = labeledAs(label);
      x.box.checked = false;
    }
    countSelected();
    say(`${labeledAs(label)[0].toUpperCase()}${labeledAs(label).slice(1)}: ${done.recorded} reviews`);
  } catch (error) {
    say(error.message);
  }
}

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("keyword-form").addEventListener("submit", (event) => {
    event.preventDefault();
    search(0);
  });
  document.getElementById("similar-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = document.getElementById("sentence").value;
    say("Embedding…");
    textal.post("/api/similar", { text }).then((d) => render(d, false)).catch((error) => say(error.message));
  });
  document.getElementById("prev-page").addEventListener("click", () => search(page - 1));
  document.getElementById("next-page").addEventListener("click", () => search(page + 1));
  document.getElementById("select-all").addEventListener("change", (event) => {
    for (const x of shown) x.box.checked = event.target.checked;
    countSelected();
  });
  for (const button of document.querySelectorAll(".bulk-label")) {
    button.addEventListener("click", () => {
      button.blur();
      labelSelected(button.dataset.label || null);
    });
  }
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || event.repeat) return;
    const target = event.target;
    if (target instanceof HTMLInputElement && target.type !== "checkbox") return;
    if (target instanceof HTMLSelectElement || target instanceof HTMLTextAreaElement) return;
    const all = names();
    if (event.key === "j") focusResult(cursor + 1);
    else if (event.key === "k") focusResult(cursor - 1);
    else if (event.key === "x" && shown.length) {
      shown[cursor].box.checked = !shown[cursor].box.checked;
      countSelected();
    } else if (/^[1-9]$/.test(event.key) && Number(event.key) <= all.length) labelSelected(all[Number(event.key) - 1]);
    else if (event.key === "a") labelSelected(null);
    else if (event.key === "n" && !document.getElementById("next-page").hidden) search(page + 1);
    else if (event.key === "p" && !document.getElementById("prev-page").hidden) search(page - 1);
    else return;
    event.preventDefault();
  });
});
