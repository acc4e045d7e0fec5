// What the marketers' and supervisors' pages share: the API call, and the
// login, logout and language controls of their common header and form.
"use strict";

const $ = (id) => document.getElementById(id);

// A JSON (or Blob) request; the server's error message on failure.
async function api(method, path, body, headers) {
  const opts = { method, headers: headers || {}, credentials: "same-origin" };
  if (body instanceof Blob) opts.body = body;
  else if (body !== undefined) { opts.body = JSON.stringify(body); opts.headers["Content-Type"] = "application/json"; }
  const r = await fetch(path, opts);
  const data = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error((data.error && data.error.message) || r.statusText);
  return data;
}

// Wires #login, #logout and #lang: `boot` runs after a login, `toggleLang`
// switches the page's language.
function wirePage(boot, toggleLang) {
  $("login").onsubmit = async (ev) => {
    ev.preventDefault();
    try {
      await api("POST", "/api/login", { username: $("username").value, password: $("password").value });
      $("login-error").textContent = "";
      boot();
    } catch (e) { $("login-error").textContent = e.message; }
  };
  $("logout").onclick = async () => { await api("POST", "/api/logout").catch(() => {}); location.reload(); };
  $("lang").onclick = toggleLang;
}
