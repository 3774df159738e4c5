"""Typed application keys and the fault switches shared by the sandbox's handlers."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from .auth import RateLimiter
from .images import ImageCache
from .world import World


@dataclass
class Faults:
    """Switches set through `POST /_sandbox/faults`; they act on protocol requests (`/ec/…`)."""

    down_until: float = 0.0  # monotonic time until which every protocol request gets 503
    slow_ms: int = 0
    rate_limit_storm: int = 0  # the next N protocol requests get 429
    error_5xx: int = 0  # the next N protocol requests get 500
    # Not a fault but a variant: the task list answers in pages of N joined by X-Next-Cursor
    # (0: one answer with every open task, as the spec shows it)
    task_page_size: int = 0
    served: dict[str, int] = field(default_factory=lambda: {"503": 0, "500": 0, "429": 0})

    def reset(self) -> None:
        self.down_until = 0.0
        self.slow_ms = 0
        self.rate_limit_storm = 0
        self.error_5xx = 0
        self.task_page_size = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "down_seconds_left": round(max(0.0, self.down_until - time.monotonic()), 3),
            "slow_ms": self.slow_ms,
            "rate_limit_storm": self.rate_limit_storm,
            "error_5xx": self.error_5xx,
            "task_page_size": self.task_page_size,
            "served": dict(self.served),
        }


@dataclass
class InventoryForm:
    """`spec` (what ReCORE's spec shows) or `rich` (with the Yahoo fields); see protocol.py."""

    form: str = "spec"


@dataclass
class Counters:
    """How many protocol requests were answered, by status (for `/_sandbox/state` and benchmarks)."""

    by_status: dict[str, int] = field(default_factory=dict)
    by_endpoint: dict[str, int] = field(default_factory=dict)

    def count(self, endpoint: str, status: int) -> None:
        self.by_status[str(status)] = self.by_status.get(str(status), 0) + 1
        self.by_endpoint[endpoint] = self.by_endpoint.get(endpoint, 0) + 1


WORLD_KEY = web.AppKey("recore_world", World)
FAULTS_KEY = web.AppKey("recore_faults", Faults)
LIMITER_KEY = web.AppKey("recore_limiter", RateLimiter)
IMAGES_KEY = web.AppKey("recore_images", ImageCache)
DEMO_KEY_KEY = web.AppKey("recore_demo_key", str)
COUNTERS_KEY = web.AppKey("recore_counters", Counters)
INVENTORY_FORM_KEY = web.AppKey("recore_inventory_form", InventoryForm)
