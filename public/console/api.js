// The console's side of the API: the bearer session (kept in sessionStorage, never the API key),
// authenticated requests that renew it, and the API's problem answers as errors.

const SESSION_KEY = "upload-token-console.session";
// Renew the access token once this share of its lifetime has passed.
const RENEW_AFTER = 0.8;

/** An error answer of the API (its problem JSON), or a failure to reach it. */
export class ApiProblem extends Error {
  constructor(status, problem) {
    super(problem?.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem ?? {};
  }
  get title() {
    return this.problem.title || this.message;
  }
  get detail() {
    return this.problem.detail || "";
  }
}

/** Raised when the session cannot be renewed: the user must sign in again. */
export class SessionEnded extends ApiProblem {}

function readSession() {
  try {
    const s = JSON.parse(sessionStorage.getItem(SESSION_KEY));
    if (s && typeof s.accessToken === "string" && typeof s.refreshToken === "string") return s;
  } catch {
    // Unreadable: treated as no session.
  }
  return null;
}

function storeSession(answer) {
  const now = Date.now();
  const lifetime = Math.max(1, Number(answer.expires_in) || 0) * 1000;
  const session = {
    accessToken: answer.access_token,
    refreshToken: answer.refresh_token,
    renewAt: now + lifetime * RENEW_AFTER,
    expiresAt: now + lifetime,
  };
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
  return session;
}

export function signedIn() {
  return readSession() !== null;
}

export function forgetSession() {
  sessionStorage.removeItem(SESSION_KEY);
}

/** Reads an answer: its JSON when there is one, else null. */
async function bodyOf(res) {
  const text = await res.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return { title: `${res.status} ${res.statusText}`.trim(), detail: text.slice(0, 300) };
  }
}

/** One request to the service: no cookies, no HTTP authentication prompt. */
async function send(path, { method = "GET", headers = {}, json } = {}) {
  const init = { method, headers: { Accept: "application/json", ...headers }, credentials: "omit", cache: "no-store" };
  if (json !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(json);
  }
  try {
    return await fetch(path, init);
  } catch (e) {
    throw new ApiProblem(0, { title: "The service could not be reached.", detail: String(e?.message ?? e) });
  }
}

async function expectOk(res) {
  const body = await bodyOf(res);
  if (!res.ok) throw new ApiProblem(res.status, body);
  return body;
}

/** Trades the API key for bearer tokens, once; only the tokens are kept. */
export async function signIn(apiKey) {
  const answer = await expectOk(await send("/auth/api-key", { method: "POST", json: { apiKey } }));
  storeSession(answer);
}

let renewing = null;

/** Trades the refresh token for a new pair; concurrent callers share one request. */
function renew() {
  renewing ??= (async () => {
    const session = readSession();
    if (!session) throw new SessionEnded(401, { title: "You are signed out." });
    const res = await send("/auth/refresh", { method: "POST", json: { refreshToken: session.refreshToken } });
    if (res.status === 400 || res.status === 401) {
      forgetSession();
      const problem = await bodyOf(res);
      throw new SessionEnded(res.status, { ...problem, detail: "The session has ended: sign in again." });
    }
    return storeSession(await expectOk(res));
  })().finally(() => {
    renewing = null;
  });
  return renewing;
}

async function accessToken() {
  let session = readSession();
  if (!session) throw new SessionEnded(401, { title: "You are signed out.", detail: "Sign in with an API key." });
  if (Date.now() >= session.renewAt) session = await renew();
  return session.accessToken;
}

/**
 * An authenticated request. An access token that is refused is renewed once and the request
 * sent again. Resolves with the answer's JSON (null when empty); an error answer throws its
 * problem as an ApiProblem.
 */
export async function call(path, options = {}) {
  const attempt = async () =>
    send(path, { ...options, headers: { ...options.headers, Authorization: `Bearer ${await accessToken()}` } });
  let res = await attempt();
  if (res.status === 401) {
    await renew();
    res = await attempt();
  }
  return expectOk(res);
}

/** An authenticated request for a file: resolves with its Blob. */
export async function download(path) {
  const attempt = async () =>
    send(path, { headers: { Accept: "*/*", Authorization: `Bearer ${await accessToken()}` } });
  let res = await attempt();
  if (res.status === 401) {
    await renew();
    res = await attempt();
  }
  if (!res.ok) throw new ApiProblem(res.status, await bodyOf(res));
  return res.blob();
}
