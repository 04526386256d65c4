// The label page: one review at a time. Only the keys 1-9 (a label), a (ambiguous), s (skip) and
// u (undo) answer: Enter and Space never do, and a clicked button gives its focus back, so no
// key can answer a review nobody read yet. While nothing is open it polls, so the next batch
// appears without a reload. The history panel lists my last answers; each can be changed.
"use strict";

const POLL_MS = 1500;
const SNIPPET = 70;
const HISTORY_LENGTH = 10;
let current = null; // the item shown, or null
let busy = false;
let pollTimer = null;
let history = []; // my last answers, newest first, as /api/history gives them

function labelNames() {
  return Array.from(document.querySelectorAll("#choices button.label")).map((b) => b.dataset.label);
}

function snippet(text) {
  return text.length > SNIPPET ? `${text.slice(0, SNIPPET)}…` : text;
}

function answerName(entry) {
  if (entry.kind === "label") return entry.label;
  return entry.kind === "ambiguous" ? "ambiguous" : "undone";
}

function say(text) {
  document.getElementById("message").textContent = text;
}

function showRound(state) {
  document.getElementById("round").textContent = state.round ? `Round ${state.round}` : "No round yet";
  const p = state.progress;
  document.getElementById("progress").textContent = state.round
    ? `· ${p.done}/${p.total} done · ${p.mine} by you`
    : "";
  document.getElementById("round-running").textContent = state.round_running
    ? "· the next round is being computed"
    : "";
}

function showItem(item) {
  document.getElementById("returned").hidden = !item.returned;
  document.getElementById("text").textContent = item.text;
  const reason = document.getElementById("reason");
  reason.textContent = item.reason.text;
  reason.dataset.kind = item.reason.kind;
  document.getElementById("neighbours").hidden = item.why.length === 0;
  document.getElementById("why").replaceChildren(
    ...item.why.map((n) => {
      const li = textal.el("li");
      li.append(textal.el("strong", n.label), ": ", n.text);
      return li;
    }),
  );
  document.getElementById("predicted").textContent = item.predicted || "nothing yet (cold start)";
  const top2 = item.top2.map(([label, prob]) => `${label} ${textal.fixed(prob, 2)}`);
  document.getElementById("top2").textContent = top2.length ? `(${top2.join(" · ")})` : "";
  document.getElementById("score").textContent = textal.fixed(item.score, 3);
  document.getElementById("why-numbers").replaceChildren(
    ...item.why.map((n, i) => textal.el("li", `neighbour ${i + 1} (${n.label}): similarity ${textal.fixed(n.sim, 2)}`)),
  );
}

function show(state) {
  const section = document.getElementById("labeler");
  showRound(state);
  current = state.item;
  const item = document.getElementById("item");
  const waiting = document.getElementById("waiting");
  waiting.hidden = Boolean(current);
  item.hidden = !current;
  document.getElementById("explain").hidden = !current;
  clearTimeout(pollTimer);
  if (!current) {
    section.dataset.state = "waiting";
    section.dataset.wait = state.waiting ? state.waiting.kind : "";
    waiting.textContent = state.waiting ? state.waiting.text : "";
    item.dataset.id = "";
    pollTimer = setTimeout(() => act("/api/next", {}), POLL_MS);
    return;
  }
  section.dataset.state = "item";
  section.dataset.wait = "";
  item.dataset.id = current.id;
  section.dataset.round = String(state.round);
  showItem(current);
}

async function act(path, body, after) {
  if (busy) return;
  busy = true;
  try {
    const state = await textal.post(path, body);
    show(state);
    if (after) after(state);
  } catch (error) {
    say(error.message);
    if (!current) pollTimer = setTimeout(() => act("/api/next", {}), POLL_MS);
  } finally {
    busy = false;
  }
}

function remember(entry) {
  history = [entry, ...history.filter((h) => h.id !== entry.id)].slice(0, HISTORY_LENGTH);
  renderHistory();
}

function answer(label) {
  if (!current) return;
  const entry = { id: current.id, text: current.text, kind: label === null ? "ambiguous" : "label", label };
  act("/api/label", { id: current.id, label }, () => {
    remember(entry);
    say(`Saved: ${answerName(entry)}`);
  });
}

function skip() {
  if (!current) return;
  act("/api/skip", { id: current.id }, () =>
    say("Skipped: the others get it first; it comes back to you once nothing else is left."));
}

function undo() {
  act("/api/undo", {}, (state) => {
    if (state.message) {
      say(state.message);
    } else if (state.item) {
      const was = history.find((h) => h.id === state.item.id);
      say(`Undid: ${was ? answerName(was) : "your answer"} on “${snippet(state.item.text)}”`);
    }
    loadHistory();
  });
}

async function change(entry, label) {
  try {
    await textal.post("/api/label", { id: entry.id, label, next: false });
    const changed = { ...entry, kind: label === null ? "ambiguous" : "label", label };
    say(`Changed: ${answerName(changed)} on “${snippet(entry.text)}”`);
    await loadHistory();
  } catch (error) {
    say(error.message);
  }
}

function renderHistory() {
  document.getElementById("history-empty").hidden = history.length > 0;
  document.getElementById("history-list").replaceChildren(
    ...history.map((entry) => {
      const li = textal.el("li");
      li.dataset.id = entry.id;
      li.append(textal.el("strong", answerName(entry), "answer"), " ", textal.el("span", snippet(entry.text), "snippet"));
      const buttons = textal.el("span", null, "change");
      for (const label of [...labelNames(), null]) {
        const name = label === null ? "ambiguous" : label;
        if (name === answerName(entry)) continue;
        const button = textal.el("button", `→ ${name}`);
        button.type = "button";
        button.dataset.label = name;
        button.addEventListener("click", () => {
          button.blur();
          change(entry, label);
        });
        buttons.append(button);
      }
      li.append(buttons);
      return li;
    }),
  );
}

async function loadHistory() {
  try {
    history = (await textal.get("/api/history")).answers;
    renderHistory();
  } catch (error) {
    say(error.message);
  }
}

function onClick(id, fn) {
  const button = document.getElementById(id);
  button.addEventListener("click", () => {
    button.blur(); // a focused button would answer the next review on Enter or Space
    fn();
  });
}

document.addEventListener("DOMContentLoaded", () => {
  for (const button of document.querySelectorAll("#choices button.label")) {
    button.addEventListener("click", () => {
      button.blur();
      answer(button.dataset.label);
    });
  }
  onClick("ambiguous", () => answer(null));
  onClick("skip", skip);
  onClick("undo", undo);
  for (const type of ["keydown", "keyup"]) {
    // Enter and Space activate a focused button: not on the answer buttons.
    document.addEventListener(type, (event) => {
      if ((event.key === "Enter" || event.key === " ") && event.target.closest?.("#choices")) {
        event.preventDefault();
      }
    });
  }
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || event.repeat) return;
    if (event.target instanceof HTMLInputElement || event.target instanceof HTMLTextAreaElement) return;
    const names = labelNames();
    if (/^[1-9]$/.test(event.key) && Number(event.key) <= names.length) {
      answer(names[Number(event.key) - 1]);
    } else if (event.key === "a") {
      answer(null);
    } else if (event.key === "s") {
      skip();
    } else if (event.key === "u") {
      undo();
    } else {
      return;
    }
    event.preventDefault();
  });
  loadHistory();
  act("/api/next", {});
});
