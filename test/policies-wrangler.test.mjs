// maxUploads under a real `wrangler dev`: ten uploads with one token of `maxUploads: 3` start
// at the same moment over HTTP; exactly three are answered 201 and seven 403, the token says it
// has made three, and once wrangler has stopped, its R2 state (read back with Miniflare) holds
// exactly those three videos and nothing of the seven others.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { Miniflare } from "miniflare";
import { startWrangler } from "./support/wrangler.mjs";

const KEY = "policies-wrangler-key-0123456789";
const auth = { Authorization: "Basic " + Buffer.from(`${KEY}:`).toString("base64") };
const REF = "https://docs.api.video/reference/";

let server;
let state;

before(async () => {
  server = await startWrangler({
    vars: { API_KEYS: `policies:${KEY}`, AUTH_SIGNING_KEY: "policies-wrangler-signing-key-0123456789" },
  });
  state = server.state;
});

after(async () => {
  await server?.stop();
  if (state) rmSync(state, { recursive: true, force: true });
});

async function json(res) {
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: text ? JSON.parse(text) : undefined };
}

function upload(token, i) {
  const form = new FormData();
  form.append("file", new Blob([Buffer.alloc(1000 + i, i)], { type: "video/mp4" }), `race-${i}.mp4`);
  return fetch(`${server.base}/upload?token=${token}`, { method: "POST", body: form }).then(json);
}

/** Every key of the Worker's R2 bucket as wrangler dev left it in `state`. */
async function persistedKeys() {
  const mf = new Miniflare({
    modules: true,
    script: "export default { fetch() { return new Response(null, { status: 204 }); } }",
    r2Buckets: { VIDEOS: "upload-token-videos" },
    r2Persist: join(state, "v3", "r2"),
  });
  try {
    const bucket = await mf.getR2Bucket("VIDEOS");
    const keys = [];
    let cursor;
    do {
      const page = await bucket.list(cursor ? { cursor } : {});
      keys.push(...page.objects.map((o) => o.key));
      cursor = page.truncated ? page.cursor : undefined;
    } while (cursor);
    return keys.sort();
  } finally {
    await mf.dispose();
  }
}

test("ten uploads at once with a maxUploads 3 token: exactly three videos exist afterwards", { timeout: 180_000 }, async () => {
  const created = await json(
    await fetch(`${server.base}/upload-tokens`, {
      method: "POST",
      headers: { ...auth, "Content-Type": "application/json" },
      body: JSON.stringify({ ttl: 3600, maxUploads: 3 }),
    }),
  );
  assert.equal(created.status, 200, created.text);
  const token = created.json.token;

  const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => upload(token, i)));
  const accepted = answers.filter((a) => a.status === 201);
  const refused = answers.filter((a) => a.status !== 201);
  assert.equal(accepted.length, 3, answers.map((a) => `${a.status} ${a.text}`).join("\n"));
  assert.equal(refused.length, 7);
  for (const r of refused) {
    assert.equal(r.status, 403, r.text);
    assert.equal(r.json.type, `${REF}upload-token-max-uploads-reached`);
    assert.equal(r.headers.get("access-control-allow-origin"), "*");
  }
  const ids = accepted.map((a) => a.json.videoId).sort();
  assert.equal(new Set(ids).size, 3);

  const shown = await json(await fetch(`${server.base}/upload-tokens/${token}`, { headers: auth }));
  assert.equal(shown.json.uploadsUsed, 3, shown.text);
  assert.equal(shown.json.maxUploads, 3);
  for (const id of ids) {
    const video = await json(await fetch(`${server.base}/videos/${id}`, { headers: auth }));
    assert.equal(video.json.ingest?.status, "uploaded", video.text);
  }

  await server.stop({ keepState: true });
  const keys = await persistedKeys();
  const videos = [...new Set(keys.filter((k) => k.startsWith("videos/")).map((k) => k.split("/")[1]))].sort();
  assert.deepEqual(videos, ids, `the bucket holds exactly the three videos: ${keys.join(", ")}`);
  assert.deepEqual(keys.filter((k) => !k.startsWith("videos/")), [], "no staged file, marker or open upload is left");
});
