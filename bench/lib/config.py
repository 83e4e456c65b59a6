"""Writes the wrangler configurations the benchmark serves its targets with (JSON, which wrangler
reads like wrangler.toml).

  config.py service  OUT.json ROOT MAIN LIMIT
      the project's wrangler.toml as it is (bindings, vars, compatibility date), with `main`
      pointing at MAIN, no build step (the benchmark builds first), and every [[ratelimits]]
      binding raised to LIMIT requests per 60 s, with the vars that state them to match
  config.py baseline OUT.json ROOT NAME MAIN
      a baseline Worker: the service's compatibility date and KV namespace binding only
"""
import json
import os
import sys
import tomllib


def main():
    mode, out, root = sys.argv[1], sys.argv[2], sys.argv[3]
    with open(os.path.join(root, "wrangler.toml"), "rb") as f:
        service = tomllib.load(f)
    if mode == "service":
        main_path, limit = sys.argv[4], int(sys.argv[5])
        config = dict(service)
        config.pop("build", None)
        config["main"] = os.path.abspath(main_path)
        config["send_metrics"] = False
        # Relative paths of wrangler.toml are relative to it, not to the written file.
        if "directory" in config.get("assets", {}):
            config["assets"] = dict(config["assets"])
            config["assets"]["directory"] = os.path.normpath(os.path.join(os.path.abspath(root), config["assets"]["directory"]))
        for binding in config.get("ratelimits", []):
            binding["simple"] = {"limit": limit, "period": 60}
        config["vars"] = dict(config.get("vars", {}))
        config["vars"].update({
            "RATE_LIMIT": str(limit),
            "RATE_LIMIT_PERIOD": "60",
            "AUTH_RATE_LIMIT": str(limit),
            "AUTH_RATE_LIMIT_PERIOD": "60",
        })
    elif mode == "baseline":
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
    else:
        sys.exit(__doc__)
    with open(out, "w") as f:
        json.dump(config, f, indent=2)


if __name__ == "__main__":
    main()
