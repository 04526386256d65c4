// The label page: one review at a time; keys 1-9 label, a ambiguous, s skip, u undo.
// While nothing is open it polls, so the next batch appears without a reload.
"use strict";

const POLL_MS = 1500;
let current = null; // the item shown, or null
let busy = false;
let pollTimer = null;

function labelNames() {
  return Array.from(document.querySelectorAll("button.label")).map((b) => b.dataset.label);
}

function show(state) {
  const section = document.getElementById("labeler");
  document.getElementById("round").textContent = state.round ? `Round ${state.round}` : "No round yet";
  const p = state.progress || { done: 0, total: 0 };
  document.getElementById("progress").textContent = p.total ? `· ${p.done}/${p.total} done` : "";
  document.getElementById("round-running").textContent = state.round_running
    ? "· the next round is being computed"
    : "";
  if (state.message) document.getElementById("message").textContent = state.message;
  current = state.item;
  const item = document.getElementById("item");
  document.getElementById("waiting").hidden = Boolean(current);
  item.hidden = !current;
  clearTimeout(pollTimer);
  if (!current) {
    section.dataset.state = "waiting";
    item.dataset.id = "";
    pollTimer = setTimeout(() => act("/api/next", {}), POLL_MS);
    return;
  }
  section.dataset.state = "item";
  item.dataset.id = current.id;
  section.dataset.round = String(state.round);
  document.getElementById("text").textContent = current.text;
  document.getElementById("predicted").textContent = current.predicted || "nothing yet (cold start)";
  const top2 = current.top2.map(([label, prob]) => `${label} ${textal.fixed(prob, 2)}`);
  document.getElementById("top2").textContent = top2.length ? `(${top2.join(" · ")})` : "";
  document.getElementById("score").textContent = textal.fixed(current.score, 3);
  const why = document.getElementById("why");
  why.replaceChildren(
    ...current.why.map((n) => {
      const li = textal.el("li");
      li.append(textal.el("strong", n.label), ` (${textal.fixed(n.sim, 2)}): `, n.text);
      return li;
    }),
  );
}

async function act(path, body) {
  if (busy) return;
  busy = true;
  try {
    show(await textal.post(path, body));
  } catch (error) {
    document.getElementById("message").textContent = error.message;
    if (!current) pollTimer = setTimeout(() => act("/api/next", {}), POLL_MS);
  } finally {
    busy = false;
  }
}

function answer(label) {
  if (current) act("/api/label", { id: current.id, label });
}

document.addEventListener("DOMContentLoaded", () => {
  for (const button of document.querySelectorAll("button.label")) {
    button.addEventListener("click", () => answer(button.dataset.label));
  }
  document.getElementById("ambiguous").addEventListener("click", () => answer(null));
  document.getElementById("skip").addEventListener("click", () => {
    if (current) act("/api/skip", { id: current.id });
  });
  document.getElementById("undo").addEventListener("click", () => act("/api/undo", {}));
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.target instanceof HTMLInputElement) return;
    const names = labelNames();
    if (/^[1-9]$/.test(event.key) && Number(event.key) <= names.length) {
      answer(names[Number(event.key) - 1]);
    } else if (event.key === "a") {
      answer(null);
    } else if (event.key === "s") {
      if (current) act("/api/skip", { id: current.id });
    } else if (event.key === "u") {
      act("/api/undo", {});
    } else {
      return;
    }
    event.preventDefault();
  });
  act("/api/next", {});
});
