// The suspects review queue: each current label the evidence argues against, with the given
// label, the suggestion and the disagreeing neighbours. Keeping records a confirmation and
// correcting records a new label, both through /api/label (the one write path).
"use strict";

let cursor = 0;

function names() {
  return Array.from(document.getElementById("label-names").content.querySelectorAll("span")).map((s) => s.dataset.label);
}

function rows() {
  return Array.from(document.querySelectorAll("#suspects > li"));
}

function focusRow(k) {
  const all = rows();
  if (!all.length) return;
  cursor = Math.max(0, Math.min(all.length - 1, k));
  all.forEach((li, i) => li.classList.toggle("current", i === cursor));
  all[cursor].scrollIntoView({ block: "nearest" });
}

async function decide(li, s, label) {
  const status = document.getElementById("review-status");
  try {
    await textal.post("/api/label", { id: s.item_id, ...textal.answerFields(label), next: false });
    const kept = label === s.given;
    li.dataset.done = kept ? "kept" : "corrected";
    li.querySelector(".outcome").textContent = kept
      ? `Kept ${s.given} (your confirmation)`
      : `Corrected to ${label === null ? "ambiguous" : label}`;
    status.textContent = `${rows().filter((r) => r.dataset.done).length} of ${rows().length} reviewed`;
    focusRow(rows().indexOf(li) + 1);
  } catch (error) {
    status.textContent = error.message;
  }
}

function suspectRow(s) {
  const li = textal.el("li");
  li.dataset.id = s.item_id;
  li.dataset.done = "";
  li.append(textal.el("p", s.text, "review"));
  const meta = textal.el("p", null, "meta");
  meta.append(
    "Given ", textal.el("strong", s.given, "given"), ` by ${s.annotator}`,
    " · suggested ", textal.el("strong", s.suggested, "suggested"),
    ` (${Math.round(100 * s.confidence)}% likely wrong)`,
  );
  li.append(meta);
  if (s.neighbours.length) {
    const list = textal.el("ul", null, "meta");
    for (const n of s.neighbours) {
      const item = textal.el("li");
      item.append(textal.el("strong", n.label), `: ${n.text}`);
      list.append(item);
    }
    li.append(textal.el("p", "Similar reviews labeled otherwise:", "meta"), list);
  }
  const buttons = textal.el("p", null, "decide");
  const button = (text, label, cls) => {
    const b = textal.el("button", text, cls);
    b.type = "button";
    b.dataset.label = label === null ? "ambiguous" : label;
    b.addEventListener("click", () => { b.blur(); decide(li, s, label); });
    buttons.append(b, " ");
  };
  button(`keep ${s.given}`, s.given, "keep");
  button(`→ ${s.suggested}`, s.suggested, "take");
  for (const name of names()) if (name !== s.given && name !== s.suggested) button(`→ ${name}`, name);
  button("ambiguous", null);
  li.append(buttons, textal.el("p", "", "outcome"));
  li.addEventListener("click", () => focusRow(rows().indexOf(li)));
  return { li, s };
}

document.addEventListener("DOMContentLoaded", async () => {
  const status = document.getElementById("review-status");
  let shown = [];
  try {
    const found = await textal.get("/api/v1/suspects?limit=50");
    shown = found.map(suspectRow);
    document.getElementById("suspects").replaceChildren(...shown.map((x) => x.li));
    status.textContent = found.length
      ? `${found.length} suspects, most likely wrong first`
      : "No suspects: no current label is argued against (or too few labels to judge).";
    focusRow(0);
  } catch (error) {
    status.textContent = error.message;
  }
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || event.repeat || !shown.length) return;
    const { li, s } = shown[cursor];
    const all = names();
    if (event.key === "j") focusRow(cursor + 1);
    else if (event.key === "k") focusRow(cursor - 1);
    else if (event.key === "y") decide(li, s, s.given);
    else if (event.key === "c") decide(li, s, s.suggested);
    else if (event.key === "a") decide(li, s, null);
    else if (/^[1-9]$/.test(event.key) && Number(event.key) <= all.length) decide(li, s, all[Number(event.key) - 1]);
    else return;
    event.preventDefault();
  });
});
