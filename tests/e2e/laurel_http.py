"""A small HTTP client for the end-to-end tests: the contract's auth header, JSON in and out."""
import json
import uuid
from dataclasses import dataclass

import requests


@dataclass
class Reply:
    status: int
    body: object
    headers: dict

    @property
    def code(self) -> str | None:
        """The contract's error code, when the reply is an error."""
        return self.body.get("error", {}).get("code") if isinstance(self.body, dict) else None


class Http:
    def __init__(self, base_url: str):
        self.base_url = base_url
        self.session = requests.Session()

    def call(self, method: str, path: str, key: str | None = None, body=None, *, headers=None,
             raw: bytes | str | None = None) -> Reply:
        sent = {"Content-Type": "application/json", **(headers or {})}
        if key:
            sent["Authorization"] = f"Bearer {key}"
        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        response = self.session.request(method, self.base_url + path, headers=sent, data=data, timeout=30)
        try:
            payload = response.json() if response.content else None
        except ValueError:
            payload = response.text
        return Reply(response.status_code, payload, dict(response.headers))


def new_tenant(http: Http, root_key: str) -> dict:
    """An organisation with a program like the contract's example, its admin key and a member with points."""
    org = http.call("POST", "/v1/orgs", root_key, {"name": f"Org {uuid.uuid4().hex[:8]}"})
    assert org.status == 201, org
    admin = org.body["admin_key"]["secret"]
    program = http.call("POST", "/v1/programs", admin, {
        "name": "Coffee Club", "currency_name": "beans", "locale": "en", "points_expiry_days": 365,
        "earn_rules": [{"event_type": "signup", "points": 100},
                       {"event_type": "purchase", "points_per": {"property": "amount", "every": 100, "points": 1}}],
        "tiers": [{"name": "Silver", "min_points": 1000, "multiplier": 1.25},
                  {"name": "Gold", "min_points": 5000, "multiplier": 1.5}]})
    assert program.status == 201, program
    return {"org_id": org.body["id"], "admin": admin, "program_id": program.body["id"],
            "path": f"/v1/programs/{program.body['id']}"}


def upload_import(http, admin: str, program_path: str, file_name: str, body: bytes) -> dict:
    """What an integrator without AWS credentials does: ask for an upload URL, PUT the file to it as is.
    `http` is an Http, or anything with its `call`. Answers POST .../imports' answer."""
    import requests

    upload = http.call("POST", f"{program_path}/imports", admin, {"file_name": file_name, "size": len(body)})
    assert upload.status == 201, upload
    put = requests.put(upload.body["upload_url"], data=body, headers=upload.body["headers"], timeout=30)
    assert put.status_code == 200, f"PUT to the upload URL: {put.status_code} {put.text[:300]}"
    return upload.body


def finished_import(http, admin: str, program_path: str, key: str, timeout: float = 60) -> dict:
    """The import of an uploaded object once it has finished (it appears when the import function
    starts it): GET .../imports?key= until then, then GET .../imports/{id}, with its report's URL."""
    import time
    from urllib.parse import quote

    deadline = time.monotonic() + timeout
    while True:
        listed = http.call("GET", f"{program_path}/imports?key={quote(key, safe='')}", admin)
        assert listed.status == 200, listed
        jobs = [job for job in listed.body["items"] if job["status"] != "running"]
        if jobs:
            reply = http.call("GET", f"{program_path}/imports/{jobs[0]['id']}", admin)
            assert reply.status == 200, reply
            return reply.body
        assert time.monotonic() < deadline, f"no finished import of {key} within {timeout} s: {listed.body}"
        time.sleep(0.2)
