"""Webhook addresses: an IPv6 form that carries a private IPv4 address is as private as that address (a probe
found 6to4, NAT64 and IPv4-compatible forms of 127.0.0.1 accepted)."""
import pytest

from chalicelib.webhooks import transport


@pytest.fixture(autouse=True)
def deployed(monkeypatch):
    monkeypatch.delenv("LAUREL_LOCAL_WEBHOOKS", raising=False)


@pytest.mark.parametrize("host", [
    "[2002:7f00:1::]", "[2002:a00:8::1]", "[64:ff9b::7f00:1]", "[64:ff9b::a9fe:a9fe]", "[::7f00:1]", "[::a00:8]",
    "[2001:0:4136:e378:8000:63bf:80ff:fffe]", "[::ffff:10.0.0.8]", "[::]"])
def test_an_ipv6_form_of_a_private_ipv4_address_is_refused(host):
    with pytest.raises(transport.Refused):
        transport.check_url(f"https://{host}/hook")


@pytest.mark.parametrize("host", ["[2002:808:808::1]", "[64:ff9b::5db8:d822]", "[::ffff:93.184.216.34]",
                                  "[2606:4700:4700::1111]"])
def test_an_ipv6_address_that_reaches_a_public_one_is_accepted(host):
    assert transport.check_url(f"https://{host}/hook").scheme == "https"
