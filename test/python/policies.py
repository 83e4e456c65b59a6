"""Tokens with policies through api.video's Python client, which knows nothing of them.

usage: policies.py BASE KEY WORKDIR
  BASE     the worker
  KEY      a project's API key (its tokens are made here with a plain request, since the
           client's TokenCreationPayload has only `ttl`)
  WORKDIR  an existing directory for the files to upload (the caller removes it)

The client reads such a token like any other (get and list: the fields it does not know are
dropped), uploads with it, reads the token's metadata on the Video it gets back as its own
Metadata models, and sees the refusal of a second video by `maxUploads: 1` as an
ApiException with the problem's status and type.
"""

import base64
import json
import os
import urllib.request

from apivideo.api_client import ApiClient
from apivideo.api.videos_api import VideosApi
from apivideo.configuration import Configuration
from apivideo.model.metadata import Metadata

from common import PROBLEM, UploadTokensApi, api_error, check, check_token, connected_client, equal, run

POLICIES = {
    "maxUploads": 1,
    "maxFileSize": 1024 * 1024,
    "metadata": [{"key": "user", "value": "u-py"}, {"key": "course", "value": "c-1"}],
}


def create_with_policies(base, key, ttl):
    """POST /upload-tokens with Basic auth and the policies; the answer's JSON."""
    body = json.dumps({"ttl": ttl, **POLICIES}).encode()
    auth = base64.b64encode(f"{key}:".encode()).decode()
    req = urllib.request.Request(
        base + "/upload-tokens", data=body, method="POST",
        headers={"Authorization": f"Basic {auth}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=10) as res:
        equal(res.status, 200, "create with policies")
        return json.loads(res.read())


def main(argv):
    base, key, workdir = argv
    made = create_with_policies(base, key, 3600)
    for field in ("maxUploads", "uploadsUsed", "maxFileSize", "metadata"):
        check(field in made, f"the service answers {field}: {made}")
    path = os.path.join(workdir, "py-policy.mp4")
    with open(path, "wb") as f:
        f.write(os.urandom(2048))
    with connected_client(base, key) as client, ApiClient(Configuration(host=base)) as uploader:
        tokens = UploadTokensApi(client)
        got = tokens.get_token(made["token"])
        check_token(got, ttl=3600)
        equal(got.token, made["token"], "get returns the token")
        check("maxUploads" not in got.to_dict() and "max_uploads" not in got.to_dict(),
              f"the client keeps only the fields it knows: {got.to_dict()}")
        listed = [t for t in tokens.list(page_size=100).data if t.token == made["token"]]
        equal(len(listed), 1, "the token is listed")
        check_token(listed[0], ttl=3600)

        videos = VideosApi(uploader)
        with open(path, "rb") as f:
            video = videos.upload_with_upload_token(made["token"], f)
        equal(
            [(m.key, m.value) for m in video.metadata],
            [(m["key"], m["value"]) for m in POLICIES["metadata"]],
            "the video carries the token's metadata",
        )
        check(all(isinstance(m, Metadata) for m in video.metadata), "as the client's Metadata models")

        def second():
            with open(path, "rb") as f:
                return videos.upload_with_upload_token(made["token"], f)

        _, problem = api_error(second, 403, "a second video with maxUploads 1")
        equal(problem.get("type"), PROBLEM + "upload-token-max-uploads-reached", "problem.type")
        equal(tokens.get_token(made["token"]).token, made["token"], "the token still reads")
    return {"token": made["token"], "video": video.video_id}


if __name__ == "__main__":
    run(main)
