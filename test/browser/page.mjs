// The test page's uploads: files are built in the page from deterministic bytes, sent with
// api.video's browser uploader, and each run is shown in the table and returned to the test.
import { pseudoRandomBytes } from "./prng.mjs";

const MiB = 1024 * 1024;

async function sha256(blob) {
  const digest = await crypto.subtle.digest("SHA-256", await blob.arrayBuffer());
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function show(run, ok, detail, size, hash, ms) {
  const row = document.createElement("tr");
  row.className = ok ? "ok" : "failed";
  for (const text of [run, ok ? "uploaded" : "failed", detail, String(size ?? ""), hash ?? "", String(ms)]) {
    const cell = document.createElement("td");
    cell.textContent = text;
    row.append(cell);
  }
  document.getElementById("runs").append(row);
}

/** What an uploader's rejection says (the uploader rejects with a plain object). */
function failure(e) {
  return { status: e?.status, type: e?.type, title: e?.title, reason: e?.reason, message: e?.message };
}

/** Uploads one File of `size` bytes with VideoUploader in chunks of `chunkSize`. */
window.uploadFile = async ({ token, apiHost, name, size, seed, chunkSize }) => {
  const file = new File([pseudoRandomBytes(seed, size)], name, { type: "video/mp4" });
  const hash = await sha256(file);
  const progress = [];
  const started = performance.now();
  try {
    const uploader = new VideoUploader({ uploadToken: token, apiHost, file, chunkSize });
    uploader.onProgress((e) => progress.push({ chunk: e.currentChunk, of: e.chunksCount, uploaded: e.uploadedBytes }));
    const video = await uploader.upload();
    const ms = Math.round(performance.now() - started);
    show(`VideoUploader ${name}`, true, video.videoId, size, hash, ms);
    return { ok: true, video: { ...video, createdAt: String(video.createdAt) }, hash, size, ms, chunks: Math.max(0, ...progress.map((p) => p.of)) };
  } catch (e) {
    const ms = Math.round(performance.now() - started);
    show(`VideoUploader ${name}`, false, `${e?.status ?? ""} ${e?.type ?? e?.reason ?? e?.message ?? e}`, size, hash, ms);
    return { ok: false, error: failure(e), hash, size, ms };
  }
};

/** Sends parts of the given sizes with ProgressiveUploader, the last through uploadLastPart. */
window.uploadProgressive = async ({ token, apiHost, name, sizes, seed }) => {
  const all = pseudoRandomBytes(seed, sizes.reduce((a, b) => a + b, 0));
  const blobs = [];
  let at = 0;
  for (const n of sizes) {
    blobs.push(new Blob([all.subarray(at, at + n)]));
    at += n;
  }
  const hash = await sha256(new Blob(blobs));
  const started = performance.now();
  const answers = [];
  try {
    const uploader = new ProgressiveUploader({ uploadToken: token, apiHost, videoName: name });
    for (const blob of blobs.slice(0, -1)) {
      const res = await uploader.uploadPart(blob);
      answers.push(res?.videoId ?? null);
    }
    const video = await uploader.uploadLastPart(blobs.at(-1));
    answers.push(video.videoId);
    const ms = Math.round(performance.now() - started);
    show(`ProgressiveUploader ${name}`, true, video.videoId, all.length, hash, ms);
    return { ok: true, video: { ...video, createdAt: String(video.createdAt) }, answers, hash, size: all.length, ms };
  } catch (e) {
    const ms = Math.round(performance.now() - started);
    show(`ProgressiveUploader ${name}`, false, `${e?.status ?? ""} ${e?.type ?? e?.reason ?? e?.message ?? e}`, all.length, hash, ms);
    return { ok: false, error: failure(e), answers, hash, size: all.length, ms };
  }
};

document.getElementById("state").textContent = "ready";
window.pageReady = true;
