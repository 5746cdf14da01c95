"""Member import over HTTP, as an HRMS integrator without AWS credentials does it: an upload URL from the
API, the file PUT to it (the local stack's S3), the import function run from S3's notification, and the
job and its per-row report read back through the API."""
import requests

from laurel_http import finished_import, new_tenant, upload_import

CSV = ("external_id,email,name,attr.team\r\n"
       "emp-1,emp1@example.com,Ada Lovelace,eng\r\n"   # line 2: imported
       "emp 2,emp2@example.com,Bad Id,ops\r\n").encode()  # line 3: rejected (external_id)


def test_a_file_uploaded_through_the_api_is_imported_and_reported(http, stack):
    # Given a program, and an upload URL for a CSV of one good and one rejected row
    tenant = new_tenant(http, stack.root_key)
    admin, path = tenant["admin"], tenant["path"]
    # When the file is PUT to the URL the API gave (the PUT goes to S3, not to the API)
    upload = upload_import(http, admin, path, "hrms-export.csv", CSV)
    assert upload["upload_url"].startswith(stack.aws_endpoint + "/")
    # Then the import finishes: one member created, one row rejected
    job = finished_import(http, admin, path, upload["key"])
    assert (job["status"], job["key"]) == ("done", upload["key"])
    assert job["counts"] == {"rows": 2, "created": 1, "updated": 0, "unchanged": 0, "rejected": 1}
    # and its report, read through the URL the API gave, names the rejected row and why
    report = requests.get(job["report_url"], timeout=30)
    assert report.status_code == 200
    assert report.json()["counts"] == job["counts"]
    assert [(row["line"], [e["field"] for e in row["errors"]]) for row in report.json()["rejected"]] == [
        (3, ["external_id"])]
    # and the good row is a member, as PUT member would have made it
    member = http.call("GET", f"{path}/members/emp-1", admin)
    assert (member.status, member.body["name"], member.body["attributes"]) == (200, "Ada Lovelace", {"team": "eng"})
    assert http.call("GET", f"{path}/members/emp%202", admin).status in (400, 404)
    # and the program's imports list it, newest first
    listed = http.call("GET", f"{path}/imports", admin)
    assert [item["id"] for item in listed.body["items"]] == [job["id"]]


def test_an_import_is_another_organisations_404(http, stack):
    # Given an import of one organisation
    ours, theirs = new_tenant(http, stack.root_key), new_tenant(http, stack.root_key)
    upload = upload_import(http, ours["admin"], ours["path"], "members.jsonl", b'{"external_id": "m-1"}\n')
    job = finished_import(http, ours["admin"], ours["path"], upload["key"])
    # When another organisation's admin asks for it, under either program
    for path in (ours["path"], theirs["path"]):
        reply = http.call("GET", f"{path}/imports/{job['id']}", theirs["admin"])
        # Then it does not exist
        assert (reply.status, reply.code) == (404, "not_found")
