"""Delegated uploads through api.video's Python client (VideosApi, no API key on the upload).

usage: upload_scenario.py UPLOAD_BASE BASE KEY WORKDIR [NAME...]
  UPLOAD_BASE  where the upload calls go (the caller may relay and record them)
  BASE         the worker itself: tokens (bearer via /auth/api-key), video status and source
  KEY          the project's API key
  WORKDIR      an existing directory for the files to upload (the caller removes it)
  NAME         file names to upload whole; the titles they get are reported, not checked

Every upload is checked end to end: the Video the client returns (its model type-checks the
fields), the upload status `GET /videos/{id}` reports, and the SHA-256 of the assembled source
against the file. The last line is `OK {summary}`, whose tokens and ids let the caller check
what went over the wire.
"""

import base64
import datetime as dt
import hashlib
import json
import os
import random
import re
import time
import urllib.error
import urllib.request

from apivideo.api_client import ApiClient
from apivideo.configuration import Configuration
from apivideo.api.videos_api import VideosApi
from apivideo.exceptions import UnauthorizedException
from apivideo.model.token_creation_payload import TokenCreationPayload
from apivideo.model.video import Video
from apivideo.model.video_id import VideoId

from common import PROBLEM, UploadTokensApi, api_error, check, connected_client, equal, run

MIB = 1024 * 1024
CHUNK = 5 * MIB
VIDEO_RE = re.compile(r"^vi[0-9A-Za-z]{22}$")
INVALID_TOKEN = PROBLEM + "authentication-invalid-upload-token"
# [video id, title, part count the client sent, ingest.receivedParts once complete]
PARTS_SEEN = []


def write_file(workdir, name, seed, size):
    """A file of `size` deterministic pseudo-random bytes; returns (path, sha256)."""
    data = random.Random(seed).randbytes(size)
    path = os.path.join(workdir, name)
    with open(path, "wb") as f:
        f.write(data)
    return path, hashlib.sha256(data).hexdigest()


class Worker:
    """Plain HTTP reads of what the worker stored, with the project's Basic key."""

    def __init__(self, base, key):
        self.base = base
        self.auth = "Basic " + base64.b64encode(f"{key}:".encode()).decode()

    def get(self, path):
        req = urllib.request.Request(self.base + path, headers={"Authorization": self.auth})
        try:
            with urllib.request.urlopen(req, timeout=60) as res:
                return res.status, dict(res.headers), res.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    def video(self, video_id):
        status, _, body = self.get(f"/videos/{video_id}")
        equal(status, 200, f"GET /videos/{video_id} (body {body[:300]!r})")
        return json.loads(body)

    def source_sha(self, video_id):
        status, headers, body = self.get(f"/videos/{video_id}/source")
        equal(status, 200, f"GET /videos/{video_id}/source (body {body[:300]!r})")
        return hashlib.sha256(body).hexdigest(), len(body), headers


def check_video(v, title, near, video_id=None):
    """What the client handed back is a Video model with the service's fields."""
    check(isinstance(v, Video), f"the client returns a Video model, got {type(v).__name__}")
    check(isinstance(v.video_id, str) and VIDEO_RE.match(v.video_id), f"video id form: {v.video_id!r}")
    if video_id is not None:
        equal(v.video_id, video_id, "the same video throughout the upload")
    equal(v.title, title, "title is the uploaded file's name")
    for name in ("created_at", "published_at", "updated_at"):
        value = v[name]
        check(isinstance(value, dt.datetime), f"{name} is a datetime: {value!r}")
        check(value.tzinfo is not None, f"{name} carries a time zone: {value!r}")
    check(abs(v.created_at.timestamp() - near) < 120, f"created_at {v.created_at.isoformat()} is within 2 min of now")
    check(v.updated_at >= v.created_at, f"updated_at {v.updated_at} is not before created_at {v.created_at}")
    equal(v.source.uri, f"/videos/{v.video_id}/source", "source.uri")
    for name in ("public", "panoramic", "mp4_support"):
        check(type(v[name]) is bool, f"{name} is a bool: {v[name]!r}")
    equal(list(v.tags), [], "tags")
    equal(list(v.metadata), [], "metadata")


def check_stored(worker, video_id, sha, size, parts, title):
    """The upload is complete: the status and the assembled source match the file."""
    got = worker.video(video_id)
    equal(got.get("videoId"), video_id, "GET /videos/{id}: videoId")
    equal(got.get("title"), title, "GET /videos/{id}: title")
    ingest = got.get("ingest") or {}
    equal(ingest.get("status"), "uploaded", f"ingest.status of {video_id} ({ingest})")
    equal(ingest.get("filesize"), size, f"ingest.filesize of {video_id}")
    equal(ingest.get("receivedBytesTotal"), size, f"ingest.receivedBytesTotal of {video_id}")
    # The parts the client sent: recorded for the caller, which checks them in a test of their own.
    PARTS_SEEN.append([video_id, title, parts, ingest.get("receivedParts", "absent")])
    got_sha, got_size, _ = worker.source_sha(video_id)
    equal(got_size, size, f"size of the source of {video_id}")
    equal(got_sha, sha, f"SHA-256 of the source of {video_id}")


def upload(videos, token, path):
    with open(path, "rb") as f:
        return videos.upload_with_upload_token(token, f)


def main(argv):
    upload_base, base, key, workdir, *names = argv
    worker = Worker(base, key)
    configuration = Configuration(host=upload_base, chunk_size=CHUNK)
    summary = {}
    with connected_client(base, key) as auth, ApiClient(configuration) as uploader:
        tokens = UploadTokensApi(auth)
        videos = VideosApi(uploader)

        # A 3 KiB file: one request (`part 1/1`).
        whole_path, whole_sha = write_file(workdir, "py-whole.mp4", "py-whole", 3 * 1024)
        token = tokens.create_token(TokenCreationPayload(ttl=3600)).token
        now = time.time()
        v = upload(videos, token, whole_path)
        check_video(v, "py-whole.mp4", now)
        check_stored(worker, v.video_id, whole_sha, 3 * 1024, 1, "py-whole.mp4")
        summary["whole"] = {"token": token, "video": v.video_id}

        # The same token again, for a second file: tokens are not used up.
        again_path, again_sha = write_file(workdir, "py-again.mp4", "py-again", 4 * 1024)
        w = upload(videos, token, again_path)
        check_video(w, "py-again.mp4", now)
        check(w.video_id != v.video_id, "a second upload with the token makes a second video")
        check_stored(worker, w.video_id, again_sha, 4 * 1024, 1, "py-again.mp4")
        summary["again"] = {"token": token, "video": w.video_id}

        # 11 MiB in 5 MiB chunks: `part 1/3` .. `part 3/3`, later chunks without videoId.
        size = 11 * MIB
        chunked_path, chunked_sha = write_file(workdir, "py-chunked.mp4", "py-chunked", size)
        token = tokens.create_token(TokenCreationPayload(ttl=0)).token
        now = time.time()
        v = upload(videos, token, chunked_path)
        check_video(v, "py-chunked.mp4", now)
        check_stored(worker, v.video_id, chunked_sha, size, 3, "py-chunked.mp4")
        summary["chunked"] = {"token": token, "video": v.video_id}
        os.remove(chunked_path)

        # A progressive session: 6, 7, then 1 MiB, as `part 1/*`, `part 2/*`, `part 3/3`.
        token = tokens.create_token(TokenCreationPayload(ttl=0)).token
        session = videos.create_upload_with_upload_token_progressive_session(token)
        digest = hashlib.sha256()
        total = 0
        first_id = None
        now = time.time()
        for i, (name, mib) in enumerate((("py-prog-1.mp4", 6), ("py-prog-2.mp4", 7), ("py-prog-3.mp4", 1))):
            data = random.Random(name).randbytes(mib * MIB)
            path = os.path.join(workdir, name)
            with open(path, "wb") as f:
                f.write(data)
            digest.update(data)
            total += len(data)
            last = i == 2
            with open(path, "rb") as f:
                res = session.uploadLastPart(f) if last else session.uploadPart(f)
            os.remove(path)
            if last:
                check_video(res, "py-prog-1.mp4", now, first_id)
            else:
                # Non-last parts are read as a VideoId model: the rest of the Video is ignored.
                check(isinstance(res, VideoId), f"part {i + 1}: a VideoId model, got {type(res).__name__}")
                check(VIDEO_RE.match(res.video_id), f"part {i + 1}: video id form {res.video_id!r}")
                if first_id is None:
                    first_id = res.video_id
                equal(res.video_id, first_id, f"part {i + 1}: the session's video")
                ingest = worker.video(first_id).get("ingest") or {}
                equal(ingest.get("status"), "uploading", f"after part {i + 1}: ingest.status")
                equal(ingest.get("receivedParts"), {"parts": list(range(1, i + 2))},
                      f"after part {i + 1}: ingest.receivedParts")
                equal(ingest.get("receivedBytesTotal"), total, f"after part {i + 1}: ingest.receivedBytesTotal")
        check_stored(worker, first_id, digest.hexdigest(), total, 3, "py-prog-1.mp4")
        summary["progressive"] = {"token": token, "video": first_id}

        # File names beyond plain ASCII letters: the titles are returned for the caller to check.
        token = tokens.create_token(TokenCreationPayload(ttl=0)).token
        seen = []
        for i, name in enumerate(names):
            path, sha = write_file(workdir, name, f"py-name-{i}", 1024)
            v = upload(videos, token, path)
            got_sha, _, _ = worker.source_sha(v.video_id)
            equal(got_sha, sha, f"SHA-256 of the source of {name!r}")
            seen.append([name, v.title, worker.video(v.video_id).get("title")])
            os.remove(path)
        summary["names"] = {"token": token, "seen": seen}

        # Deleted and unknown tokens: the client's UnauthorizedException, with the problem.
        gone = tokens.create_token(TokenCreationPayload(ttl=0)).token
        tokens.delete_token(gone)
        for what, bad in (("a deleted token", gone), ("an unknown token", "to" + "Z" * 22)):
            _, problem = api_error(lambda: upload(videos, bad, whole_path), 401, f"upload with {what}",
                                   UnauthorizedException)
            equal(problem.get("type"), INVALID_TOKEN, f"upload with {what}: problem.type")
            session = videos.create_upload_with_upload_token_progressive_session(bad)

            def first_part():
                with open(whole_path, "rb") as f:
                    return session.uploadLastPart(f)

            _, problem = api_error(first_part, 401, f"progressive upload with {what}", UnauthorizedException)
            equal(problem.get("type"), INVALID_TOKEN, f"progressive upload with {what}: problem.type")
        summary["refused"] = [gone]
    summary["parts"] = PARTS_SEEN
    return summary


if __name__ == "__main__":
    run(main)
