"""`recore-connector`: the companion's command line."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from aiohttp import web

from companion.config import DEFAULT_PORT, LOOPBACK, Config, default_data_dir
from companion.logs import setup_logging

log = logging.getLogger("companion.cli")


def _config(args: argparse.Namespace, **extra: object) -> Config:
    data_dir = Path(args.data_dir).expanduser() if args.data_dir else default_data_dir()
    return Config(data_dir=data_dir, port=getattr(args, "port", DEFAULT_PORT), **extra)  # type: ignore[arg-type]


def cmd_serve(args: argparse.Namespace) -> int:
    from companion.app import create_app

    config = _config(args)
    config.ensure_dirs()
    setup_logging(config.log_dir)
    log.info("companion on http://%s:%d, data in %s", LOOPBACK, config.port, config.data_dir)
    web.run_app(create_app(config), host=LOOPBACK, port=config.port, print=None)
    return 0


async def _new_pairing_code(config: Config) -> str:
    from companion.db import Database
    from companion.pairing import create_code

    db = Database(config.db_url)
    try:
        await db.migrate()
        return await create_code(db)
    finally:
        await db.close()


def cmd_pair(args: argparse.Namespace) -> int:
    config = _config(args)
    config.ensure_dirs()
    code = asyncio.run(_new_pairing_code(config))
    print("拡張機能のオプション画面にこのペアリングコードを入力してください（5分間・1回だけ有効）:")
    print("Enter this pairing code in the extension's options page (valid 5 minutes, once):")
    print(code)
    return 0


def cmd_sandbox(args: argparse.Namespace) -> int:
    setup_logging(None)
    state_file = Path(args.state) if args.state else None
    if args.system == "recore":
        from sandbox.recore.app import create_app as create_recore
        from sandbox.recore.app import demo_credentials

        app = create_recore(state_file=state_file)
        print(f"ReCORE sandbox on http://{LOOPBACK}:{args.port}")
        creds = demo_credentials(app)
        print(f"  ec_account_id={creds['ec_account_id']}")
        print(f"  X-Identification: {creds['api_key']}")
    else:
        from sandbox.yahoo.app import create_app as create_yahoo
        from sandbox.yahoo.app import demo_account

        app = create_yahoo(state_file=state_file)
        account = demo_account(app)
        print(f"Yahoo sandbox on http://{LOOPBACK}:{args.port}")
        print(f"  Y!ID={account['yahoo_id']} business_id={account['business_id']}")
    web.run_app(app, host=LOOPBACK, port=args.port, print=None)
    return 0


async def run_with_app(config: Config, work):  # type: ignore[no-untyped-def]
    """Start the companion's services without listening, run `work(app)`, shut down cleanly."""
    from companion.app import create_app

    runner = web.AppRunner(create_app(config))
    await runner.setup()
    try:
        return await work(runner.app)
    finally:
        await runner.cleanup()


def cmd_export(args: argparse.Namespace) -> int:
    import os
    import shutil

    from companion.keys import BATCHES
    from companion.listing.batches import BatchError

    config = _config(args, workers=False)
    config.ensure_dirs()
    setup_logging(config.log_dir)
    out = Path(args.output).expanduser()

    async def export(app: web.Application) -> Path:
        path, _name = await app[BATCHES].zip_path(args.batch)
        return path

    try:
        path = asyncio.run(run_with_app(config, export))
    except BatchError as exc:
        print(f"{exc.message} ({exc.message_en})", file=sys.stderr)
        return 1
    tmp = out.with_name(f".{out.name}.part")
    shutil.copyfile(path, tmp)
    os.replace(tmp, out)  # never a half-written zip under the real name
    print(out)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from companion.demo import DemoPorts, prepare_dir, run_demo

    data_dir = Path(args.data_dir).expanduser() if args.data_dir else default_data_dir() / "demo"
    setup_logging(data_dir / "logs")
    ports = DemoPorts(args.port, args.recore_port, args.yahoo_port)
    prepare_dir(data_dir, reset=args.reset)
    if args.reset and Config(data_dir=data_dir).db_url.startswith("postgres"):
        print(
            "--reset はデータフォルダーだけを消します。PostgreSQLのデータベースはそのままです。 / "
            "--reset clears the data dir only; the PostgreSQL database is kept."
        )
    asyncio.run(run_demo(data_dir, ports, open_chromium=args.open))
    return 0


def cmd_login(args: argparse.Namespace) -> int:
    from companion.direct.service import login_once

    config = _config(args)
    config.ensure_dirs()
    setup_logging(config.log_dir)
    visible = False if args.headless else None
    return asyncio.run(login_once(config, visible=visible, wait_seconds=args.wait))


def cmd_sync(args: argparse.Namespace) -> int:
    from companion.sync.service import format_summary, run_once

    config = _config(args, workers=False)
    config.ensure_dirs()
    setup_logging(config.log_dir)
    summary, fault, steps = asyncio.run(run_once(config))
    print(format_summary(summary, fault, steps))
    return 0 if fault is None else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="recore-connector",
        description="ReCORE Connector companion: lists ReCORE stock on Yahoo!オークション and syncs back.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def with_data_dir(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--data-dir", help="data directory (default: the user's data dir)")
        return p

    serve = with_data_dir(sub.add_parser("serve", help="run the companion on 127.0.0.1"))
    serve.add_argument("--port", type=int, default=DEFAULT_PORT)
    serve.set_defaults(func=cmd_serve)

    pair = with_data_dir(sub.add_parser("pair", help="print a one-time pairing code"))
    pair.set_defaults(func=cmd_pair)

    demo = with_data_dir(
        sub.add_parser("demo", help="companion + both sandboxes, seeded, ready for the extension")
    )
    demo.add_argument("--port", type=int, default=DEFAULT_PORT, help="companion port")
    demo.add_argument("--recore-port", type=int, default=DEFAULT_PORT + 1)
    demo.add_argument("--yahoo-port", type=int, default=DEFAULT_PORT + 2)
    demo.add_argument("--reset", action="store_true", help="start from a clean demo state")
    demo.add_argument("--open", action="store_true", help="open Chromium with the extension")
    demo.set_defaults(func=cmd_demo)

    export = with_data_dir(sub.add_parser("export", help="write a batch's upload zip to a file"))
    export.add_argument("--batch", type=int, required=True, help="batch id (生成済みリスト)")
    export.add_argument("-o", "--output", required=True, help="zip file to write")
    export.set_defaults(func=cmd_export)

    login = with_data_dir(
        sub.add_parser("login", help="log in to the Yahoo store once (SMS, captcha) in a window")
    )
    login.add_argument("--headless", action="store_true", help="no window: try the stored login")
    login.add_argument("--wait", type=float, default=600, help="seconds to wait for staff")
    login.set_defaults(func=cmd_login)

    sync = with_data_dir(
        sub.add_parser("sync", help="read the Yahoo store and send what changed to ReCORE")
    )
    sync.add_argument("--once", action="store_true", required=True, help="one sync, then exit")
    sync.set_defaults(func=cmd_sync)

    sandbox = sub.add_parser("sandbox", help="run a stand-in server for ReCORE or Yahoo")
    sandbox.add_argument("system", choices=["recore", "yahoo"])
    sandbox.add_argument("--port", type=int, required=True)
    sandbox.add_argument("--state", help="JSON file to keep the sandbox's state across restarts")
    sandbox.set_defaults(func=cmd_sandbox)
    return parser


def main(argv: list[str] | None = None) -> int:
    from companion.app import SecretsUnreadable
    from companion.db import DatabaseUnreachable
    from companion.db.location import NetworkShareRefused

    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (NetworkShareRefused, SecretsUnreadable, DatabaseUnreachable) as refused:
        # the database cannot be used as it is: say why in both languages, no traceback
        print(refused.ja, file=sys.stderr)
        print(refused.en, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
