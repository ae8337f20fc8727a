// AIMA browser UI: plain JavaScript against the public API (/api/v1). Tokens live in sessionStorage.
const $ = (sel) => document.querySelector(sel);
const api = async (path, opts = {}) => {
  const token = sessionStorage.getItem("access");
  const headers = Object.assign({}, opts.headers || {}, token ? { Authorization: "Bearer " + token } : {});
  let res = await fetch(path, Object.assign({}, opts, { headers }));
  if (res.status === 401 && sessionStorage.getItem("refresh") && !opts._retried) {
    if (await refresh()) return api(path, Object.assign({}, opts, { _retried: true }));
  }
  return res;
};

async function refresh() {
  const res = await fetch("/api/v1/auth/refresh", {
    method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ refresh_token: sessionStorage.getItem("refresh") }),
  });
  if (!res.ok) { sessionStorage.clear(); show(); return false; }
  const t = await res.json();
  sessionStorage.setItem("access", t.access_token);
  sessionStorage.setItem("refresh", t.refresh_token);
  return true;
}

function text(tag, value, cls) {
  const el = document.createElement(tag);
  el.textContent = value;
  if (cls) el.className = cls;
  return el;
}

async function show() {
  const loggedIn = !!sessionStorage.getItem("access");
  $("#login-view").hidden = loggedIn;
  $("#app-view").hidden = !loggedIn;
  $("#logout").hidden = !loggedIn;
  if (!loggedIn) return;
  const me = await api("/api/v1/auth/me");
  if (!me.ok) return;
  const who = await me.json();
  $("#who").textContent = `${who.username} (${who.role})`;
  loadJobs();
  loadMedia();
}

async function loadJobs() {
  const res = await api("/api/v1/jobs?limit=20");
  if (!res.ok) return;
  const body = $("#jobs tbody");
  body.replaceChildren();
  for (const job of (await res.json()).items) {
    const tr = document.createElement("tr");
    tr.append(text("td", job.id), text("td", job.media_id), text("td", job.state));
    const td = document.createElement("td");
    const bar = document.createElement("progress");
    bar.max = 1; bar.value = job.progress;
    td.append(bar);
    tr.append(td);
    const actions = document.createElement("td");
    if (job.state === "queued" || job.state === "running") {
      const b = text("button", "cancel");
      b.onclick = async () => { await api(`/api/v1/jobs/${job.id}/cancel`, { method: "POST" }); loadJobs(); };
      actions.append(b);
      follow(job.id, bar, tr.children[2]);
    }
    tr.append(actions);
    body.append(tr);
  }
}

function follow(jobId, bar, stateCell) {
  const url = `/api/v1/jobs/${jobId}/events?access_token=${encodeURIComponent(sessionStorage.getItem("access"))}`;
  const source = new EventSource(url);
  source.addEventListener("progress", (e) => {
    const d = JSON.parse(e.data);
    bar.value = d.progress;
    stateCell.textContent = d.state;
  });
  source.addEventListener("end", () => { source.close(); loadMedia(); });
  source.onerror = () => source.close();
}

async function loadMedia() {
  const res = await api("/api/v1/media?limit=60");
  if (!res.ok) return;
  const grid = $("#media");
  grid.replaceChildren();
  for (const m of (await res.json()).items) {
    const card = document.createElement("div");
    card.className = "card";
    const img = document.createElement("img");
    img.alt = m.original_name;
    card.append(img, text("div", m.original_name), text("div", `${m.kind} · ${m.format} · ${(m.size / 1e6).toFixed(1)} MB`));
    grid.append(card);
    const r = await api(`/api/v1/media/${m.id}/results`);
    if (!r.ok) continue;
    const thumbs = (await r.json()).find((x) => x.analyzer === "thumbnails");
    const sha = thumbs && (thumbs.data.thumbnail || thumbs.data.waveform);
    if (sha) {
      const blob = await (await api(`/api/v1/media/${m.id}/artifacts/${sha}`)).blob();
      img.src = URL.createObjectURL(blob);
    }
  }
}

$("#login").onsubmit = async (e) => {
  e.preventDefault();
  const form = new FormData(e.target);
  const res = await fetch("/api/v1/auth/login", {
    method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ username: form.get("username"), password: form.get("password") }),
  });
  const body = await res.json();
  if (!res.ok) { $("#login-error").textContent = body.error.message; return; }
  sessionStorage.setItem("access", body.access_token);
  sessionStorage.setItem("refresh", body.refresh_token);
  show();
};

$("#upload").onsubmit = async (e) => {
  e.preventDefault();
  const form = new FormData(e.target);
  form.set("analyze", e.target.analyze.checked ? "true" : "false");
  const res = await api("/api/v1/media", { method: "POST", body: form });
  const body = await res.json();
  const list = $("#upload-results");
  list.replaceChildren();
  for (const f of body.files || []) {
    list.append(text("li", `${f.name}: ${f.status}${f.error ? " — " + f.error.message : ""}`, f.status));
  }
  loadJobs();
  loadMedia();
};

$("#logout").onclick = async () => {
  await fetch("/api/v1/auth/logout", {
    method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ refresh_token: sessionStorage.getItem("refresh") || "-" }),
  });
  sessionStorage.clear();
  show();
};

show();
