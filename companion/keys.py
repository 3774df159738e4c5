"""Typed application keys: every shared resource and service of the companion app, in one place.

Core resources are set by `companion.app.storage_ctx`; each feature's `setup(app)` sets its own
service key. A key that a feature may not have set (an app built with fewer features, as some
tests do) is read with `app.get(KEY)`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from companion.cluster import Cluster
from companion.config import Config
from companion.db import Database
from companion.events import Events
from companion.jobs import JobRunner
from companion.pairing import Pairing
from companion.settings import SettingsStore

if TYPE_CHECKING:  # the services import this module: their types only for the checker
    from companion.direct.service import DirectListing
    from companion.listing.batches import Batches
    from companion.recore.gateway import Gateway
    from companion.recore.outbox import Outbox
    from companion.recore.service import RecoreService
    from companion.sync.service import SyncService
    from scrapers.session import BrowserSession

CONFIG = web.AppKey("config", Config)
DB = web.AppKey("db", Database)
PAIRING = web.AppKey("pairing", Pairing)
SETTINGS = web.AppKey("settings", SettingsStore)
JOBS = web.AppKey("jobs", JobRunner)
EVENTS = web.AppKey("events", Events)
# This companion among the others on the database: who leads, notices between PCs
CLUSTER = web.AppKey("cluster", Cluster)

# Feature services (set by each feature's setup)
RECORE: web.AppKey[RecoreService] = web.AppKey("recore")
GATEWAY: web.AppKey[Gateway] = web.AppKey("gateway")
OUTBOX: web.AppKey[Outbox] = web.AppKey("outbox")
BATCHES: web.AppKey[Batches] = web.AppKey("batches")
DIRECT_LISTING: web.AppKey[DirectListing] = web.AppKey("direct_listing")
SYNC: web.AppKey[SyncService] = web.AppKey("sync")
# The store's browser session when direct listing is not there to own it (sync-only apps)
YAHOO_BROWSER: web.AppKey[BrowserSession] = web.AppKey("yahoo_browser")
