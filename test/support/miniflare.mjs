// Starts the built Worker (build/index.js) in Miniflare with test-only configuration.
import { after, before } from "node:test";
import { Miniflare } from "miniflare";
import { fileURLToPath } from "node:url";
import { authorization, basic, readAnswer } from "./http.mjs";

const root = fileURLToPath(new URL("../..", import.meta.url));

export const KEYS = {
  alpha: "alpha-test-key-000000000001",
  alpha2: "alpha-test-key-000000000002",
  beta: "beta-test-key-0000000000001",
};

export const SIGNING_KEY = "miniflare-signing-key-0123456789abcdef";

/** `auth` as an Authorization header value: a key name of KEYS, a raw API key or a whole header value (see authorization). */
export const authOf = (auth) => authorization(auth, KEYS);

/**
 * A Miniflare running the real Worker. `vars` override or add bindings (pass `API_KEYS: undefined`
 * to drop one); `limits` sets the rate-limit bindings.
 */
export async function startWorker({ vars = {}, limits = {} } = {}) {
  const bindings = {
    API_KEYS: `alpha:${KEYS.alpha},alpha:${KEYS.alpha2},beta:${KEYS.beta}`,
    AUTH_SIGNING_KEY: SIGNING_KEY,
    RATE_LIMIT: String(limits.api?.limit ?? 100000),
    RATE_LIMIT_PERIOD: String(limits.api?.period ?? 60),
    AUTH_RATE_LIMIT: String(limits.auth?.limit ?? 100000),
    AUTH_RATE_LIMIT_PERIOD: String(limits.auth?.period ?? 60),
    ...vars,
  };
  for (const [k, v] of Object.entries(bindings)) if (v === undefined) delete bindings[k];
  const mf = new Miniflare({
    rootPath: root,
    modules: true,
    scriptPath: "build/index.js",
    modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"] }],
    compatibilityDate: "2026-04-01",
    kvNamespaces: ["UPLOAD_TOKENS"],
    r2Buckets: ["VIDEOS"],
    durableObjects: { PROJECT_INDEX: { className: "ProjectIndex", useSQLite: true } },
    ratelimits: {
      API_RATE_LIMITER: { simple: { limit: limits.api?.limit ?? 100000, period: limits.api?.period ?? 60 } },
      AUTH_RATE_LIMITER: { simple: { limit: limits.auth?.limit ?? 100000, period: limits.auth?.period ?? 60 } },
    },
    bindings,
  });
  await mf.ready;
  const kv = await mf.getKVNamespace("UPLOAD_TOKENS");
  /** fetch against the worker; `auth` is a key name of KEYS, a raw header value, or null. */
  async function call(method, path, { auth = "alpha", body, headers = {} } = {}) {
    const h = { ...headers };
    if (auth) h.Authorization = KEYS[auth] ? basic(KEYS[auth]) : auth;
    let payload = body;
    if (body !== undefined && typeof body !== "string") {
      payload = JSON.stringify(body);
      h["Content-Type"] ??= "application/json";
    }
    return readAnswer(await mf.dispatchFetch(`http://localhost${path}`, { method, headers: h, body: payload }));
  }
  return { mf, kv, call, dispose: () => mf.dispose() };
}

/**
 * One Worker (startWorker with `options`) for the tests of the enclosing file or describe block:
 * started before them, then given to `prepare` if any (in the same hook: the hooks of a file
 * may run at the same time), and disposed of after them. The object returned is the Worker once
 * started.
 */
export function workerForTests(options, prepare) {
  const worker = {};
  before(async () => {
    Object.assign(worker, await startWorker(options));
    await prepare?.(worker);
  });
  after(() => worker.dispose?.());
  return worker;
}
