// The console: sign-in, the token listing (sort, page size, pages from the answer's links, a live
// "expires in"), creating, copying and deleting tokens, and an upload through api.video's uploader.
import { ApiProblem, SessionEnded, call, download, forgetSession, signIn, signedIn } from "./api.js";

const MiB = 1024 * 1024;
const $ = (id) => document.getElementById(id);

const ui = {
  boot: $("boot"),
  sessionState: $("session-state"),
  signOut: $("sign-out"),
  signIn: $("sign-in"),
  signInForm: $("sign-in-form"),
  apiKey: $("api-key"),
  signInProblem: $("sign-in-problem"),
  tokens: $("tokens"),
  createForm: $("create-form"),
  listForm: $("list-form"),
  reload: $("reload"),
  tokensStatus: $("tokens-status"),
  tokensProblem: $("tokens-problem"),
  tokenRows: $("token-rows"),
  caption: $("token-caption"),
  noTokens: $("no-tokens"),
  pageInfo: $("page-info"),
  pager: document.querySelectorAll(".pager button[data-rel]"),
  upload: $("upload"),
  uploadForm: $("upload-form"),
  uploadFile: $("upload-file"),
  uploadToken: $("upload-token"),
  uploadTokenOptions: $("upload-token-options"),
  uploadChunkSize: $("upload-chunk-size"),
  uploadStart: $("upload-start"),
  uploadCancel: $("upload-cancel"),
  uploadHttpsNote: $("upload-https-note"),
  progressBox: $("upload-progress-box"),
  progress: $("upload-progress"),
  uploadStatus: $("upload-status"),
  chunks: $("upload-chunks"),
  uploadProblem: $("upload-problem"),
  uploadResult: $("upload-result"),
  videoId: $("video-id"),
  videoTitle: $("video-title"),
  videoSize: $("video-size"),
  videoSource: $("video-source"),
  videoSourceStatus: $("video-source-status"),
  videoAnswerPath: $("video-answer-path"),
  videoJson: $("video-json"),
  deleteDialog: $("delete-dialog"),
  deleteToken: $("delete-token"),
  deleteCancel: $("delete-cancel"),
  deleteConfirm: $("delete-confirm"),
};

const bytes = new Intl.NumberFormat("en");
const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });

// ---------------------------------------------------------------------------------------------
// Problems and status lines

/** Shows an API problem (its title and detail) in `box`, or hides `box` when `error` is null. */
function showProblem(box, error) {
  box.replaceChildren();
  box.hidden = !error;
  if (!error) return;
  const problem = error instanceof ApiProblem ? error.problem : { title: String(error?.message ?? error) };
  const title = document.createElement("p");
  title.className = "problem-title";
  title.textContent = problem.title || (error.status ? `HTTP ${error.status}` : "Something went wrong.");
  box.append(title);
  if (problem.detail) {
    const detail = document.createElement("p");
    detail.className = "problem-detail";
    detail.textContent = problem.detail;
    box.append(detail);
  }
  const facts = [];
  if (error.status) facts.push(`status ${error.status}`);
  if (problem.name) facts.push(`field ${problem.name}`);
  if (facts.length) {
    const more = document.createElement("p");
    more.className = "problem-facts";
    more.textContent = facts.join(", ");
    box.append(more);
  }
}

/** Runs `work` for a control: problems go to `box`, an ended session back to the sign-in form. */
async function guarded(box, work) {
  showProblem(box, null);
  try {
    return await work();
  } catch (e) {
    if (e instanceof SessionEnded) {
      showSignedOut(e);
      return undefined;
    }
    showProblem(box, e);
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// Signed in / signed out

/** Shows what a signed-in user works with, or else the sign-in form alone. */
function showSections(signedIn) {
  ui.boot.hidden = true;
  ui.signIn.hidden = signedIn;
  for (const section of [ui.sessionState, ui.signOut, ui.tokens, ui.upload]) section.hidden = !signedIn;
}

function showSignedIn() {
  showSections(true);
  startCountdown();
}

function showSignedOut(problem) {
  forgetSession();
  stopCountdown();
  showSections(false);
  if (ui.deleteDialog.open) ui.deleteDialog.close("cancel");
  cancelUpload();
  // Nothing of the last session stays on the page.
  ui.tokenRows.replaceChildren();
  ui.uploadTokenOptions.replaceChildren();
  ui.uploadToken.value = "";
  ui.uploadFile.value = "";
  ui.tokensStatus.textContent = "";
  ui.pageInfo.textContent = "";
  ui.progressBox.hidden = true;
  ui.uploadResult.hidden = true;
  showProblem(ui.tokensProblem, null);
  showProblem(ui.uploadProblem, null);
  showProblem(ui.signInProblem, problem ?? null);
  links = {};
  loads++;
}

ui.signInForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const key = ui.apiKey.value.trim();
  if (!key) return;
  const button = ui.signInForm.querySelector("button[type=submit]");
  button.disabled = true;
  showProblem(ui.signInProblem, null);
  try {
    await signIn(key);
    ui.apiKey.value = "";
    showSignedIn();
    await loadFirstPage();
  } catch (e) {
    showProblem(ui.signInProblem, e);
  } finally {
    button.disabled = false;
  }
});

ui.signOut.addEventListener("click", () => {
  showSignedOut(null);
  ui.apiKey.focus();
});

// ---------------------------------------------------------------------------------------------
// Listing

/** The answer's links by `rel` (self, first, previous, next, last). */
let links = {};
/** Numbers the listing requests: only the answer to the latest one is shown. */
let loads = 0;

/**
 * The listing query from the listing form: every named control with a value is a parameter,
 * and the metadata key and value, when a key is given, one `metadata[key]=value` filter.
 */
function listQuery(currentPage = 1) {
  const query = new URLSearchParams();
  for (const [name, value] of new FormData(ui.listForm)) {
    if (typeof value === "string" && value.trim() !== "") query.append(name, value.trim());
  }
  const [key, value] = ["key", "value"].map((k) => ui.listForm.querySelector(`[data-metadata="${k}"]`).value.trim());
  if (key !== "") query.append(`metadata[${key}]`, value);
  query.set("currentPage", String(currentPage));
  return `/upload-tokens?${query}`;
}

function loadFirstPage() {
  return loadPage(listQuery(1));
}

/** Loads one page of the listing from `uri` (a query built here or a link of the last answer). */
async function loadPage(uri) {
  const load = ++loads;
  let answer;
  try {
    answer = await call(uri);
  } catch (e) {
    if (load !== loads) return;
    if (e instanceof SessionEnded) showSignedOut(e);
    else showProblem(ui.tokensProblem, e);
    return;
  }
  if (load !== loads) return;
  showProblem(ui.tokensProblem, null);
  const { data, pagination } = answer;
  if (data.length === 0 && pagination.currentPage > 1) {
    // The page emptied (a deletion, an expiry): show the last page there is.
    const last = pagination.links.find((l) => l.rel === "last");
    if (last && last.uri !== uri) return loadPage(last.uri);
  }
  links = Object.fromEntries(pagination.links.map((l) => [l.rel, l.uri]));
  renderRows(data);
  const { currentPage, pagesTotal, itemsTotal } = pagination;
  ui.pageInfo.textContent = `Page ${currentPage} of ${pagesTotal}`;
  ui.caption.textContent = `Active tokens: ${itemsTotal}, page ${currentPage} of ${pagesTotal}`;
  for (const button of ui.pager) {
    const rel = button.dataset.rel;
    const here = (rel === "first" && currentPage === 1) || (rel === "last" && currentPage === pagesTotal);
    button.disabled = !links[rel] || here;
  }
  ui.noTokens.hidden = data.length > 0;
}

function reloadPage() {
  return loadPage(links.self ?? listQuery(1));
}

function cell(row, content, label) {
  const td = document.createElement("td");
  td.dataset.label = label;
  if (content instanceof Node) td.append(content);
  else td.textContent = content;
  row.append(td);
  return td;
}

function timeElement(iso) {
  const t = document.createElement("time");
  t.dateTime = iso;
  t.title = iso;
  const parsed = Date.parse(iso);
  t.textContent = Number.isNaN(parsed) ? iso : dateTime.format(parsed);
  return t;
}

function button(text, describedBy, onClick, className) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = text;
  b.setAttribute("aria-describedby", describedBy);
  if (className) b.className = className;
  b.addEventListener("click", onClick);
  return b;
}

/** A token's policies in a few words (empty for a token without). */
function policySummary(t) {
  const parts = [];
  if (t.maxUploads !== undefined) parts.push(`${t.uploadsUsed ?? 0} of ${t.maxUploads} uploads`);
  if (t.maxFileSize !== undefined) parts.push(`≤ ${bytes.format(t.maxFileSize)} bytes`);
  if (t.allowedOrigins) parts.push(`from ${t.allowedOrigins.join(", ")}`);
  if (t.metadata) parts.push(t.metadata.map((m) => `${m.key}=${m.value}`).join(", "));
  return parts.join("; ");
}

function renderRows(tokens) {
  const rows = tokens.map((t, i) => {
    const row = document.createElement("tr");
    row.dataset.token = t.token;
    const id = `token-${i}`;
    const code = document.createElement("code");
    code.id = id;
    code.textContent = t.token;
    cell(row, code, "Token");
    cell(row, t.ttl === 0 ? "0 (never)" : `${bytes.format(t.ttl)} s`, "TTL");
    cell(row, timeElement(t.createdAt), "Created");
    cell(row, t.expiresAt ? timeElement(t.expiresAt) : "never", "Expires");
    const left = cell(row, "", "Expires in");
    left.className = "countdown";
    if (t.expiresAt) left.dataset.expiresAt = String(Date.parse(t.expiresAt));
    else left.textContent = "never";
    cell(row, policySummary(t), "Policies");
    const actions = document.createElement("div");
    actions.className = "actions";
    actions.append(
      button("Copy", id, () => copyToken(t.token, code)),
      button("Use", id, () => useToken(t.token)),
      button("Delete", id, () => askDelete(t.token), "danger"),
    );
    cell(row, actions, "");
    return row;
  });
  ui.tokenRows.replaceChildren(...rows);
  ui.uploadTokenOptions.replaceChildren(
    ...tokens.map((t) => {
      const option = document.createElement("option");
      option.value = t.token;
      return option;
    }),
  );
  tick();
}

ui.listForm.addEventListener("change", () => {
  if (ui.listForm.reportValidity()) loadFirstPage();
});
ui.listForm.addEventListener("submit", (event) => {
  event.preventDefault();
  if (ui.listForm.reportValidity()) loadFirstPage();
});
ui.reload.addEventListener("click", () => reloadPage());
for (const b of ui.pager) {
  b.addEventListener("click", () => {
    const uri = links[b.dataset.rel];
    if (uri) loadPage(uri);
  });
}

// ---------------------------------------------------------------------------------------------
// "Expires in", live

let countdown = null;

function remaining(ms) {
  if (ms <= 0) return "expired";
  let s = Math.ceil(ms / 1000);
  const d = Math.floor(s / 86400);
  s -= d * 86400;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  if (d > 0) return `${d} d ${h} h`;
  if (h > 0) return `${h} h ${m} min`;
  if (m > 0) return `${m} min ${s} s`;
  return `${s} s`;
}

function tick() {
  const now = Date.now();
  for (const td of ui.tokenRows.querySelectorAll("td[data-expires-at]")) {
    const left = Number(td.dataset.expiresAt) - now;
    const text = remaining(left);
    if (td.textContent !== text) td.textContent = text;
    td.closest("tr").classList.toggle("expired", left <= 0);
  }
}

function startCountdown() {
  countdown ??= setInterval(tick, 1000);
}

function stopCountdown() {
  clearInterval(countdown);
  countdown = null;
}

// ---------------------------------------------------------------------------------------------
// Create, copy, use, delete

/** The creation body from the create form: every named control, read as its data-type says. */
function creationBody() {
  const body = {};
  for (const control of ui.createForm.elements) {
    if (!control.name || control.disabled) continue;
    const raw = control.value.trim();
    if (raw === "") continue;
    switch (control.dataset.type) {
      case "integer":
        body[control.name] = Number(raw);
        break;
      case "list":
        body[control.name] = raw.split(/[\s,]+/).filter(Boolean);
        break;
      case "pairs":
        body[control.name] = raw
          .split(",")
          .map((pair) => pair.trim())
          .filter(Boolean)
          .map((pair) => {
            const at = pair.indexOf("=");
            return at < 0 ? { key: pair, value: "" } : { key: pair.slice(0, at).trim(), value: pair.slice(at + 1).trim() };
          });
        break;
      default:
        body[control.name] = raw;
    }
  }
  return body;
}

ui.createForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  if (!ui.createForm.reportValidity()) return;
  const submit = ui.createForm.querySelector("button[type=submit]");
  submit.disabled = true;
  ui.tokensStatus.textContent = "";
  try {
    const token = await guarded(ui.tokensProblem, () => call("/upload-tokens", { method: "POST", json: creationBody() }));
    if (!token) return;
    ui.tokensStatus.textContent = `Created ${token.token} (${token.expiresAt ? `expires ${dateTime.format(Date.parse(token.expiresAt))}` : "never expires"}).`;
    if (!ui.uploadToken.value) ui.uploadToken.value = token.token;
    await reloadPage();
  } finally {
    submit.disabled = false;
  }
});

async function copyToken(token, code) {
  try {
    await navigator.clipboard.writeText(token);
  } catch {
    // No asynchronous clipboard (an insecure origin, a refusal): copy the selected text.
    const range = document.createRange();
    range.selectNodeContents(code);
    const selection = getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    const copied = document.execCommand("copy");
    if (!copied) {
      ui.tokensStatus.textContent = `Could not copy: ${token} is selected, copy it by hand.`;
      return;
    }
  }
  ui.tokensStatus.textContent = `Copied ${token}.`;
}

function useToken(token) {
  ui.uploadToken.value = token;
  ui.uploadToken.focus();
  ui.uploadToken.scrollIntoView({ block: "center" });
}

function askDelete(token) {
  ui.deleteToken.textContent = token;
  ui.deleteDialog.returnValue = "";
  ui.deleteDialog.showModal();
  ui.deleteCancel.focus();
}

ui.deleteCancel.addEventListener("click", () => ui.deleteDialog.close("cancel"));
ui.deleteConfirm.addEventListener("click", () => ui.deleteDialog.close("delete"));
ui.deleteDialog.addEventListener("close", async () => {
  if (ui.deleteDialog.returnValue !== "delete") return;
  const token = ui.deleteToken.textContent;
  ui.tokensStatus.textContent = "";
  const done = await guarded(ui.tokensProblem, async () => {
    await call(`/upload-tokens/${encodeURIComponent(token)}`, { method: "DELETE" });
    return true;
  });
  if (!done) return;
  ui.tokensStatus.textContent = `Deleted ${token}.`;
  if (ui.uploadToken.value === token) ui.uploadToken.value = "";
  await reloadPage();
});

// ---------------------------------------------------------------------------------------------
// Upload

/** The upload in progress: its uploader, and whether it was cancelled. */
let running = null;

/**
 * api.video's uploader always sends to `https://{apiHost}`. On a page served over plain http
 * (`npm start`), the uploader is pointed at this page's origin instead: version 1.1.6 keeps the
 * address it built in `uploadEndpoint` and reads it again for every chunk. Returns false when
 * that is not possible (another version of the uploader).
 */
function sendToThisOrigin(uploader, token) {
  if (location.protocol === "https:") return true;
  const built = `https://${location.host}/upload?token=`;
  if (typeof uploader.uploadEndpoint !== "string" || !uploader.uploadEndpoint.startsWith(built)) return false;
  uploader.uploadEndpoint = `${location.origin}/upload?token=${encodeURIComponent(token)}`;
  return true;
}

function httpsNote() {
  ui.uploadHttpsNote.hidden = false;
  ui.uploadHttpsNote.textContent =
    "api.video's uploader only speaks https, and this page is served over http: uploads from here " +
    "cannot reach the service. Serve it over https (locally: npm start -- --local-protocol https) " +
    "and open the console there.";
}

function chunkLine(index, count, size) {
  const li = document.createElement("li");
  li.textContent = `Chunk ${index} of ${count}: ${bytes.format(size)} bytes sent`;
  ui.chunks.append(li);
}

function showProgress(done, total, chunk, chunks) {
  ui.progress.max = total || 1;
  ui.progress.value = done;
  const percent = total ? Math.floor((done * 100) / total) : 100;
  ui.uploadStatus.textContent =
    `${bytes.format(done)} of ${bytes.format(total)} bytes (${percent} %), chunk ${chunk} of ${chunks}`;
}

function cancelUpload() {
  if (!running) return;
  running.cancelled = true;
  running.uploader.cancel();
}

ui.uploadCancel.addEventListener("click", cancelUpload);

ui.uploadForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  if (running || !ui.uploadForm.reportValidity()) return;
  showProblem(ui.uploadProblem, null);
  ui.uploadResult.hidden = true;
  if (typeof window.VideoUploader !== "function") {
    showProblem(ui.uploadProblem, {
      message: "api.video's uploader is missing (console/vendor/video-uploader.js): build with scripts/build.sh.",
    });
    return;
  }
  const file = ui.uploadFile.files[0];
  if (file.size === 0) {
    showProblem(ui.uploadProblem, { message: `${file.name} is empty: there is nothing to upload.` });
    return;
  }
  const token = ui.uploadToken.value.trim();
  const chunkSize = Number(ui.uploadChunkSize.value) * MiB;
  let uploader;
  try {
    uploader = new window.VideoUploader({ file, uploadToken: token, apiHost: location.host, chunkSize, retries: 3 });
  } catch (e) {
    showProblem(ui.uploadProblem, e);
    return;
  }
  if (!sendToThisOrigin(uploader, token)) {
    httpsNote();
    return;
  }

  const chunks = Math.max(1, Math.ceil(file.size / chunkSize));
  const sizeOf = (n) => Math.min(file.size, n * chunkSize) - (n - 1) * chunkSize;
  let current = 1;
  ui.chunks.replaceChildren();
  ui.progressBox.hidden = false;
  showProgress(0, file.size, 1, chunks);
  uploader.onProgress((e) => {
    // The uploader counts the multipart envelope too: keep the figure within the chunk's bytes.
    const start = (e.currentChunk - 1) * e.chunksBytes;
    const end = Math.min(e.totalBytes, e.currentChunk * e.chunksBytes);
    const done = Math.min(end, Math.max(start, e.uploadedBytes));
    // A chunk is only started once the one before it was answered.
    while (current < e.currentChunk) chunkLine(current, chunks, sizeOf(current++));
    showProgress(done, e.totalBytes, e.currentChunk, e.chunksCount);
  });

  const run = { uploader, cancelled: false };
  running = run;
  ui.uploadStart.disabled = true;
  ui.uploadCancel.hidden = false;
  try {
    const video = await uploader.upload();
    if (run.cancelled) {
      // Cancelled between two chunks, the uploader ends early with the answer to the last one.
      ui.uploadStatus.textContent += ": cancelled";
      return;
    }
    while (current <= chunks) chunkLine(current, chunks, sizeOf(current++));
    showProgress(file.size, file.size, chunks, chunks);
    ui.uploadStatus.textContent += ": uploaded";
    await showVideo(video);
  } catch (e) {
    if (e?.reason === "ABORTED") {
      ui.uploadStatus.textContent += ": cancelled";
    } else {
      ui.uploadStatus.textContent += ": failed";
      showProblem(ui.uploadProblem, uploadProblem(e));
    }
  } finally {
    running = null;
    ui.uploadStart.disabled = false;
    ui.uploadCancel.hidden = true;
  }
});

/** The uploader rejects with the answer's problem fields, or a reason when there is no answer. */
function uploadProblem(e) {
  if (e instanceof Error) return e;
  if (e?.title || e?.status) return new ApiProblem(e.status ?? 0, e);
  const reasons = {
    NETWORK_ERROR: "The upload could not reach the service (network error).",
    NETWORK_TIMEOUT: "The upload timed out.",
  };
  return new ApiProblem(0, { title: reasons[e?.reason] ?? `The upload failed (${e?.reason ?? "unknown"}).` });
}

/** Shows the Video: the service's own answer for it, and a link to its source. */
async function showVideo(uploaded) {
  const path = `/videos/${encodeURIComponent(uploaded.videoId)}`;
  let video;
  try {
    video = await call(path);
  } catch (e) {
    if (e instanceof SessionEnded) return showSignedOut(e);
    showProblem(ui.uploadProblem, e);
    video = uploaded;
  }
  ui.videoId.textContent = video.videoId;
  ui.videoTitle.textContent = video.title ?? "";
  const size = video.ingest?.filesize;
  ui.videoSize.textContent = size === undefined ? "" : `${bytes.format(size)} bytes`;
  const source = video.source?.uri ?? `${path}/source`;
  ui.videoSource.href = source;
  ui.videoSource.textContent = source;
  ui.videoSource.dataset.fileName = video.title || `${video.videoId}`;
  ui.videoSourceStatus.textContent = "";
  ui.videoAnswerPath.textContent = `GET ${path}`;
  ui.videoJson.textContent = JSON.stringify(video, null, 2);
  ui.uploadResult.hidden = false;
}

// The source needs the bearer token: it is fetched, then handed to the browser as a download.
ui.videoSource.addEventListener("click", async (event) => {
  event.preventDefault();
  const link = ui.videoSource;
  ui.videoSourceStatus.textContent = "Fetching the source…";
  const blob = await guarded(ui.uploadProblem, () => download(link.getAttribute("href")));
  if (!blob) {
    ui.videoSourceStatus.textContent = "";
    return;
  }
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = link.dataset.fileName;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
  ui.videoSourceStatus.textContent = `Downloaded ${bytes.format(blob.size)} bytes.`;
});

// ---------------------------------------------------------------------------------------------
// Start

// Over http, say at once whether uploads can be sent from this page.
if (location.protocol !== "https:" && typeof window.VideoUploader === "function") {
  const probe = new window.VideoUploader({ file: new File([], "probe"), uploadToken: `to${"0".repeat(22)}`, apiHost: location.host });
  if (!sendToThisOrigin(probe, "probe")) httpsNote();
}

if (signedIn()) {
  showSignedIn();
  loadFirstPage();
} else {
  showSignedOut(null);
}
window.consoleReady = true;
