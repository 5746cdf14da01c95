"""Gift-card codes sealed with a KMS data key: they open in their own scope, and nowhere else."""
import pytest
from moto import mock_aws

from chalicelib.core import aws, vault

SCOPE = vault.Scope("org-1", "prg-1", "rwd-1")


@pytest.fixture(autouse=True)
def kms_key(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        aws.reset()
        vault.forget_keys()
        import boto3

        key = boto3.client("kms", region_name="us-east-1").create_key()["KeyMetadata"]["Arn"]
        monkeypatch.setenv("CODES_KEY_ID", key)
        yield key
    aws.reset()
    vault.forget_keys()


def sealed(code: str, scope=SCOPE) -> str:
    return vault.Sealer(scope).seal(code)


def test_a_sealed_code_opens_in_its_scope_even_once_its_data_key_is_forgotten():
    # Given a batch of codes sealed under one data key
    sealer = vault.Sealer(SCOPE)
    codes = {code: sealer.seal(code) for code in ("GIFT-0001", "GIFT-0002", "ÜNÏCODE-3")}
    # When they are opened by a process that never saw the data key
    vault.forget_keys()
    opened = {code: vault.open_code(value, SCOPE, vault.code_hash(code)) for code, value in codes.items()}
    # Then each is its own code, and none is stored in clear
    assert opened == {code: code for code in codes}
    assert all(code not in value for code, value in codes.items())
    assert len({value.split(".")[1] for value in codes.values()}) == 1  # one data key for the batch


def test_sealing_the_same_code_twice_gives_different_ciphertexts():
    assert sealed("SAME") != sealed("SAME")


@pytest.mark.parametrize("forget", [False, True], ids=["key cached", "key from KMS"])
@pytest.mark.parametrize("scope", [
    vault.Scope("org-2", "prg-1", "rwd-1"),
    vault.Scope("org-1", "prg-2", "rwd-1"),
    vault.Scope("org-1", "prg-1", "rwd-2"),
], ids=["other tenant", "other program", "other reward"])
def test_a_sealed_code_does_not_open_in_another_scope(scope, forget):
    # Given a code sealed for one reward of one tenant
    value = sealed("MOVE-ME")
    if forget:
        vault.forget_keys()
    # When it is opened as another tenant's, program's or reward's
    # Then it is refused
    with pytest.raises(vault.Unopenable):
        vault.open_code(value, scope, vault.code_hash("MOVE-ME"))


def test_a_sealed_code_does_not_open_as_another_code():
    value = sealed("CODE-A")
    with pytest.raises(vault.Unopenable):
        vault.open_code(value, SCOPE, vault.code_hash("CODE-B"))


def flip(text: str, at: int) -> str:
    return text[:at] + ("A" if text[at] != "A" else "B") + text[at + 1:]


@pytest.mark.parametrize("tamper", [
    lambda v: flip(v, len(v) - 3),  # the ciphertext or its tag
    lambda v: v.split(".")[0] + "." + flip(v.split(".")[1], 80) + "." + v.split(".")[2],  # the data key
    lambda v: "v2" + v[2:],  # the version
    lambda v: v.rsplit(".", 1)[0],  # truncated
    lambda v: v + "!",  # not base64
], ids=["ciphertext", "data key", "version", "truncated", "garbage"])
def test_a_tampered_sealed_code_is_refused(tamper):
    # Given a sealed code, altered
    value = tamper(sealed("TAMPER-ME"))
    vault.forget_keys()
    # When it is opened, Then it is refused, and the refusal does not carry the code
    with pytest.raises(vault.Unopenable) as refused:
        vault.open_code(value, SCOPE, vault.code_hash("TAMPER-ME"))
    assert "TAMPER-ME" not in str(refused.value)
