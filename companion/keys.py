"""Typed application keys: every shared resource of the companion app."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from companion.config import Config
from companion.db import Database
from companion.events import Events
from companion.jobs import JobRunner
from companion.pairing import Pairing
from companion.settings import SettingsStore

CONFIG = web.AppKey("config", Config)
DB = web.AppKey("db", Database)
PAIRING = web.AppKey("pairing", Pairing)
SETTINGS = web.AppKey("settings", SettingsStore)
JOBS = web.AppKey("jobs", JobRunner)
EVENTS = web.AppKey("events", Events)
# Feature services register themselves here by name (gateway, outbox, batches, scheduler …)
SERVICES = web.AppKey("services", dict[str, Any])
