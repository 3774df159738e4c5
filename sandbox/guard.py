"""The sandboxes' guard: the companion's loopback rules, for servers that run on staff machines
during demos.

A web page open in the same browser must not drive a sandbox (change its faults, read its API key):
the Host must name this machine by a loopback name and the sandbox's own port (no DNS rebinding),
and a request that carries an Origin must come from the sandbox's own pages. Programs (the
companion, the tests, curl) send no Origin and pass.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from companion.loopback import host_allowed

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def loopback_guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not host_allowed(request):
        log.warning("sandbox refused Host %r", request.headers.get("Host"))
        return web.Response(status=403, text="Host not allowed (loopback only)")
    origin = request.headers.get("Origin")
    # Host is one of our loopback names here, so this is exactly the sandbox's own origin
    if origin is not None and origin.lower() != f"http://{request.headers['Host'].lower()}":
        log.warning("sandbox refused Origin %r on %s", origin, request.path)
        return web.Response(status=403, text="Origin not allowed (the sandbox's own pages only)")
    return await handler(request)
