"""Who may talk to a server on this machine's loopback: the Host check against DNS rebinding.

Shared by the companion's middlewares and the sandboxes' guard (`sandbox/guard.py`); it imports
nothing else of the companion.
"""

from __future__ import annotations

from aiohttp import web


def local_address(request: web.Request) -> tuple[str, int] | None:
    """(ip, port) of our own socket the request came in on."""
    sockname = request.transport.get_extra_info("sockname") if request.transport else None
    return (sockname[0], sockname[1]) if sockname else None


def loopback_hosts(port: int) -> frozenset[str]:
    """The Host headers that name this machine by a loopback name and our own port."""
    return frozenset({f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}"})


def host_allowed(request: web.Request) -> bool:
    """The Host header names this machine by a loopback name and the port we were reached on:
    a DNS name rebound to 127.0.0.1 (a web page's own host name) gets nothing."""
    address = local_address(request)
    if address is None:
        return False
    return request.headers.get("Host", "").lower() in loopback_hosts(address[1])
