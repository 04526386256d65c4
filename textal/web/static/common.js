// Shared helpers. Review text is hostile: it only ever reaches the page through textContent.
"use strict";

const textal = {
  csrf() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  },
  async post(path, body) {
    const response = await fetch(path, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": textal.csrf() },
      body: JSON.stringify(body || {}),
    });
    return textal.answer(response);
  },
  async get(path) {
    return textal.answer(await fetch(path, { credentials: "same-origin" }));
  },
  async answer(response) {
    if (response.status === 401) {
      window.location.assign("/login");
      throw new Error("log in first");
    }
    const data = await response.json();
    if (!response.ok) throw new Error(data.error || response.statusText);
    return data;
  },
  el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  },
  multiLabel() {
    return document.body.dataset.multi === "yes";
  },
  answerFields(label) {
    // The answer fields of /api/label: in a multi-label workspace `labels` (a list; a name or
    // "a;b" text is split), else `label`; null is "ambiguous" in both.
    if (!textal.multiLabel()) return { label };
    if (label === null || Array.isArray(label)) return { labels: label };
    return { labels: label.split(";").filter(Boolean) };
  },
  fixed(value, digits) {
    return value === null || value === undefined ? "n/a" : Number(value).toFixed(digits);
  },
};

document.addEventListener("DOMContentLoaded", () => {
  const logout = document.getElementById("logout");
  if (logout) {
    logout.addEventListener("click", async () => {
      await textal.post("/logout");
      window.location.assign("/login");
    });
  }
});
