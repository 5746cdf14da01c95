"""POSTing one webhook: to a public address only, the address checked is the one connected to, no
redirect followed, a short timeout, and nothing of the answer kept but its status.

Refusing private, loopback and link-local addresses keeps an endpoint URL from reaching into the
platform's own network (SSRF). The name is resolved once and the connection pinned to the address
that passed, so a name that changes its answer in between (DNS rebinding) gains nothing. The local
stack and tests may allow plain http and private addresses (`settings.local_webhooks`).
"""
import http.client
import ipaddress
import socket
import ssl
import urllib.parse
from dataclasses import dataclass

from chalicelib.core import settings

TIMEOUT_SECONDS = 5
USER_AGENT = "Laurel-Webhooks/1"


class Refused(Exception):
    """This URL may not be called; the message says why, in words fit for an admin."""


@dataclass(frozen=True)
class Outcome:
    status: int | None  # the receiver's HTTP status; None if it never answered
    error: str | None  # why it failed, never anything the receiver sent

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def check_url(url: str) -> urllib.parse.SplitResult:
    """The URL's parts, if it is one webhooks may be sent to (a literal address is checked here too)."""
    if not url.isascii() or not url.isprintable() or " " in url:
        raise Refused("the URL must be ASCII without spaces (percent-encode the rest)")
    parts = urllib.parse.urlsplit(url)
    schemes = ("https", "http") if settings.local_webhooks() else ("https",)
    if parts.scheme not in schemes:
        raise Refused("the URL must start with https://")
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        raise Refused("the URL's port is not valid") from None
    if not parts.hostname:
        raise Refused("the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise Refused("the URL may not carry credentials; verify the signature instead")
    if parts.fragment:
        raise Refused("the URL may not have a #fragment")
    try:
        literal = ipaddress.ip_address(parts.hostname)
    except ValueError:
        literal = None
    if (literal is not None and not _public(literal)) or parts.hostname == "localhost" \
            or parts.hostname.endswith(".localhost"):
        if not settings.local_webhooks():
            raise Refused("the URL must name a public address")
    return parts


_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


def _embedded(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 form carries, which a router may reach in its stead: mapped, 6to4, Teredo's
    client, NAT64's well-known prefix, or the deprecated IPv4-compatible form."""
    if address.ipv4_mapped or address.sixtofour:
        return address.ipv4_mapped or address.sixtofour
    if address.teredo:
        return address.teredo[1]
    if address in _NAT64 or address in _IPV4_COMPATIBLE:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        inner = _embedded(address)
        if inner is not None and not _public(inner):
            return False
        if address.ipv4_mapped:
            return True  # the IPv4 address is what is reached
    return address.is_global and not address.is_multicast


def _address(host: str, port: int) -> str:
    """One address the host resolves to; every one of them must be public, or the call is refused."""
    found = [info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]
    if not settings.local_webhooks() and not all(_public(ipaddress.ip_address(a.split("%")[0])) for a in found):
        raise Refused("the host resolves to an address that is not public")
    return found[0]


def post(url: str, body: bytes, headers: dict[str, str]) -> Outcome:
    try:
        parts = check_url(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        address = _address(parts.hostname, port)
    except Refused as refused:
        return Outcome(None, str(refused))
    except (socket.gaierror, UnicodeError):
        return Outcome(None, "the host name did not resolve")
    kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    connection = kind(parts.hostname, port, timeout=TIMEOUT_SECONDS)
    # Connect to the address checked above; TLS still verifies the certificate against the host name.
    connection._create_connection = lambda _, *args, **kwargs: socket.create_connection((address, port), *args,
                                                                                      **kwargs)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request("POST", path, body=body, headers={
            "Content-Type": "application/json", "User-Agent": USER_AGENT, **headers})
        status = connection.getresponse().status
    except TimeoutError:
        return Outcome(None, f"no answer within {TIMEOUT_SECONDS} s")
    except ssl.SSLError:
        return Outcome(None, "the TLS handshake failed (is the certificate valid for the host?)")
    except ConnectionRefusedError:
        return Outcome(None, "the connection was refused")
    except (OSError, http.client.HTTPException):
        return Outcome(None, "the connection failed")
    finally:
        connection.close()
    return Outcome(status, None if 200 <= status < 300 else f"the endpoint answered HTTP {status}")
