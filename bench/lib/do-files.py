"""Lists the SQLite files of a Durable Object class in a `wrangler dev --persist-to` state, with
the name each object was reached by (`idFromName`), as `NAME<TAB>PATH` lines.

The local runtime keeps each object of a SQLite-backed class as one database file,
`STATE/v3/do/{script}-{class}/{object id}.sqlite`, which holds the object's own tables and
`__miniflare_do_name`, the name the object was created with.

Usage: python3 bench/lib/do-files.py STATE_DIR SCRIPT_NAME CLASS_NAME
"""
import glob
import os
import sqlite3
import sys


def main():
    if len(sys.argv) != 4:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    state, script, cls = sys.argv[1:]
    for path in sorted(glob.glob(os.path.join(state, "v3", "do", f"{script}-{cls}", "*.sqlite"))):
        if os.path.basename(path) == "metadata.sqlite":
            continue
        db = sqlite3.connect(path)
        try:
            row = db.execute("SELECT name FROM __miniflare_do_name").fetchone()
        except sqlite3.Error as e:
            print(f"do-files.py: {path}: {e}", file=sys.stderr)
            return 1
        finally:
            db.close()
        if row and row[0]:
            print(f"{row[0]}\t{path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
