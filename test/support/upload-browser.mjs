// Support for the browser upload test: HTTPS requests to a `wrangler dev --local-protocol https`
// (whose certificate is self-signed, so it is not verified, for these requests only) and a plain
// HTTP server for the test page.
import { request } from "node:https";
import { createServer } from "node:http";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));

/** One HTTPS request; resolves with status, headers, the body's bytes and its JSON if any. */
export function httpsRequest(url, { method = "GET", headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers, rejectUnauthorized: false, agent: false }, (res) => {
      const parts = [];
      res.on("data", (d) => parts.push(d));
      res.on("error", reject);
      res.on("end", () => {
        const bytes = Buffer.concat(parts);
        let json;
        try {
          json = JSON.parse(bytes.toString("utf8"));
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode, headers: res.headers, bytes, json, text: bytes.length < 4096 ? bytes.toString("utf8") : "" });
      });
    });
    req.on("error", reject);
    req.end(body);
  });
}

const FILES = {
  "/": ["test/browser/upload.html", "text/html; charset=utf-8"],
  "/page.mjs": ["test/browser/page.mjs", "text/javascript"],
  "/prng.mjs": ["test/browser/prng.mjs", "text/javascript"],
  "/uploader.js": ["node_modules/@api.video/video-uploader/dist/index.js", "text/javascript"],
};

/** Serves the test page and the uploader's browser build on `http://localhost:{port}`. */
export function servePage(port) {
  const server = createServer((req, res) => {
    const path = new URL(req.url, "http://localhost").pathname;
    if (path === "/favicon.ico") {
      res.writeHead(204).end();
      return;
    }
    const entry = FILES[path];
    if (!entry || req.method !== "GET") {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "Content-Type": entry[1], "Cache-Control": "no-store" });
    res.end(readFileSync(`${root}/${entry[0]}`));
  });
  return new Promise((resolve, reject) => {
    server.on("error", reject);
    server.listen(port, "127.0.0.1", () =>
      resolve({
        url: `http://localhost:${port}/`,
        close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }),
      }),
    );
  });
}
