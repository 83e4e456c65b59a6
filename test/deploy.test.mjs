// The deploy script's decisions, against a stand-in `wrangler` first on PATH that records every
// call (arguments, stdin, the variables the script sets) and answers like wrangler 4.86 for an
// account the test describes: what runs, with what, in which order, for a login that is missing,
// a fresh account, secrets already there, a second and third run, and --project / --account.
// The fresh-account run goes all the way: the stand-in's deploy reports the URL of a real
// `wrangler dev` (through a proxy that maps the newly made API key to the key that runtime was
// started with), and the script's smoke check passes against it.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { filesWrittenSince, makeSandbox, root } from "./support/deploy-harness.mjs";
import { startProxy } from "./support/proxy.mjs";
import { startWrangler } from "./support/wrangler.mjs";

const B64URL = /^[A-Za-z0-9_-]+$/;
const DEV_KEY = "deploy-test-key-0123456789abcdef";
const sandboxes = [];
function sandbox(state) {
  const s = makeSandbox(state);
  sandboxes.push(s);
  return s;
}
after(() => sandboxes.forEach((s) => s.cleanup()));

/** The calls as short strings: "whoami --json", "secret put API_KEYS", … */
const names = (calls) => calls.map((c) => c.argv.join(" "));
const WHOAMI = "whoami --json";
const SECRET_LIST = "secret list --format json";
const put = (secret) => `secret put ${secret}`;
/** The calls of a run that deploys: the login, the secrets there are, those it puts, the deploy. */
const deploying = (...puts) => [WHOAMI, SECRET_LIST, ...puts.map(put), "deploy"];
/** The call that put `secret`, if any. */
const putOf = (calls, secret) => calls.find((c) => c.argv.join(" ") === put(secret));
const count = (haystack, needle) => haystack.split(needle).length - 1;

describe("deploy script", { timeout: 240000 }, () => {
  test("not logged in: a clear message, and no call after whoami", { timeout: 30000 }, async () => {
    const s = sandbox({ loggedIn: false });
    const r = await s.run();
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /not logged in to Cloudflare/);
    assert.match(r.stderr, /npx wrangler login/);
    assert.deepEqual(names(r.calls), [WHOAMI]);
  });

  test("an invalid --project stops before calling wrangler", { timeout: 30000 }, async () => {
    const s = sandbox({});
    const r = await s.run(["--project", "no spaces"]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /invalid project id "no spaces"/);
    assert.deepEqual(r.calls, []);
  });

  describe("fresh account, then run again", () => {
    let worker;
    let proxy;
    let s;
    let first;
    let newKey;

    before(async () => {
      worker = await startWrangler({
        vars: { API_KEYS: `default:${DEV_KEY}`, AUTH_SIGNING_KEY: "deploy-test-signing-key-0123456789abcdef" },
      });
      s = sandbox({});
      // The key the deploy script made is known once it has put API_KEYS: read it from the
      // stand-in's record of that call's stdin, and let the proxy send DEV_KEY in its place.
      const recordedKey = () => putOf(s.calls(), "API_KEYS")?.stdin.split(":")[1];
      proxy = await startProxy(worker.base, { replaceKey: (key) => (key === recordedKey() ? DEV_KEY : undefined) });
      s.setState({ deployUrl: proxy.base });
      first = await s.run([], { timeoutMs: 150000 });
      newKey = recordedKey();
    });

    after(async () => {
      await proxy?.close();
      await worker?.stop();
    });

    test("puts both secrets, deploys, then passes the smoke check with the new key", { timeout: 10000 }, () => {
      assert.equal(first.code, 0, first.stdout + first.stderr);
      assert.deepEqual(names(first.calls), deploying("AUTH_SIGNING_KEY", "API_KEYS"));
      assert.match(first.stdout, /Logged in as ops@example\.com, account Example/);
      assert.match(first.stdout, /does not exist yet/);
      assert.match(first.stdout, new RegExp(`Deployed: ${proxy.base}`));
      for (const step of [
        "reach the service",
        "create token \\(ttl 60\\)",
        "get token",
        "find token in listing",
        "upload smoke-check\\.txt",
        "get video",
        "download source",
        "delete token",
        "upload refused after delete",
      ]) {
        assert.match(first.stdout, new RegExp(`${step} +\\d+ ms  OK`), step);
      }
      assert.match(first.stdout, /Smoke check passed: 9 steps/);
      assert.ok(proxy.seen.replaced >= 6, `the smoke check used the new key: ${JSON.stringify(proxy.seen)}`);
      assert.equal(proxy.seen.other, 0, "no other key was sent");
      // wrangler's structured output went to a file of the script's, which is gone again
      const deployCall = first.calls.at(-1);
      assert.match(deployCall.env.WRANGLER_OUTPUT_FILE_PATH ?? "", /uts-deploy-/);
    });

    test("the secrets are strong random values, on stdin only", { timeout: 10000 }, () => {
      const signing = putOf(first.calls, "AUTH_SIGNING_KEY").stdin;
      assert.match(signing, B64URL);
      assert.ok(Buffer.from(signing, "base64url").length >= 48, `signing key of ${signing.length} characters`);
      const apiKeys = putOf(first.calls, "API_KEYS").stdin;
      const [project, key, ...restOfEntry] = apiKeys.split(":");
      assert.equal(project, "default");
      assert.equal(restOfEntry.length, 0, "one entry, project:key");
      assert.match(key, B64URL);
      assert.ok(Buffer.from(key, "base64url").length >= 32, `key of ${key.length} characters`);
      assert.notEqual(key, signing);
      for (const c of first.calls) {
        assert.ok(!c.argv.join(" ").includes(key) && !c.argv.join(" ").includes(signing), "no secret in arguments");
      }
    });

    test("the new key is printed once and written to no file", { timeout: 30000 }, () => {
      assert.equal(count(first.stdout, newKey), 1, "printed exactly once");
      assert.equal(count(first.stderr, newKey), 0);
      assert.match(first.stdout, /New API key of project "default"/);
      assert.ok(
        first.stdout.indexOf(newKey) < first.stdout.indexOf("Deploying with wrangler"),
        "shown as soon as it exists, before anything else can fail",
      );
      assert.match(first.stdout, /The new API key of project "default" is printed above/);
      const signing = putOf(first.calls, "AUTH_SIGNING_KEY").stdin;
      assert.equal(count(first.stdout + first.stderr, signing), 0, "the signing key is never shown");
      // Every file the run wrote: in its HOME and TMPDIR, and anywhere in the checkout. The
      // stand-in's own record of the secrets it was given (the test's log) is left out.
      const written = [
        ...filesWrittenSince(s.home, first.started),
        ...filesWrittenSince(s.tmp, first.started),
        ...filesWrittenSince(root, first.started, [".git", "target", "node_modules", "build", ".tools", ".venv"].map((d) => `${root}${d}`)),
        ...filesWrittenSince(`${root}node_modules/.cache`, first.started),
      ];
      // The scan does find a file holding the key: the stand-in's record, in its own directory.
      assert.ok(
        filesWrittenSince(s.dir, first.started).some((f) => f.endsWith("calls.jsonl") && readFileSync(f, "utf8").includes(newKey)),
      );
      for (const f of written) {
        let text;
        try {
          text = readFileSync(f, "latin1");
        } catch {
          continue;
        }
        assert.ok(!text.includes(newKey), `the new API key is in ${f}`);
        assert.ok(!text.includes(signing), `the signing key is in ${f}`);
      }
    });

    test("a second and a third run put no secret and make the same calls", { timeout: 60000 }, async () => {
      const second = await s.run();
      const third = await s.run();
      for (const r of [second, third]) {
        assert.equal(r.code, 0, r.stdout + r.stderr);
        assert.deepEqual(names(r.calls), deploying());
        assert.match(r.stdout, /AUTH_SIGNING_KEY exists: left as it is/);
        assert.match(r.stdout, /API_KEYS exists: left as it is/);
        assert.match(r.stdout, /Smoke check skipped: API_KEYS existed before this run/);
        assert.doesNotMatch(r.stdout, /New API key/);
      }
      assert.deepEqual(s.state().secrets.sort(), ["API_KEYS", "AUTH_SIGNING_KEY"]);
      assert.equal(s.state().deploys, 3);
    });

    test("a run that made no key checks with SMOKE_API_KEY when given one", { timeout: 60000 }, async () => {
      s.setState({ deployUrl: worker.base });
      const r = await s.run([], { env: { SMOKE_API_KEY: DEV_KEY } });
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.deepEqual(names(r.calls), deploying());
      assert.match(r.stdout, /Smoke check passed: 9 steps/);
      assert.equal(count(r.stdout, DEV_KEY), 0, "a key it did not make is never printed");
    });
  });

  test("secrets present: none is put, the deploy still runs", { timeout: 30000 }, async () => {
    const s = sandbox({ workerExists: true, secrets: ["API_KEYS", "AUTH_SIGNING_KEY"] });
    const r = await s.run(["--project", "acme"]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.deepEqual(names(r.calls), deploying());
    assert.match(r.stdout, /API_KEYS exists: left as it is \(so --project acme is not used\)/);
    assert.match(r.stdout, /Deployed: https:\/\/upload-token-service\.example\.workers\.dev/);
  });

  test("only the missing secret is put; no key is printed for a signing key", { timeout: 30000 }, async () => {
    const s = sandbox({ workerExists: true, secrets: ["API_KEYS"] });
    const r = await s.run();
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.deepEqual(names(r.calls), deploying("AUTH_SIGNING_KEY"));
    assert.doesNotMatch(r.stdout, /New API key/);
  });

  test("--project names the first key's project; --no-smoke skips the check", { timeout: 30000 }, async () => {
    const s = sandbox({ workerExists: true, secrets: ["AUTH_SIGNING_KEY"] });
    const r = await s.run(["--project", "acme-uploads_1", "--no-smoke"]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.deepEqual(names(r.calls), deploying("API_KEYS"));
    const [project, key] = r.calls[2].stdin.split(":");
    assert.equal(project, "acme-uploads_1");
    assert.equal(count(r.stdout, key), 1);
    assert.match(r.stdout, /New API key of project "acme-uploads_1"/);
    assert.match(r.stdout, /Smoke check skipped \(--no-smoke\)/);
  });

  test("a failed deploy exits non-zero and still shows the key it made", { timeout: 30000 }, async () => {
    const s = sandbox({ fail: ["deploy"] });
    const r = await s.run();
    assert.equal(r.code, 1);
    assert.deepEqual(names(r.calls).at(-1), "deploy");
    assert.match(r.stderr, /`wrangler deploy` failed/);
    const key = putOf(r.calls, "API_KEYS").stdin.split(":")[1];
    assert.equal(count(r.stdout, key), 1, "the key is not lost: the secret exists now");
  });

  test("a failed secret put stops before deploying", { timeout: 30000 }, async () => {
    const s = sandbox({ fail: ["secret put"] });
    const r = await s.run();
    assert.equal(r.code, 1);
    assert.deepEqual(names(r.calls), [WHOAMI, SECRET_LIST, put("AUTH_SIGNING_KEY")]);
    assert.match(r.stderr, /`wrangler secret put AUTH_SIGNING_KEY` failed/);
    assert.doesNotMatch(r.stdout, /New API key/);
  });

  test("several accounts: --account is required, then used on every call", { timeout: 30000 }, async () => {
    const accounts = [
      { id: "11111111111111111111111111111111", name: "One" },
      { id: "22222222222222222222222222222222", name: "Two" },
    ];
    const s = sandbox({ accounts, workerExists: true, secrets: ["API_KEYS", "AUTH_SIGNING_KEY"] });
    const refused = await s.run();
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /2 accounts; say which one to deploy to with --account ID/);
    assert.match(refused.stderr, /22222222222222222222222222222222 {2}Two/);
    assert.deepEqual(names(refused.calls), [WHOAMI]);

    const r = await s.run(["--account", accounts[1].id]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /account Two/);
    assert.deepEqual(names(r.calls), deploying());
    for (const c of r.calls) assert.equal(c.env.CLOUDFLARE_ACCOUNT_ID, accounts[1].id, c.argv.join(" "));
  });
});
