import time

import pytest

from chalicelib.core import auth
from chalicelib.core.errors import Forbidden, NotFound, Unauthorized


class FakeKeys:
    """Stands in for the key table: the unit tier never reaches DynamoDB."""

    def __init__(self):
        self.items = {}

    def add(self, org_id, key_id, role, revoked=False):
        salt = auth.new_salt()
        secret = auth.key_secret(org_id, key_id, salt)
        self.items[(org_id, key_id)] = type("Key", (), {"secret_hash": auth.hash_secret(secret), "salt": salt,
                                                       "role": role, "revoked_at": "x" if revoked else None})
        return secret

    def get(self, org_id, key_id):
        return self.items.get((org_id, key_id))


@pytest.fixture
def keys(monkeypatch):
    fake = FakeKeys()
    monkeypatch.setattr(auth, "keys", fake)
    return fake


def test_an_api_key_authenticates_with_its_role(keys):
    secret = keys.add("org_a", "key_1", "store")
    principal = auth.authenticate(f"Bearer {secret}")
    assert (principal.kind, principal.org_id, principal.role) == ("key", "org_a", "store")


@pytest.mark.parametrize("header", [None, "", "Basic abc", "Bearer ", "Bearer org_a.key_1.wrong", "Bearer a.b",
                                    "Bearer org_b.key_1.x", "Bearer " + "x" * 2000])
def test_bad_credentials_are_401(keys, header):
    keys.add("org_a", "key_1", "admin")
    with pytest.raises(Unauthorized):
        auth.authenticate(header)


def test_a_revoked_key_is_401(keys):
    secret = keys.add("org_a", "key_1", "admin", revoked=True)
    with pytest.raises(Unauthorized, match="revoked"):
        auth.authenticate(f"Bearer {secret}")


def test_the_secret_is_derived_from_the_signing_key_and_salt_only():
    assert auth.key_secret("org_a", "key_1", "salt") == auth.key_secret("org_a", "key_1", "salt")
    assert auth.key_secret("org_a", "key_1", "salt") != auth.key_secret("org_a", "key_1", "other")


def test_the_root_key_is_checked_by_hash(monkeypatch):
    monkeypatch.setenv("LAUREL_ROOT_KEY_HASH", auth.hash_secret("s3cret"))
    assert auth.authenticate("Bearer s3cret").kind == "root"


def test_a_member_session_reaches_only_its_member():
    token, _ = auth.issue_session("org_a", "prg_1", "m-1", 60)
    principal = auth.authenticate(f"Bearer {token}")
    assert (principal.kind, principal.program_id, principal.external_id) == ("member", "prg_1", "m-1")
    auth.require_member_access(principal, "prg_1", "m-1")
    with pytest.raises(NotFound):
        auth.require_member_access(principal, "prg_1", "m-2")
    with pytest.raises(Forbidden):
        auth.require(principal, ("admin",))


def test_a_tampered_or_expired_session_is_401(monkeypatch):
    token, _ = auth.issue_session("org_a", "prg_1", "m-1", 60)
    prefix, body, signature = token.split(".")
    forged = auth._b64(auth._unb64(body).replace(b"m-1", b"m-2"))
    with pytest.raises(Unauthorized):
        auth.authenticate(f"Bearer {prefix}.{forged}.{signature}")
    monkeypatch.setattr(time, "time", lambda: 10**12)
    with pytest.raises(Unauthorized, match="expired"):
        auth.authenticate(f"Bearer {token}")

