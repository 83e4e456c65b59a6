"""Writes seeded KV entries straight into the local KV storage of `wrangler dev --persist-to DIR`.

Putting entries one by one through the simulator manages a few hundred a second, far too slow
for the 200,000+ entries of the benchmark. The simulator keeps a namespace as one SQLite
table (key, blob_id, expiration in ms, metadata as JSON text) plus one file per value, named by
a blob id (32 random bytes and an 8-byte millisecond timestamp, in hex); this writes the same
rows and files. Run `load-kv.mjs init` first (it creates the storage through the simulator)
and `load-kv.mjs verify` after (it reads everything back through the simulator).

Usage: python3 bench/lib/load-kv.py PERSIST_DIR NAMESPACE_ID FILE.json...
"""
import glob
import json
import os
import secrets
import sqlite3
import sys
import time


def main():
    if len(sys.argv) < 4:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    persist, namespace, files = sys.argv[1], sys.argv[2], sys.argv[3:]
    kv = os.path.join(persist, "v3", "kv")
    blobs = os.path.join(kv, namespace, "blobs")
    # The namespace's database: the object database that holds the marker `init` wrote.
    candidates = []
    for path in glob.glob(os.path.join(kv, "miniflare-KVNamespaceObject", "*.sqlite")):
        db = sqlite3.connect(path)
        try:
            if db.execute("SELECT 1 FROM _mf_entries WHERE key = 'bench:seeded'").fetchone():
                candidates.append(path)
        except sqlite3.Error:
            pass
        finally:
            db.close()
    if len(candidates) != 1 or not os.path.isdir(blobs):
        print(f"load-kv.py: expected one initialised namespace under {kv}, found {candidates}", file=sys.stderr)
        return 1
    db = sqlite3.connect(candidates[0])
    columns = [row[1] for row in db.execute("PRAGMA table_info(_mf_entries)")]
    if columns != ["key", "blob_id", "expiration", "metadata"]:
        print(f"load-kv.py: unknown storage layout {columns}; `node bench/lib/load-kv.mjs put` writes through the simulator instead (slow)", file=sys.stderr)
        return 1
    for file in files:
        started = time.time()
        with open(file, encoding="utf-8") as f:
            entries = json.load(f)
        now_ms = int(time.time() * 1000)
        rows = []
        for e in entries:
            blob_id = secrets.token_hex(32) + now_ms.to_bytes(8, "big").hex()
            with open(os.path.join(blobs, blob_id), "wb") as out:
                out.write(e["value"].encode("utf-8"))
            ttl = e.get("expiration_ttl")
            expiration = now_ms + ttl * 1000 if ttl is not None else None
            metadata = json.dumps(e["metadata"], separators=(",", ":")) if "metadata" in e else None
            rows.append((e["key"], blob_id, expiration, metadata))
        with db:
            db.executemany(
                "INSERT OR REPLACE INTO _mf_entries (key, blob_id, expiration, metadata) VALUES (?, ?, ?, ?)",
                rows,
            )
        print(f"wrote {len(rows)} entries of {file} in {time.time() - started:.1f} s")
    db.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
