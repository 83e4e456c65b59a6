// Deterministic pseudo-random bytes (xorshift32), the same in the browser page and in Node, so
// both sides can agree on what a test file holds.
export function pseudoRandomBytes(seed, length) {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 0x9e3779b9;
  let i = 0;
  while (i < length) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    for (let k = 0; k < 4 && i < length; k++, i++) out[i] = (x >>> (8 * k)) & 0xff;
  }
  return out;
}
