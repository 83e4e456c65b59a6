"""Writes the wrangler configurations the benchmark serves its targets with (JSON, which wrangler
reads like wrangler.toml).

  config.py service  OUT.json ROOT MAIN LIMIT [assets]
      the project's wrangler.toml as it is (bindings, vars, compatibility date), with `main`
      pointing at MAIN, no build step (the benchmark builds first), no static assets (unless
      `assets` is given), and every [[ratelimits]] binding raised to LIMIT requests per 60 s,
      with the vars that state them to match
  config.py baseline OUT.json ROOT NAME MAIN
      a baseline Worker: the service's compatibility date and KV namespace binding only
  config.py baseline-do OUT.json ROOT NAME MAIN CLASS
      the same, plus a SQLite-backed Durable Object class CLASS bound as INDEX (with the
      migration that creates it), for the baselines that call an index object
"""
import json
import os
import sys
import tomllib

LOCAL_KV_ID = "bench-local-kv"


def main():
    mode, out, root = sys.argv[1], sys.argv[2], sys.argv[3]
    with open(os.path.join(root, "wrangler.toml"), "rb") as f:
        service = tomllib.load(f)
    # wrangler.toml leaves the KV namespace's id to `wrangler deploy` (older versions named one);
    # the benchmark sets one, the same for every target, so the local state it seeds is the one
    # each target reads.
    for ns in service.get("kv_namespaces", []):
        ns["id"] = LOCAL_KV_ID
    if mode == "service":
        main_path, limit = sys.argv[4], int(sys.argv[5])
        config = dict(service)
        config.pop("build", None)
        config["main"] = os.path.abspath(main_path)
        config["send_metrics"] = False
        # No static assets (the console) unless asked: locally they put the runtime's asset
        # router (more workers in the same process) in front of every request, which the
        # baselines do not have (bench/index.sh measures what it costs a get).
        if len(sys.argv) > 6 and sys.argv[6] == "assets" and "directory" in config.get("assets", {}):
            config["assets"] = dict(config["assets"])
            config["assets"]["directory"] = os.path.normpath(os.path.join(os.path.abspath(root), config["assets"]["directory"]))
        else:
            config.pop("assets", None)
        for binding in config.get("ratelimits", []):
            binding["simple"] = {"limit": limit, "period": 60}
        config["vars"] = dict(config.get("vars", {}))
        config["vars"].update({
            "RATE_LIMIT": str(limit),
            "RATE_LIMIT_PERIOD": "60",
            "AUTH_RATE_LIMIT": str(limit),
            "AUTH_RATE_LIMIT_PERIOD": "60",
        })
    elif mode in ("baseline", "baseline-do"):
        name, main_path = sys.argv[4], sys.argv[5]
        kv = [ns for ns in service.get("kv_namespaces", []) if ns.get("binding") == "UPLOAD_TOKENS"]
        if not kv:
            sys.exit("config.py: wrangler.toml has no UPLOAD_TOKENS KV binding")
        config = {
            "name": name,
            "main": os.path.abspath(main_path),
            "compatibility_date": service["compatibility_date"],
            "send_metrics": False,
            "kv_namespaces": kv,
        }
        if "compatibility_flags" in service:
            config["compatibility_flags"] = service["compatibility_flags"]
        if mode == "baseline-do":
            class_name = sys.argv[6]
            config["durable_objects"] = {"bindings": [{"name": "INDEX", "class_name": class_name}]}
            config["migrations"] = [{"tag": "v1", "new_sqlite_classes": [class_name]}]
    else:
        sys.exit(__doc__)
    with open(out, "w") as f:
        json.dump(config, f, indent=2)


if __name__ == "__main__":
    main()
