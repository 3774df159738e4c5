"""Typed application keys: every shared resource and service of the companion app, in one place.

Core resources (the store session among them) are set by `companion.app.storage_ctx`; each feature's `setup(app)` sets its own
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
from companion.resources import DiskGuard
from companion.settings import SettingsStore
from companion.store_session import StoreSession

if TYPE_CHECKING:  # the services import this module: their types only for the checker
    from companion.alerts.channels import AlertEndpoints
    from companion.alerts.queue import AlertQueue
    from companion.confirmations import Confirmations
    from companion.direct.service import DirectListing
    from companion.history import HistoryRecorder
    from companion.listing.batches import Batches
    from companion.recore.gateway import Gateway
    from companion.recore.outbox import Outbox
    from companion.recore.service import RecoreService
    from companion.sync.service import SyncService
    from companion.tables import TablesStore

CONFIG = web.AppKey("config", Config)
DB = web.AppKey("db", Database)
PAIRING = web.AppKey("pairing", Pairing)
SETTINGS = web.AppKey("settings", SettingsStore)
JOBS = web.AppKey("jobs", JobRunner)
EVENTS = web.AppKey("events", Events)
# This companion among the others on the database: who leads, notices between PCs
CLUSTER = web.AppKey("cluster", Cluster)
DISK = web.AppKey("disk", DiskGuard)
STORE = web.AppKey("store", StoreSession)  # the one Yahoo store session
# The shop's own tables (templates, grade and category tables, aliases): made with the database
TABLES: web.AppKey[TablesStore] = web.AppKey("tables")

# Feature services (set by each feature's setup)
RECORE: web.AppKey[RecoreService] = web.AppKey("recore")
GATEWAY: web.AppKey[Gateway] = web.AppKey("gateway")
OUTBOX: web.AppKey[Outbox] = web.AppKey("outbox")
BATCHES: web.AppKey[Batches] = web.AppKey("batches")
DIRECT_LISTING: web.AppKey[DirectListing] = web.AppKey("direct_listing")
SYNC: web.AppKey[SyncService] = web.AppKey("sync")
# History (companion.history) and alerts (companion.alerts); where Chatwork and LINE are (tests)
HISTORY: web.AppKey[HistoryRecorder] = web.AppKey("history")
ALERTS: web.AppKey[AlertQueue] = web.AppKey("alerts")
ALERT_ENDPOINTS: web.AppKey[AlertEndpoints] = web.AppKey("alert_endpoints")
# 確認モード (companion.confirmations): the first writes of each kind wait for staff's 実行
CONFIRMATIONS: web.AppKey[Confirmations] = web.AppKey("confirmations")
