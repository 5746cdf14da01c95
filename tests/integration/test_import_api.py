"""Member import through the API: an upload URL for the program's prefix, the file PUT to it as an
integrator would (with `requests`, which moto intercepts), the real import function, then the job and
its report read back through the API."""
import json
import os
import time
import uuid
from datetime import timedelta
from urllib.parse import parse_qs, quote, urlsplit

import pytest
import requests

from chalicelib.core import clock
from chalicelib.members.imports import bucket, runs

FUNCTION = "MemberImportFunction"
CSV = "external_id,email,name\nada,ada@example.com,Ada\nbob,not-an-email,Bob\n"


# --- helpers ------------------------------------------------------------------------------------

def upload_url(api, program, file_name="members.csv", **extra) -> dict:
    status, answer = api.call("POST", f"{program['path']}/imports", program["admin"],
                              {"file_name": file_name, **extra})
    assert status == 201, answer
    return answer


def put(upload: dict, body: str | bytes) -> requests.Response:
    data = body.encode() if isinstance(body, str) else body
    return requests.put(upload["upload_url"], data=data, headers=upload["headers"], timeout=10)


def imports_of(api, program, key: str | None = None, **query) -> tuple[int, dict]:
    if key is not None:
        query["key"] = key
    suffix = "?" + "&".join(f"{name}={quote(str(value), safe='')}" for name, value in query.items()) if query else ""
    return api.call("GET", f"{program['path']}/imports{suffix}", program["admin"])


def imported(stack, api, program, file_name: str, body: str) -> dict:
    """Upload through the API, let the import function consume the notification, answer the one job."""
    upload = upload_url(api, program, file_name)
    assert put(upload, body).status_code == 200
    stack.pump(FUNCTION)
    status, listed = imports_of(api, program, upload["key"])
    assert status == 200 and len(listed["items"]) == 1, listed
    return listed["items"][0]


def other_tenant(api) -> dict:
    status, org = api.call("POST", "/v1/orgs", os.environ["LAUREL_ROOT_KEY"], {"name": f"Other {uuid.uuid4().hex[:6]}"})
    admin = org["admin_key"]["secret"]
    status, created = api.call("POST", "/v1/programs", admin, {"name": "Theirs"})
    return {"org_id": org["id"], "admin": admin, "id": created["id"], "path": f"/v1/programs/{created['id']}"}


# --- POST .../imports -----------------------------------------------------------------------------

def test_an_upload_url_is_for_a_new_key_under_the_callers_organisation_and_program(stack, api, program):
    # Given an admin of the program
    # When it asks for an upload URL, twice for the same file name
    first, second = upload_url(api, program), upload_url(api, program)
    # Then each is for its own key under imports/{org_id}/{program_id}/, ending in the file name
    prefix = f"imports/{program['org_id']}/{program['id']}/upl_"
    assert first["key"].startswith(prefix) and first["key"].endswith("/members.csv")
    assert second["key"] != first["key"] and bucket.locate(first["key"]).program_id == program["id"]
    # and the URL is a SigV4 PUT of exactly that object in the imports bucket, for 15 minutes
    url = urlsplit(first["upload_url"])
    signed = parse_qs(url.query)
    assert stack.env["IMPORTS_BUCKET"] in url.netloc + url.path and url.path.endswith(first["key"])
    assert signed["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"] and signed["X-Amz-Expires"] == ["900"]
    assert (first["method"], first["headers"]) == ("PUT", {})
    expires_at = clock.parse(first["expires_at"])
    assert timedelta(minutes=14) < expires_at - clock.now() <= timedelta(minutes=15)


def test_with_a_size_the_upload_url_takes_exactly_that_length(api, program):
    # When the client says how big its file is
    upload = upload_url(api, program, "members.jsonl", size=1234)
    # Then the length is part of the signature, and the answer says which header the PUT must carry
    assert "content-length" in parse_qs(urlsplit(upload["upload_url"]).query)["X-Amz-SignedHeaders"][0].split(";")
    assert upload["headers"] == {"Content-Length": "1234"}


@pytest.mark.parametrize("body, field", [
    ({"file_name": "members.xlsx"}, "file_name"),
    ({"file_name": "../members.csv"}, "file_name"),
    ({"file_name": "imports/other-org/members.csv"}, "file_name"),
    ({"file_name": 42}, "file_name"),
    ({}, "file_name"),
    ({"file_name": "members.csv", "size": 0}, "size"),
    ({"file_name": "members.csv", "size": 2 * 1024 ** 3}, "size"),
    ({"file_name": "members.csv", "key": "imports/x/y/z.csv"}, "key"),
])
def test_a_bad_upload_request_is_400_naming_the_field(api, program, body, field):
    # When the body is not a plain CSV / JSON-lines file name (and an optional size)
    status, answer = api.call("POST", f"{program['path']}/imports", program["admin"], body)
    # Then it is refused with the field named, and the rule when it is the file name
    assert (status, answer["error"]["code"], answer["error"]["details"]["field"]) == (400, "validation_error", field)
    if field == "file_name" and body.get("file_name") != 42 and body:
        assert ".csv, .jsonl or .ndjson" in answer["error"]["message"]


def test_an_upload_url_for_another_organisations_program_is_404(api, program):
    # Given a second organisation
    other = other_tenant(api)
    # When it asks for an upload URL for the first one's program, or for a program that does not exist
    for path in (program["path"], "/v1/programs/prg_00000000000000000000000000"):
        status, answer = api.call("POST", f"{path}/imports", other["admin"], {"file_name": "members.csv"})
        # Then the program does not exist for it
        assert (status, answer["error"]["code"]) == (404, "not_found")


def test_only_admins_import(api, program):
    # Given an analyst and a store key of the organisation
    keys = {role: api.call("POST", "/v1/api-keys", program["admin"], {"name": role, "role": role})[1]["secret"]
            for role in ("analyst", "store")}
    # When they ask for an upload URL or read the imports
    for key in keys.values():
        for method, path, body in (("POST", f"{program['path']}/imports", {"file_name": "m.csv"}),
                                   ("GET", f"{program['path']}/imports", None),
                                   ("GET", f"{program['path']}/imports/imp_00000000000000000000000000", None)):
            status, answer = api.call(method, path, key, body)
            # Then they are refused
            assert (status, answer["error"]["code"]) == (403, "forbidden"), (method, path)


# --- the whole way through ------------------------------------------------------------------------

def test_a_file_put_to_the_upload_url_is_imported_and_its_report_is_read_through_a_url(stack, api, program):
    # Given an upload URL, and a CSV with a good row and one the import rejects
    upload = upload_url(api, program, "hrms.csv", size=len(CSV))
    # When the file is PUT to it, as is, and the import function consumes S3's notification
    assert put(upload, CSV).status_code == 200
    status, listed = imports_of(api, program, upload["key"])
    assert (status, listed["items"]) == (200, [])  # no import until the function has the notification
    stack.pump(FUNCTION)
    # Then the program's imports filtered on the key hold its one import, finished
    status, listed = imports_of(api, program, upload["key"])
    (job,) = listed["items"]
    assert (job["key"], job["status"], job["counts"]) == (
        upload["key"], "done", {"rows": 2, "created": 1, "updated": 0, "unchanged": 0, "rejected": 1})
    # and GET by its id answers the same, with a URL of the per-row report
    status, answer = api.call("GET", f"{program['path']}/imports/{job['id']}", program["admin"])
    assert status == 200 and {k: answer[k] for k in job} == job
    assert answer["report_key"] == f"reports/{program['org_id']}/{program['id']}/{job['file']}.report.json"
    assert clock.parse(answer["report_expires_at"]) - clock.now() <= timedelta(minutes=15)
    report = requests.get(answer["report_url"], timeout=10).json()
    assert (report["import_id"], report["counts"]) == (job["id"], job["counts"])
    assert report["rejected"] == [{"line": 3, "external_id": "bob", "errors": [
        {"field": "email", "message": report["rejected"][0]["errors"][0]["message"]}]}]
    assert "not-an-email" not in json.dumps(report)
    # and the good row is a member
    status, ada = api.call("GET", f"{program['path']}/members/ada", program["admin"])
    assert (status, ada["email"]) == (200, "ada@example.com")


def test_a_running_import_has_counts_so_far_and_no_report_yet(stack, api, program, monkeypatch):
    # Given an import function that stops after each chunk of 2 rows, as when its time runs low
    monkeypatch.setattr(runs, "CHUNK_ROWS", 2)
    monkeypatch.setattr(runs, "STOP_MARGIN_MS", 10 ** 9)
    upload = upload_url(api, program, "slow.csv")
    assert put(upload, "external_id,name\nr-1,One\nr-2,Two\nr-3,Three\n").status_code == 200
    poller = stack.poller(FUNCTION)
    for _ in range(3):  # S3's test event may come first
        poller.poll_once()
        status, listed = imports_of(api, program, upload["key"])
        if listed["items"]:
            break
    # When the import is read between two of its invocations
    (job,) = listed["items"]
    status, answer = api.call("GET", f"{program['path']}/imports/{job['id']}", program["admin"])
    # Then it is running, with the rows done so far, and has no report yet
    assert (status, answer["status"], answer["counts"]["rows"], answer["finished_at"]) == (200, "running", 1, None)
    assert "report_url" not in answer and answer["report_key"] is None
    # When it is let finish
    monkeypatch.undo()
    stack.pump(FUNCTION)
    # Then it is done, with its report
    status, answer = api.call("GET", f"{program['path']}/imports/{job['id']}", program["admin"])
    assert (answer["status"], answer["counts"]["created"]) == ("done", 3) and answer["report_url"]


def test_a_file_refused_as_a_whole_is_a_failed_import_with_its_reason_and_report(stack, api, program):
    # When a file whose header the import does not know is uploaded
    job = imported(stack, api, program, "typo.csv", "external_id,emial\nada,ada@example.com\n")
    # Then the import failed, says why, and still has its report
    status, answer = api.call("GET", f"{program['path']}/imports/{job['id']}", program["admin"])
    assert (answer["status"], answer["error"]["code"]) == ("failed", "bad_header")
    assert requests.get(answer["report_url"], timeout=10).json()["error"]["code"] == "bad_header"


# --- GET .../imports and .../imports/{import_id} ---------------------------------------------------

def test_imports_are_listed_newest_first_page_by_page(stack, api, program):
    # Given three imports of the program, a second apart (an import's id has its upload's time, to the second)
    made = []
    for n in range(3):
        if made:
            time.sleep(1.05)
        made.append(imported(stack, api, program, f"batch-{n}.csv", f"external_id\nm-{n}\n")["id"])
    # When they are listed one per page
    seen, cursor = [], None
    for _ in range(4):
        status, page = imports_of(api, program, limit=1, **({"cursor": cursor} if cursor else {}))
        assert status == 200
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    # Then every one comes once, the newest first
    assert seen == list(reversed(made))
    # and a cursor of another list is refused
    status, page = imports_of(api, program, limit=1)
    status, answer = api.call("GET", f"{program['path']}/rewards?cursor={page['next_cursor']}", program["admin"])
    assert (status, answer["error"]["details"]["field"]) == (400, "cursor")


@pytest.mark.parametrize("key", ["imports/org_x/prg_y/upl_z/members.csv", "reports/x.csv", "x" * 2000, ""])
def test_a_key_filter_outside_the_programs_uploads_is_400(api, program, key):
    # When the list is filtered on a key that is not one of this program's uploads
    status, answer = imports_of(api, program, key)
    # Then it is refused, naming the parameter
    assert (status, answer["error"]["details"]["field"]) == (400, "key")


def test_another_organisation_never_reaches_an_import(stack, api, program):
    # Given an import of the first organisation, and a second organisation with a program of its own
    job = imported(stack, api, program, "ours.csv", CSV)
    other = other_tenant(api)
    reads = [
        (other["admin"], f"{program['path']}/imports"),  # the first one's program
        (other["admin"], f"{program['path']}/imports/{job['id']}"),
        (other["admin"], f"{other['path']}/imports/{job['id']}"),  # the id under its own program
        (program["admin"], f"{other['path']}/imports/{job['id']}"),  # and the owner under the wrong program
    ]
    # When it reads them
    for key, path in reads:
        status, answer = api.call("GET", path, key)
        # Then none exists
        assert (status, answer["error"]["code"]) == (404, "not_found"), path
    # and its own program lists none of them
    assert imports_of(api, other)[1]["items"] == []


@pytest.mark.parametrize("import_id", ["imp_00000000000000000000000000", "imp_x", "x" * 2000, "IMPORT#x"])
def test_an_unknown_or_malformed_import_id_is_404(api, program, import_id):
    status, answer = api.call("GET", f"{program['path']}/imports/{quote(import_id, safe='')}", program["admin"])
    assert (status, answer["error"]["code"]) == (404, "not_found")
