"""One PC's companion for the multi-PC tests: what `recore-connector serve` runs (all features,
background workers on, the database from RECORE_CONNECTOR_DATABASE_URL), with the short poll and
retry times the in-process tests use, and the Yahoo sandbox as `serve --yahoo-base-url` takes it.
Run: python -m tests.cluster.companion_pc DATA_DIR PORT YAHOO_URL"""

from __future__ import annotations

import sys
from pathlib import Path

from aiohttp import web

from companion.app import create_app
from companion.config import LOOPBACK, Config
from companion.logs import setup_logging
from companion.recore.outbox import RetryPolicy
from companion.recore.service import RECORE_OPTIONS, ServiceOptions
from companion.store_session import STORE_OPTIONS, StoreOptions
from companion.sync.service import SYNC_OPTIONS, SyncOptions


def main(data_dir: Path, port: int, yahoo_url: str) -> None:
    config = Config(data_dir=data_dir, port=port, yahoo_base_url=yahoo_url)
    config.ensure_dirs()
    setup_logging(config.log_dir)
    app = create_app(config)
    app[RECORE_OPTIONS] = ServiceOptions(
        poll_interval=0.5,
        policy=RetryPolicy(base=0.05, max_delay=0.5, unauthorized_delay=0.5, idle=0.5),
        rate=100.0,
    )
    app[SYNC_OPTIONS] = SyncOptions(deliver_wait=5.0)
    app[STORE_OPTIONS] = StoreOptions(retry_delay=0.01)
    web.run_app(app, host=LOOPBACK, port=port, print=None)


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3])
