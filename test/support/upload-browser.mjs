// Support for the browser upload test: a plain HTTP server for the test page.
import { createServer } from "node:http";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));

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
