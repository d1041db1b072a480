"""Keel's API: requests with the admin key, the first backup, a base backup taken and followed."""
import json
import os
import time
import urllib.error
import urllib.request

from benchlib.core import die

AUTH = os.environ.get("BENCH_AUTH", "")


def http(method, url, body=None, timeout=60):
    """(status, parsed JSON body, or its text when it is not JSON)."""
    request = urllib.request.Request(url, method=method, headers={"Authorization": f"Bearer {AUTH}",
                                                                  "Content-Type": "application/json"})
    if method == "POST":
        request.data = json.dumps(body if body is not None else {}).encode()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as e:
        text = e.read()
        try:
            return e.code, json.loads(text)
        except ValueError:
            return e.code, text.decode(errors="replace")


def api_json(url):
    code, body = http("GET", url)
    if code != 200:
        die(f"GET {url} answered {code}: {body}")
    return body


def wait_first_backup(api, db):
    deadline = time.time() + 900
    while True:
        backups = api_json(f"{api}/v1/databases/{db}/backups")
        if any(b["state"] == "completed" for b in backups):
            return
        failed = [b for b in backups if b["state"] == "failed"]
        if failed:
            die(f"Keel's first backup failed: {failed[0].get('error')}")
        if time.time() > deadline:
            die("Keel's first backup did not complete within 15 minutes")
        time.sleep(0.5)


def backup(api, db, poll, before=lambda: None, each=lambda posted, t0: None):
    """A base backup: waits (untimed) while one is running, calls before(), POSTs one at t0 and polls
    it every poll s (calling each(POST's answer, t0)) until completed. Returns (backup, t0, t1, before's value)."""
    base = f"{api}/v1/databases/{db}/backups"
    deadline = time.time() + 600
    while any(b["state"] == "running" for b in api_json(base)):   # not timed: a backup still running (the first one)
        if time.time() > deadline:
            die("a Keel backup has been running for 10 minutes")
        time.sleep(0.5)
    started = before()
    t0 = time.time()
    code, posted = http("POST", base)
    if code != 202:
        die(f"POST {base} answered {code}: {posted}")
    while True:
        b = api_json(f"{base}/{posted['id']}")
        if b["state"] == "completed":
            return b, t0, time.time(), started
        if b["state"] == "failed":
            die(f"Keel's backup {posted['id']} failed: {b.get('error')}")
        each(posted, t0)
        if time.time() - t0 > 1800:
            die(f"Keel's backup {posted['id']} did not complete within 30 minutes")
        time.sleep(poll)
