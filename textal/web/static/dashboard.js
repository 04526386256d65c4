// The dashboard: figures from /api/dashboard, redrawn every few seconds; admin controls.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const REFRESH_MS = 5000;

function row(cells, tag = "td") {
  const tr = textal.el("tr");
  for (const cell of cells) tr.append(textal.el(tag, cell));
  return tr;
}

function svg(tag, attrs, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

function when(iso) {
  // The viewer's time zone.
  return new Date(iso).toLocaleString([], { dateStyle: "short", timeStyle: "short" });
}

function chart(rounds, stableKappa) {
  // Agreement (Cohen's kappa between successive models on a fixed stop set), its threshold, CV score.
  const width = 640, height = 200, pad = 30;
  const box = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img" });
  box.append(svg("title", {}, "Agreement of successive models and CV score per round"));
  const n = Math.max(rounds.length, 2);
  const x = (i) => pad + (i * (width - 2 * pad)) / (n - 1);
  const y = (v) => height - pad - v * (height - 2 * pad);
  box.append(svg("line", { x1: pad, y1: y(0), x2: width - pad, y2: y(0), class: "axis" }));
  box.append(svg("line", { x1: pad, y1: y(1), x2: width - pad, y2: y(1), class: "grid" }));
  box.append(svg("text", { x: 2, y: y(1) + 4 }, "1"), svg("text", { x: 2, y: y(0) + 4 }, "0"));
  box.append(svg("line", { x1: pad, y1: y(stableKappa), x2: width - pad, y2: y(stableKappa), class: "threshold" }));
  box.append(svg("text", { x: width - pad - 28, y: y(stableKappa) + 14 }, String(stableKappa)));
  for (const [key, cls] of [["agreement", "agreement"], ["cv_score", "cv"]]) {
    const points = rounds
      .map((r, i) => [i, r[key]])
      .filter(([, v]) => v !== null && v !== undefined)
      .map(([i, v]) => `${x(i)},${y(Math.max(0, Math.min(1, v)))}`);
    if (points.length) box.append(svg("polyline", { points: points.join(" "), class: cls }));
  }
  rounds.forEach((r, i) => box.append(svg("text", { x: x(i) - 4, y: height - 8 }, String(r.round))));
  const legend = textal.el("p", null, "legend");
  legend.append(textal.el("span", "agreement", "agreement"), " ", textal.el("span", "CV score", "cv"), " ",
    textal.el("span", `stable at ${stableKappa} for 3 rounds`, "threshold"));
  document.getElementById("chart").replaceChildren(box, legend);
}

function disagreement(x) {
  const tr = row([x.text, Object.entries(x.answers).map(([who, label]) => `${who}: ${label}`).join(", ")]);
  tr.dataset.id = x.id;
  if (!document.getElementById("disagreements").dataset.resolver) return tr;
  const cell = textal.el("td");
  const names = Array.from(document.getElementById("label-names").content.querySelectorAll("span"));
  for (const label of [...names.map((s) => s.dataset.label), null]) {
    const button = textal.el("button", label === null ? "ambiguous" : label);
    button.type = "button";
    button.dataset.label = label === null ? "ambiguous" : label;
    button.addEventListener("click", () => {
      textal.post("/api/resolve", { id: x.id, ...textal.answerFields(label) })
        .then(refresh)
        .catch((error) => { document.getElementById("resolve-status").textContent = error.message; });
    });
    cell.append(button, " ");
  }
  tr.append(cell);
  return tr;
}

function team(d) {
  document.querySelector("#team tbody").replaceChildren(
    ...d.team.people.map((p) => row([p.name, p.answers, p.today, p.last_hour,
      p.median_seconds === null ? "n/a" : textal.fixed(p.median_seconds, 1),
      p.agreement === null ? "n/a (no shared items)" : `${Math.round(100 * p.agreement)}% of ${p.compared}`])),
  );
  const people = d.team.people.map((p) => p.name);
  document.querySelector("#days thead").replaceChildren(row(["day", ...people, "all"], "th"));
  document.querySelector("#days tbody").replaceChildren(
    ...d.team.days.map((day) => {
      const counts = people.map((name) => day.by_annotator[name] || 0);
      return row([day.day, ...counts, counts.reduce((a, b) => a + b, 0)]);
    }),
  );
}

function goals(d) {
  // Progress toward the lead's goals (0: none set): labels in all, and of each class.
  const total = Object.values(d.labels).reduce((a, b) => a + b, 0);
  const { goal_total: goal, goal_per_class: perClass } = d.settings;
  document.getElementById("goal").hidden = !goal;
  if (goal) {
    document.getElementById("goal-text").textContent =
      `Goal: ${total} of ${goal} labels (${Math.min(100, Math.round((100 * total) / goal))}%)`;
    const bar = document.getElementById("goal-progress");
    bar.max = goal;
    bar.value = Math.min(total, goal);
  }
  const names = Array.from(document.getElementById("label-names").content.querySelectorAll("span"), (s) => s.dataset.label);
  document.getElementById("goal-classes").replaceChildren(
    ...(perClass ? names : []).map((name) => {
      const have = d.labels[name] || 0;
      return textal.el("li", `${name}: ${have} of ${perClass}${have >= perClass ? " (reached)" : ""}`);
    }),
  );
}

function left(d) {
  const l = d.left;
  const items = [
    `${l.unlabeled} of ${d.items} stored reviews have no answer yet`,
    l.round === null ? "no round yet" : `${l.open_in_round} reviews of round ${l.round} still open`,
    `${l.unresolved} disagreements to resolve`,
    l.suspects === null ? "suspect labels not counted yet (open Review suspects)" : `${l.suspects} suspect labels to review`,
  ];
  document.getElementById("left-list").replaceChildren(...items.map((t) => textal.el("li", t)));
  const empty = document.getElementById("empty-state");
  empty.hidden = d.rounds.length > 0 && d.items > 0;
  empty.textContent = d.items === 0
    ? "No reviews stored yet. An admin uploads a CSV, JSONL or Parquet file below (or runs textal ingest), then starts a round."
    : "No round yet. An admin presses \"Start a round now\" below: its reviews then appear on the Label page.";
}

async function refresh() {
  const d = await textal.get(`/api/dashboard?tz=${-new Date().getTimezoneOffset()}`);
  const labels = document.getElementById("labels");
  labels.replaceChildren(row(["class", "labels"], "th"), ...Object.entries(d.labels).map((e) => row(e)));
  document.getElementById("totals").textContent =
    `${d.items} reviews stored · ${d.ambiguous} marked ambiguous`;
  const people = document.getElementById("annotators");
  people.replaceChildren(row(["annotator", "labels"], "th"), ...Object.entries(d.annotators).map((e) => row(e)));
  document.getElementById("kappa").textContent =
    d.kappa === null ? `n/a (${d.multi_labeled} items with several labels)` : `${textal.fixed(d.kappa, 3)} on ${d.multi_labeled} items`;
  document.querySelector("#rounds tbody").replaceChildren(
    ...d.rounds.map((r) =>
      row([r.round, when(r.created_at), r.cold_start ? `${r.batch_size} (cold start)` : r.batch_size,
        `${r.labeled} labels`, r.filter || "all items", r.model || "none", textal.fixed(r.cv_score, 3),
        textal.fixed(r.agreement, 3)]),
    ),
  );
  document.getElementById("round-state").textContent =
    (d.round_running ? "A round is running in the background. " : "") + (d.round_error ? `Last round failed: ${d.round_error}` : "");
  chart(d.rounds, d.stable_kappa);
  document.getElementById("verdict").textContent = d.stable
    ? "stable: more labels are unlikely to change the model"
    : "still changing";
  team(d);
  goals(d);
  left(d);
  document.getElementById("resolved").textContent = `${d.resolved} resolved so far.`;
  document.querySelector("#disagreements tbody").replaceChildren(...d.disagreements.map(disagreement));
  const overlap = document.getElementById("overlap");
  if (overlap && document.activeElement?.closest("#settings-form") == null) {
    overlap.value = String(d.settings.overlap);
    document.getElementById("batch-size").value = String(d.settings.batch_size);
    document.getElementById("goal-total").value = String(d.settings.goal_total);
    document.getElementById("goal-per-class").value = String(d.settings.goal_per_class);
  }
}

function adminControls() {
  const status = document.getElementById("admin-status");
  if (!status) return;
  const report = (promise, done) =>
    promise.then(done).catch((error) => { status.textContent = error.message; });
  document.getElementById("start-round").addEventListener("click", () =>
    report(textal.post("/api/admin/round"), (r) => {
      status.textContent = r.started ? "Round started in the background." : "A round is already running.";
      refresh();
    }));
  document.getElementById("settings-form").addEventListener("submit", (event) => {
    event.preventDefault();
    report(textal.post("/api/admin/settings", {
      overlap: Number(document.getElementById("overlap").value),
      batch_size: Number(document.getElementById("batch-size").value),
      goal_total: Number(document.getElementById("goal-total").value),
      goal_per_class: Number(document.getElementById("goal-per-class").value),
    }), () => { status.textContent = "Saved."; refresh(); });
  });
  document.getElementById("guidelines-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const labels = {};
    for (const input of document.querySelectorAll(".guide-label")) labels[input.dataset.label] = input.value;
    report(textal.post("/api/admin/guidelines", {
      instructions: document.getElementById("guide-instructions").value,
      labels,
    }), () => { status.textContent = "Guidelines saved: the label page shows them on its next load."; });
  });
  document.getElementById("add-form").addEventListener("submit", (event) => {
    event.preventDefault();
    report(textal.post("/api/admin/annotators", {
      name: document.getElementById("new-name").value.trim(),
      admin: document.getElementById("new-admin").checked,
    }), (r) => {
      status.textContent = `Added ${r.name}. Send them this link privately; it is shown once:`;
      document.getElementById("new-link").textContent = r.link;
    });
  });
  document.getElementById("upload-form").addEventListener("submit", (event) => {
    event.preventDefault();
    upload(document.getElementById("upload-file").files[0]);
  });
  document.getElementById("remove-form").addEventListener("submit", (event) => {
    event.preventDefault();
    report(textal.post("/api/admin/annotators/remove", {
      name: document.getElementById("remove-name").value.trim(),
    }), (r) => {
      status.textContent = `Removed ${r.removed}: their sessions ended; their labels stay.`;
      refresh();
    });
  });
}

async function upload(file) {
  // The file goes as the request body; embedding runs as a job whose counts drive the bar.
  const bar = document.getElementById("upload-progress");
  const state = document.getElementById("upload-state");
  const format = file.name.toLowerCase().split(".").pop();
  const hasIds = format === "csv" ? (await file.slice(0, 4096).text()).split(/\r?\n/)[0].split(",").includes("id") : false;
  const query = new URLSearchParams({ format });
  if (hasIds) query.set("id_column", "id");
  state.textContent = `Uploading ${file.name}...`;
  try {
    const response = await fetch(`/api/v1/items?${query}`, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRF-Token": textal.csrf(), "Content-Type": "application/octet-stream" },
      body: file,
    });
    let job = await textal.answer(response);
    bar.hidden = false;
    while (job.state === "running") {
      bar.max = Math.max(job.progress.rows || 1, 1);
      bar.value = job.progress.read || 0;
      state.textContent = `${job.progress.stored} of ${job.progress.rows} stored`;
      await new Promise((done) => setTimeout(done, 500));
      job = await textal.get(`/api/v1/jobs/${job.id}`);
    }
    bar.value = bar.max;
    if (job.state === "done") {
      const r = job.result.report;
      state.textContent = `${file.name}: ${r.added} added, ${r.already_stored} already stored.`;
    } else {
      state.textContent = `${file.name}: ${job.error || job.state}`;
    }
  } catch (error) {
    state.textContent = `${file.name}: ${error.message}`;
  }
  refresh();
}

document.addEventListener("DOMContentLoaded", () => {
  adminControls();
  const tick = () => refresh().catch(() => {}).finally(() => setTimeout(tick, REFRESH_MS));
  tick();
});
