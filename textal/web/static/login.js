// The login link carries the token in the URL fragment, which the browser never sends to the
// server: it is read here, removed from the address bar, and POSTed.
"use strict";

async function logIn(token) {
  const status = document.getElementById("login-status");
  status.textContent = "Logging in…";
  const response = await fetch("/login", {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ token }),
  });
  if (response.ok) {
    window.location.assign("/");
    return;
  }
  const data = await response.json().catch(() => ({}));
  status.textContent = data.error || "login failed";
}

document.addEventListener("DOMContentLoaded", () => {
  const match = /(?:^#|&)token=([^&]+)/.exec(window.location.hash);
  if (match) {
    history.replaceState(null, "", window.location.pathname);
    logIn(decodeURIComponent(match[1]));
  }
  document.getElementById("login-form").addEventListener("submit", (event) => {
    event.preventDefault();
    logIn(document.getElementById("token").value.trim());
  });
});
