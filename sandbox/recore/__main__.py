"""`python -m sandbox.recore --port 8781 [--state FILE]`: run the ReCORE sandbox on 127.0.0.1."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from aiohttp import web

from .app import create_app, demo_credentials


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox.recore", description=__doc__)
    parser.add_argument("--port", type=int, default=8781)
    parser.add_argument("--state", type=Path, default=None, help="JSON file to keep the world in")
    parser.add_argument("--no-seed", action="store_true", help="start empty")
    parser.add_argument(
        "--inventories",
        choices=["spec", "rich"],
        default="spec",
        help="spec: listings show only what ReCORE's spec shows; rich: with the Yahoo fields",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    app = create_app(state_file=args.state, seed=not args.no_seed, inventories=args.inventories)
    creds = demo_credentials(app)
    print(f"ReCORE sandbox: http://127.0.0.1:{args.port}/ui/listings")
    print(f"  ec_account_id={creds['ec_account_id']}  api_key={creds['api_key']}")
    web.run_app(app, host="127.0.0.1", port=args.port, print=None)


if __name__ == "__main__":
    main()
