// An HTTP proxy in front of a local runtime, for tests that need to change what a client sends
// or receives without changing the client: it can swap the API key of Basic auth, and answer
// chosen requests itself.
import { request as httpRequest, createServer } from "node:http";
import { basic } from "./http.mjs";

/**
 * Proxies to `upstream`. `replaceKey(key)`: another API key to send in place of `key`, or
 * undefined to send it as it is. `answer(req)`: { status, body } to answer with instead of the
 * upstream, or undefined. `seen` counts the requests by kind of key.
 */
export async function startProxy(upstream, { replaceKey = () => undefined, answer = () => undefined } = {}) {
  const target = new URL(upstream);
  const seen = { replaced: 0, other: 0, none: 0, answered: 0 };
  const server = createServer((req, res) => {
    const own = answer(req);
    if (own) {
      seen.answered += 1;
      req.resume();
      res.writeHead(own.status, { "content-type": "application/json" });
      res.end(JSON.stringify(own.body));
      return;
    }
    const headers = { ...req.headers, host: target.host };
    const auth = req.headers.authorization;
    if (auth?.startsWith("Basic ")) {
      const user = Buffer.from(auth.slice(6), "base64").toString("utf8").split(":")[0];
      const other = replaceKey(user);
      if (other) {
        headers.authorization = basic(other);
        seen.replaced += 1;
      } else {
        seen.other += 1;
      }
    } else {
      seen.none += 1;
    }
    const up = httpRequest(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers },
      (ur) => {
        res.writeHead(ur.statusCode, ur.headers);
        ur.pipe(res);
      },
    );
    up.on("error", (err) => {
      res.writeHead(502, { "content-type": "text/plain" });
      res.end(String(err));
    });
    req.pipe(up);
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address();
  return {
    base: `http://127.0.0.1:${port}`,
    seen,
    close: () => {
      server.closeAllConnections();
      return new Promise((r) => server.close(r));
    },
  };
}
