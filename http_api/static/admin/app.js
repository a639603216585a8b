// The admin console: every view calls the REST API with the API key from sessionStorage.
"use strict";

const KEY_STORAGE = "mimo.apiKey";
const PAGES = ["overview", "daily", "user", "room", "audit"];
const METRICS = ["p2p_up", "p2p_delivered", "room_up", "room_delivered", "rooms_created",
  "new_users", "login_users", "active_users"];
const OVERVIEW_REFRESH_MS = 2000;

const $ = (id) => document.getElementById(id);
let overviewTimer = null;
let membersCursor = null;

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function api(method, path, body) {
  const headers = { Authorization: `Bearer ${sessionStorage.getItem(KEY_STORAGE) || ""}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw new ApiError(response.status, data.code, data.error || response.statusText);
  }
  return data;
}

function showStatus(text, isError) {
  const node = $("status");
  node.textContent = text;
  node.className = isError ? "error" : "";
}

function failed(error) {
  if (error instanceof ApiError && error.status === 401) {
    signOut();
    showStatus(t("signin.failed"), true);
    return;
  }
  const code = error instanceof ApiError ? ` (${error.code})` : "";
  showStatus(`${t("error")}${code}: ${error.message}`, true);
}

function formatTime(ms) {
  if (!ms) return "";
  if (ms === -1) return t("lifted");
  return new Date(ms).toLocaleString(language);
}

function cell(row, text) {
  const td = document.createElement("td");
  td.textContent = text === undefined || text === null ? "" : String(text);
  row.appendChild(td);
  return td;
}

function fillTable(body, rows) {
  body.replaceChildren();
  for (const values of rows) {
    const tr = document.createElement("tr");
    values.forEach((value) => cell(tr, value));
    body.appendChild(tr);
  }
}

// --- navigation -------------------------------------------------------------------------

function signedIn() {
  return Boolean(sessionStorage.getItem(KEY_STORAGE));
}

function show(page) {
  clearInterval(overviewTimer);
  overviewTimer = null;
  for (const name of ["signin", ...PAGES]) $(`page-${name}`).hidden = name !== page;
  $("nav").hidden = page === "signin";
  $("signout").hidden = page === "signin";
  document.querySelectorAll("#nav a").forEach((link) => {
    link.classList.toggle("active", link.getAttribute("href") === `#${page}`);
  });
  if (page === "overview") {
    refreshOverview();
    overviewTimer = setInterval(refreshOverview, OVERVIEW_REFRESH_MS);
  }
  if (page === "daily") loadDaily();
  if (page === "audit") loadAudit();
}

function route() {
  if (!signedIn()) return show("signin");
  const page = location.hash.slice(1);
  show(PAGES.includes(page) ? page : "overview");
}

function signOut() {
  sessionStorage.removeItem(KEY_STORAGE);
  route();
}

async function signIn(event) {
  event.preventDefault();
  sessionStorage.setItem(KEY_STORAGE, $("api-key").value.trim());
  try {
    await api("GET", "/v1/stats/overview");
  } catch (error) {
    sessionStorage.removeItem(KEY_STORAGE);
    showStatus(error.status === 401 ? t("signin.failed") : error.message, true);
    return;
  }
  $("api-key").value = "";
  showStatus("", false);
  if (!location.hash || location.hash === "#signin") location.hash = "#overview";
  route();
}

// --- overview ---------------------------------------------------------------------------

async function refreshOverview() {
  try {
    const data = await api("GET", "/v1/stats/overview");
    $("ov-online").textContent = data.connections_total;
    $("ov-up").textContent = data.messages_per_second.up;
    $("ov-delivered").textContent = data.messages_per_second.delivered;
    fillTable($("ov-gateways"), Object.entries(data.connections));
  } catch (error) {
    failed(error);
  }
}

// --- daily metrics ----------------------------------------------------------------------

function isoDay(date) {
  return date.toISOString().slice(0, 10);
}

async function loadDaily(event) {
  if (event) event.preventDefault();
  if (!$("daily-to").value) {
    const today = new Date();
    $("daily-to").value = isoDay(today);
    $("daily-from").value = isoDay(new Date(today.getTime() - 13 * 86400000));
  }
  try {
    const params = new URLSearchParams({ from: $("daily-from").value, to: $("daily-to").value });
    const data = await api("GET", `/v1/metrics/daily?${params}`);
    const head = $("daily-head");
    head.replaceChildren();
    for (const name of ["col.date", ...METRICS.map((m) => `metric.${m}`)]) {
      const th = document.createElement("th");
      th.textContent = t(name);
      head.appendChild(th);
    }
    fillTable($("daily-rows"), data.days.map((day) => [day.date, ...METRICS.map((m) => day[m])]));
    const charts = $("daily-charts");
    charts.replaceChildren();
    const labels = data.days.map((day) => day.date);
    for (const name of METRICS) {
      charts.appendChild(lineChart(t(`metric.${name}`), labels, data.days.map((d) => d[name])));
    }
    showStatus("", false);
  } catch (error) {
    failed(error);
  }
}

// --- users ------------------------------------------------------------------------------

async function lookUpUser(event) {
  if (event) event.preventDefault();
  const uid = $("user-id").value.trim();
  try {
    const user = await api("GET", `/v1/users/${encodeURIComponent(uid)}`);
    $("user-result").hidden = false;
    $("user-title").textContent = user.uid;
    const state = [user.online ? t("user.online") : t("user.offline")];
    if (user.banned_until) state.push(`${t("user.banned")} ${formatTime(user.banned_until)}`);
    if (user.muted_until) state.push(`${t("user.muted")} ${formatTime(user.muted_until)}`);
    $("user-state").textContent = state.join(" · ");
    fillTable($("user-sessions"), user.sessions.map((s) => [
      s.session, s.gateway, s.platform, s.device, s.sdk, s.address, formatTime(s.since)]));
    const rooms = $("user-rooms");
    rooms.replaceChildren();
    for (const room of user.rooms) {
      const item = document.createElement("li");
      item.textContent = room;
      rooms.appendChild(item);
    }
    showStatus("", false);
  } catch (error) {
    $("user-result").hidden = true;
    failed(error);
  }
}

async function userAction(method, suffix, withBody) {
  const uid = $("user-title").textContent;
  const reason = $("user-reason").value;
  const body = withBody ? { duration: Number($("user-duration").value || 0), reason }
    : (suffix === "logout" ? { reason } : undefined);
  // Lifting a ban or mute takes its reason as a query parameter: DELETE has no body.
  const query = method === "DELETE" && reason ? `?${new URLSearchParams({ reason })}` : "";
  try {
    const result = await api(method,
      `/v1/users/${encodeURIComponent(uid)}/${suffix}${query}`, body);
    const message = suffix === "logout"
      ? t("user.kicked", { n: result.sessions, uid }) : t("done");
    await lookUpUser();
    showStatus(message, false);
  } catch (error) {
    failed(error);
  }
}

// --- rooms ------------------------------------------------------------------------------

async function lookUpRoom(event) {
  if (event) event.preventDefault();
  const room = $("room-id").value.trim();
  try {
    const info = await api("GET", `/v1/rooms/${encodeURIComponent(room)}`);
    $("room-result").hidden = false;
    $("room-title").textContent = info.room;
    const facts = $("room-info");
    facts.replaceChildren();
    const shown = {
      name: info.name, owner: info.owner || "–", members: info.members, online: info.online,
      max_members: info.max_members, seq: info.seq,
      muted_all: info.muted_all ? t("yes") : t("no"), admins: (info.admins || []).join(", "),
    };
    for (const [name, value] of Object.entries(shown)) {
      const dt = document.createElement("dt");
      dt.textContent = t(`field.${name}`);
      const dd = document.createElement("dd");
      dd.textContent = value;
      dd.id = `room-fact-${name}`;
      facts.append(dt, dd);
    }
    $("room-members").replaceChildren();
    membersCursor = null;
    await loadMembers();
    showStatus("", false);
  } catch (error) {
    $("room-result").hidden = true;
    failed(error);
  }
}

async function loadMembers() {
  const room = $("room-title").textContent;
  const params = new URLSearchParams({ limit: "100" });
  if (membersCursor) params.set("cursor", membersCursor);
  try {
    const page = await api("GET", `/v1/rooms/${encodeURIComponent(room)}/members?${params}`);
    for (const member of page.members) {
      const tr = document.createElement("tr");
      cell(tr, member.uid);
      cell(tr, t(`role.${member.role}`));
      $("room-members").appendChild(tr);
    }
    membersCursor = page.cursor || null;
    $("room-more").hidden = !membersCursor;
  } catch (error) {
    failed(error);
  }
}

async function roomAction(method, suffix, confirmText) {
  const room = $("room-title").textContent;
  if (confirmText && !confirm(confirmText)) return;
  try {
    await api(method, `/v1/rooms/${encodeURIComponent(room)}${suffix}`);
    if (method === "DELETE" && suffix === "") {
      $("room-result").hidden = true;
      showStatus(t("room.destroyed", { room }), false);
      return;
    }
    await lookUpRoom();
    showStatus(t("done"), false);
  } catch (error) {
    failed(error);
  }
}

// --- audit ------------------------------------------------------------------------------

async function loadAudit(event) {
  if (event) event.preventDefault();
  const params = new URLSearchParams({ limit: "200" });
  if ($("audit-room").value.trim()) params.set("room", $("audit-room").value.trim());
  if ($("audit-uid").value.trim()) params.set("uid", $("audit-uid").value.trim());
  try {
    const data = await api("GET", `/v1/moderation/audit?${params}`);
    fillTable($("audit-rows"), data.entries.map((e) => [
      formatTime(e.ts), e.actor, t(`action.${e.action}`), e.target, e.room, formatTime(e.until),
      e.reason]));
    showStatus("", false);
  } catch (error) {
    failed(error);
  }
}

// --- wiring -----------------------------------------------------------------------------

function start() {
  $("lang").value = language;
  applyLanguage(language);
  $("lang").addEventListener("change", () => {
    applyLanguage($("lang").value);
    route();
  });
  $("signin-form").addEventListener("submit", signIn);
  $("signout").addEventListener("click", signOut);
  $("daily-form").addEventListener("submit", loadDaily);
  $("user-form").addEventListener("submit", lookUpUser);
  $("user-kick").addEventListener("click", () => userAction("POST", "logout", false));
  $("user-ban").addEventListener("click", () => userAction("PUT", "ban", true));
  $("user-unban").addEventListener("click", () => userAction("DELETE", "ban", false));
  $("user-mute").addEventListener("click", () => userAction("PUT", "mute", true));
  $("user-unmute").addEventListener("click", () => userAction("DELETE", "mute", false));
  $("room-form").addEventListener("submit", lookUpRoom);
  $("room-more").addEventListener("click", loadMembers);
  $("room-mute-all").addEventListener("click", () => roomAction("PUT", "/mute-all"));
  $("room-unmute-all").addEventListener("click", () => roomAction("DELETE", "/mute-all"));
  $("room-destroy").addEventListener("click", () => roomAction(
    "DELETE", "", t("room.confirmDestroy", { room: $("room-title").textContent })));
  $("audit-form").addEventListener("submit", loadAudit);
  window.addEventListener("hashchange", route);
  route();
}

start();
