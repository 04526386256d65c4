// The label page: one review at a time. Only the keys 1-9 (a label), a (ambiguous), s (skip) and
// u (undo) answer: Enter and Space never do, and a clicked button gives its focus back, so no
// key can answer a review nobody read yet. While nothing is open it polls, so the next batch
// appears without a reload. The history panel lists my last answers; each can be changed.
// In a multi-label workspace 1-9 toggle labels (shown pressed), Enter submits the labels that
// are on (never an empty set: that is 0, "none of these"), and the why lists each label's
// probability.
"use strict";

const POLL_MS = 1500;
const SNIPPET = 70;
const HISTORY_LENGTH = 10;
let current = null; // the item shown, or null
let busy = false;
let pollTimer = null;
let history = []; // my last answers, newest first, as /api/history gives them
let toggled = new Set(); // multi-label: the labels turned on for the current review

function multiLabel() {
  return textal.multiLabel();
}

function showToggles() {
  for (const button of document.querySelectorAll("#choices button.label")) {
    button.setAttribute("aria-pressed", String(toggled.has(button.dataset.label)));
  }
}

function toggle(label) {
  if (!current) return;
  if (toggled.has(label)) toggled.delete(label);
  else toggled.add(label);
  showToggles();
}

function labelNames() {
  return Array.from(document.querySelectorAll("#choices button.label")).map((b) => b.dataset.label);
}

function snippet(text) {
  return text.length > SNIPPET ? `${text.slice(0, SNIPPET)}…` : text;
}

function answerName(entry) {
  if (entry.kind === "label" && multiLabel()) {
    return entry.label ? entry.label.split(";").join(" + ") : "none of these";
  }
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
  const probabilities = document.getElementById("label-probabilities");
  if (probabilities) {
    probabilities.replaceChildren(
      ...item.probabilities.map(([label, p]) => {
        const li = textal.el("li");
        li.dataset.label = label;
        const meter = textal.el("meter");
        meter.min = 0;
        meter.max = 1;
        meter.value = p;
        li.append(textal.el("strong", label), ` ${Math.round(100 * p)}%`, meter);
        return li;
      }),
    );
  }
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
  if (item.dataset.id !== current.id) toggled = new Set();
  showToggles();
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
  // label: a name (single-label), an array of names (multi-label), or null (ambiguous)
  if (!current) return;
  const set = Array.isArray(label);
  const entry = {
    id: current.id, text: current.text, kind: label === null ? "ambiguous" : "label",
    label: set ? [...label].sort().join(";") : label,
  };
  act("/api/label", { id: current.id, ...textal.answerFields(label) }, () => {
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
    await textal.post("/api/label", { id: entry.id, ...textal.answerFields(label), next: false });
    const changed = { ...entry, kind: label === null ? "ambiguous" : "label", label };
    say(`Changed: ${answerName(changed)} on “${snippet(entry.text)}”`);
    await loadHistory();
  } catch (error) {
    say(error.message);
  }
}

function submitToggled() {
  if (!current) return;
  if (!toggled.size) {
    say("Turn labels on with 1-9 first, or press 0 for none of these.");
    return;
  }
  answer([...toggled]);
}

function renderHistory() {
  document.getElementById("history-empty").hidden = history.length > 0;
  document.getElementById("history-list").replaceChildren(
    ...history.map((entry) => {
      const li = textal.el("li");
      li.dataset.id = entry.id;
      li.append(textal.el("strong", answerName(entry), "answer"), " ", textal.el("span", snippet(entry.text), "snippet"));
      const buttons = textal.el("span", null, "change");
      for (const label of multiLabel() ? [] : [...labelNames(), null]) {
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
  const multi = multiLabel();
  for (const button of document.querySelectorAll("#choices button.label")) {
    button.addEventListener("click", () => {
      button.blur();
      if (multi) toggle(button.dataset.label);
      else answer(button.dataset.label);
    });
  }
  if (multi) {
    onClick("submit", submitToggled);
    onClick("none", () => answer([]));
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
      if (multi) toggle(names[Number(event.key) - 1]);
      else answer(names[Number(event.key) - 1]);
    } else if (multi && event.key === "Enter") {
      submitToggled();
    } else if (multi && event.key === "0") {
      answer([]);
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
