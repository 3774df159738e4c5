"""Shared helpers for the listing tests: valid listings, real images made with Pillow, and a real
image server on 127.0.0.1 (aiohttp) with switches for failures."""

from __future__ import annotations

import asyncio
import io
import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from PIL import Image

from companion.domain import Listing


def make_listing(i: int = 1, **overrides: Any) -> Listing:
    """A listing that passes every rule; override fields to break one."""
    values: dict[str, Any] = dict(
        ec_inventory_id=i,
        management_number=f"A-{i:04d}",
        title="テスト商品 Nikon F3 ボディ 動作品",
        description="<p>美品です。<br>付属品: ストラップ</p>",
        keywords="カメラ フィルム",
        category_id="2084207680",
        start_price=1000,
        buyout_price=5000,
        quantity=1,
        duration_days=7,
        end_hour=22,
        prefecture="東京都",
        city="豊島区",
        shipping_payer="落札者",
        payment_methods=["クレジットカード", "銀行振込"],
        shipping_methods=["ゆうパック"],
        condition="目立った傷や汚れなし",
        image_urls=[f"http://127.0.0.1:9/img/{i}_1.jpg"],
        tax_rate=10,
        folder_path="カメラ",
        delivery_group=1,
        lead_time_code="1",
        sales_channel="併売",
    )
    values.update(overrides)
    return Listing(**values)


def noise_image(size: tuple[int, int], mode: str = "RGB") -> Image.Image:
    channels = {"RGB": 3, "RGBA": 4, "L": 1}[mode]
    return Image.frombytes(mode, size, os.urandom(size[0] * size[1] * channels))


def image_bytes(
    fmt: str, size: tuple[int, int] = (64, 48), *, noise: bool = False, **save: Any
) -> bytes:
    mode = "RGBA" if fmt in ("PNG", "WEBP") and not noise else "RGB"
    im = (
        noise_image(size, "RGB")
        if noise
        else Image.new(mode, size, (200, 30, 30, 255)[: len(mode)])
    )
    if fmt == "GIF":
        im = im.convert("P")
    buf = io.BytesIO()
    im.save(buf, fmt, **save)
    return buf.getvalue()


def big_jpeg() -> bytes:
    """A real JPEG over 5 MB (noise does not compress)."""
    data = image_bytes("JPEG", (2600, 1900), noise=True, quality=98)
    assert len(data) > 5 * 1024 * 1024, len(data)
    return data


@dataclass
class ImageServer:
    """Serves `files` at /img/<name>; /flaky/<name> answers 503 `flaky_failures` times first;
    /slow/<name> waits `slow_seconds`; /status/<code> answers that code. Counts requests."""

    files: dict[str, bytes] = field(default_factory=dict)
    flaky_failures: int = 2
    slow_seconds: float = 0.0
    delay: float = 0.0
    hits: Counter[str] = field(default_factory=Counter)
    in_flight: int = 0
    max_in_flight: int = 0
    base: str = ""

    def url(self, name: str, kind: str = "img") -> str:
        return f"{self.base}/{kind}/{name}"

    async def _serve(self, request: web.Request, kind: str) -> web.StreamResponse:
        name = request.match_info["name"]
        self.hits[f"{kind}/{name}"] += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            if kind == "status":
                return web.Response(status=int(name), text="no")
            if kind == "flaky" and self.hits[f"{kind}/{name}"] <= self.flaky_failures:
                return web.Response(status=503, text="busy")
            if kind == "slow":
                await asyncio.sleep(self.slow_seconds)
            if name not in self.files:
                return web.Response(status=404, text="not found")
            return web.Response(body=self.files[name], content_type="application/octet-stream")
        finally:
            self.in_flight -= 1

    def app(self) -> web.Application:
        app = web.Application()
        for kind in ("img", "flaky", "slow", "status"):
            app.router.add_get(f"/{kind}/{{name}}", self._handler(kind))
        return app

    def _handler(self, kind: str) -> Any:
        async def handle(request: web.Request) -> web.StreamResponse:
            return await self._serve(request, kind)

        return handle


@pytest.fixture
async def image_server(aiohttp_server: Any) -> ImageServer:
    server = ImageServer()
    running = await aiohttp_server(server.app(), host="127.0.0.1")
    server.base = str(running.make_url("")).rstrip("/")
    return server
