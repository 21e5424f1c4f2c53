"""Destination URLs: http(s) only, and never an address inside the server's network unless the
operator allows it (`PHOSPHO_WEBHOOK_ALLOW_PRIVATE`), so that a project owner cannot make the
server probe loopback, private, link-local or multicast addresses.

The host is resolved when the destination is saved (a clear error for the owner) and again at
each delivery: the delivery then connects to the very address it checked (`Target`), so a
name that resolves to a public address at the check and to 127.0.0.1 a moment later (DNS
rebinding) cannot reach the inside.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass

import httpx

from app.errors import Invalid

URL_MAX = 2048
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True, slots=True)
class Target:
    """Where to send a request: the URL with its host replaced by the checked address, the
    Host header and the TLS server name to keep."""

    url: httpx.URL
    host_header: str
    server_name: str


def parse_url(text: str) -> httpx.URL:
    """The URL if its form is acceptable (http or https, a host, no credentials); else Invalid."""
    text = text.strip()
    if not text or len(text) > URL_MAX:
        raise Invalid(f"url: 1 to {URL_MAX} characters")
    try:
        url = httpx.URL(text)
    except (httpx.InvalidURL, ValueError):
        raise Invalid("url is not a valid URL") from None
    if url.scheme not in ("http", "https"):
        raise Invalid("url must start with http:// or https://")
    if not url.host:
        raise Invalid("url needs a host")
    if url.userinfo:
        raise Invalid("url must not contain a user name or password")
    return url


def is_public(address: IpAddress) -> bool:
    """Whether an address is on the public internet (not loopback, private, link-local,
    multicast, reserved or unspecified; IPv4-mapped IPv6 judged by its IPv4 address)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


async def resolve(host: str, port: int) -> list[IpAddress]:
    """Every address `host` resolves to (an IP literal is itself); Invalid when none."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise Invalid(f"url: the host {host!r} does not resolve") from None
    found: list[IpAddress] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if address not in found:
            found.append(address)
    if not found:
        raise Invalid(f"url: the host {host!r} does not resolve")
    return found


async def check_url(text: str, *, allow_private: bool) -> Target:
    """The URL's delivery target, after checking its form and (unless `allow_private`) that
    every address its host resolves to is public; Invalid otherwise."""
    url = parse_url(text)
    port = url.port or (443 if url.scheme == "https" else 80)
    addresses = await resolve(url.host, port)
    if not allow_private:
        refused = [a for a in addresses if not is_public(a)]
        if refused:
            raise Invalid(
                f"url: {url.host} is a loopback, private or otherwise internal address "
                f"({refused[0]}); the server's operator can allow them with "
                "PHOSPHO_WEBHOOK_ALLOW_PRIVATE"
            )
    address = addresses[0]
    host_header = url.netloc.decode("ascii")
    pinned = url.copy_with(host=str(address))
    return Target(pinned, host_header, url.host)
