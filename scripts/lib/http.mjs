// Reading HTTP answers and writing Basic credentials, shared by the smoke check and the tests.

/** The Authorization header value of Basic credentials: the API key as user, no password. */
export function basic(key) {
  return "Basic " + Buffer.from(`${key}:`).toString("base64");
}

/** The JSON value of `text`, or undefined when it is empty or not JSON. */
export function parseJson(text) {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * An answer as callers read it: `status`, `headers` (as given), the body's `bytes`, its `text`
 * (UTF-8) and its `json` value (undefined when the body is empty or not JSON).
 */
export function answerOf(status, headers, bytes) {
  const text = bytes.toString("utf8");
  return { status, headers, bytes, text, json: parseJson(text) };
}

/** Reads a fetch Response to its end (see answerOf). */
export async function readAnswer(res) {
  return answerOf(res.status, res.headers, Buffer.from(await res.arrayBuffer()));
}
