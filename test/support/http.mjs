// HTTP for the Node tests: reading answers, credentials, multipart bodies, and requests to a
// `wrangler dev --local-protocol https`. Reading and Basic credentials are the smoke check's own
// (scripts/lib/http.mjs), so that both read answers the same way.
import { request } from "node:https";
import { answerOf, basic } from "../../scripts/lib/http.mjs";

export { answerOf, basic, parseJson, readAnswer } from "../../scripts/lib/http.mjs";

/** The Authorization header value of a bearer token. */
export const bearer = (token) => `Bearer ${token}`;

/**
 * The Authorization header value of `auth`: a name of `keys`, or any other string taken as a
 * raw API key, as Basic credentials; a whole header value (`Basic …`, `Bearer …`) as it is;
 * null for no `auth` at all.
 */
export function authorization(auth, keys = {}) {
  if (!auth) return null;
  if (Object.hasOwn(keys, auth)) return basic(keys[auth]);
  if (/^(Basic|Bearer) /.test(auth)) return auth;
  return basic(auth);
}

/**
 * A multipart/form-data body encoded by Node's own FormData (dispatchFetch does not encode a
 * FormData body itself). `fields` is a list of `[name, string]` (a text field) or
 * `[name, {data, filename, type}]` (a file part), in order.
 */
export async function multipart(fields) {
  const fd = new FormData();
  for (const [name, value] of fields) {
    if (typeof value === "string") fd.append(name, value);
    else fd.append(name, new Blob([value.data], value.type ? { type: value.type } : {}), value.filename);
  }
  const encoded = new Response(fd);
  return { body: Buffer.from(await encoded.arrayBuffer()), contentType: encoded.headers.get("content-type") };
}

/**
 * One HTTPS request whose certificate is not verified (wrangler's own, self-signed), for this
 * request only. Resolves with the answer (see answerOf); `headers` are Node's, lower-case.
 */
export function httpsRequest(url, { method = "GET", headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers, rejectUnauthorized: false, agent: false }, (res) => {
      const parts = [];
      res.on("data", (d) => parts.push(d));
      res.on("error", reject);
      res.on("end", () => resolve(answerOf(res.statusCode, res.headers, Buffer.concat(parts))));
    });
    req.on("error", reject);
    req.end(body);
  });
}
