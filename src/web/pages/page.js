// What the marketers' and supervisors' pages share: the API call, the
// language and its strings, the login form, and the login, logout and
// language controls of their common header.
"use strict";

const $ = (id) => document.getElementById(id);

// The session's CSRF token, from the login or /api/me answer: sent back
// on every request that changes something.
let csrfToken = "";

// A JSON (or Blob) request; the server's error message on failure.
async function api(method, path, body, headers) {
  const opts = { method, headers: headers || {}, credentials: "same-origin" };
  if (method !== "GET" && csrfToken) opts.headers["X-CSRF-Token"] = csrfToken;
  if (body instanceof Blob) opts.body = body;
  else if (body !== undefined) { opts.body = JSON.stringify(body); opts.headers["Content-Type"] = "application/json"; }
  const r = await fetch(path, opts);
  const data = await r.json().catch(() => ({}));
  if (data && typeof data.csrf_token === "string") csrfToken = data.csrf_token;
  if (!r.ok) throw new Error((data.error && data.error.message) || r.statusText);
  return data;
}

// The words every page has; a page's own table (`wirePage`) comes first.
const PAGE_T = {
  zh: {
    logout: "退出", login_title: "登录", username: "用户名", password: "密码", login: "登录",
    role_agent: "坐席", role_team_lead: "班组长", role_qa: "质检", role_marketer: "营销", role_admin: "管理员",
  },
  en: {
    logout: "Log out", login_title: "Log in", username: "Username", password: "Password", login: "Log in",
    role_agent: "Agent", role_team_lead: "Team lead", role_qa: "QA", role_marketer: "Marketing", role_admin: "Admin",
  },
};
// Every page keeps the language under one key as "zh-CN" or "en" (an
// older page stored "zh"); inside, this script's tables say "zh".
let lang = (localStorage.getItem("lang") || navigator.language).startsWith("zh") ? "zh" : "en";
let pageT = { zh: {}, en: {} };
const t = (k) => pageT[lang][k] ?? PAGE_T[lang][k] ?? k;

// Sets the document's language and the text of every [data-t] element.
function translatePage() {
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  document.querySelectorAll("[data-t]").forEach((e) => { e.textContent = t(e.dataset.t); });
  $("lang").textContent = lang === "zh" ? "English" : "中文";
  const who = $("who");
  if (who && who.dataset.name) who.textContent = `${who.dataset.name} (${t("role_" + who.dataset.role)})`;
}

// Shows who is logged in, with the role in the page's language.
function showWho(me) {
  $("who").dataset.name = me.display_name || me.username;
  $("who").dataset.role = me.role;
  translatePage();
}

// Wires #login (filled with the login form), #logout and #lang: `T` is the
// page's strings, `boot` runs after a login, `applyLang` redraws the page
// in the language just switched to.
function wirePage(T, boot, applyLang) {
  pageT = T;
  $("login").innerHTML = `
    <h1 data-t="login_title"></h1>
    <label><span data-t="username"></span> <input id="username" autocomplete="username" required></label>
    <label><span data-t="password"></span> <input id="password" type="password" autocomplete="current-password" required></label>
    <button type="submit" data-t="login"></button>
    <p id="login-error" class="error" role="alert"></p>`;
  $("login").onsubmit = async (ev) => {
    ev.preventDefault();
    try {
      await api("POST", "/api/login", { username: $("username").value, password: $("password").value });
      $("login-error").textContent = "";
      boot();
    } catch (e) { $("login-error").textContent = e.message; }
  };
  $("logout").onclick = async () => { await api("POST", "/api/logout").catch(() => {}); location.reload(); };
  $("lang").onclick = () => { lang = lang === "zh" ? "en" : "zh"; localStorage.setItem("lang", lang === "zh" ? "zh-CN" : "en"); applyLang(); };
}
