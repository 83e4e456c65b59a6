// The runtime's `crypto.DigestStream` on Node, which lacks it, for the tests that run
// src/js/multipart.js outside the runtime: a WritableStream whose `digest` promise resolves to
// the ArrayBuffer of the hash of everything written, once it is closed (as in workerd). The
// Worker's tests in Miniflare use the runtime's own.
import { createHash } from "node:crypto";

const NAMES = { "SHA-1": "sha1", "SHA-256": "sha256", "SHA-384": "sha384", "SHA-512": "sha512", MD5: "md5" };

class DigestStream extends WritableStream {
  constructor(algorithm) {
    const name = NAMES[typeof algorithm === "string" ? algorithm : algorithm?.name];
    if (!name) throw new TypeError(`unsupported digest ${JSON.stringify(algorithm)}`);
    const hash = createHash(name);
    let settle;
    const digest = new Promise((resolve, reject) => (settle = { resolve, reject }));
    super({
      write(chunk) {
        if (!ArrayBuffer.isView(chunk) && !(chunk instanceof ArrayBuffer)) throw new TypeError("bytes only");
        hash.update(ArrayBuffer.isView(chunk) ? new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength) : new Uint8Array(chunk));
      },
      close() {
        const out = hash.digest();
        settle.resolve(out.buffer.slice(out.byteOffset, out.byteOffset + out.byteLength));
      },
      abort(reason) {
        settle.reject(reason);
      },
    });
    this.digest = digest;
  }
}

if (typeof globalThis.crypto.DigestStream !== "function") {
  Object.defineProperty(globalThis.crypto, "DigestStream", { value: DigestStream, configurable: true, writable: true });
}
