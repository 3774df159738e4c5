"""`python -m sandbox.yahoo --port 8782 [--state FILE] [--no-seed] [--world classic|next]`: the Yahoo
sandbox on 127.0.0.1.

The SMS認証 code (when the sms_wall fault is on) appears only in this process's log.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from aiohttp import web

from .app import create_app, demo_account


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox.yahoo", description=__doc__)
    parser.add_argument("--port", type=int, default=8782)
    parser.add_argument("--state", type=Path, default=None, help="JSON file to keep the world in")
    parser.add_argument("--no-seed", action="store_true", help="start with an empty store")
    parser.add_argument(
        "--world", choices=["classic", "next"], default="classic", help="which store pages to serve"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    app = create_app(state_file=args.state, seed=not args.no_seed, world=args.world)
    acc = demo_account(app)
    print(f"Yahoo sandbox ({args.world}): http://127.0.0.1:{args.port}/pro.{acc['store_id']}")
    print(
        f"  Y!ID={acc['yahoo_id']} password={acc['password']} "
        f"business_id={acc['business_id']} business_password={acc['business_password']}"
    )
    web.run_app(app, host="127.0.0.1", port=args.port, print=None)


if __name__ == "__main__":
    main()
