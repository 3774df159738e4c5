"""`recore-connector`: the companion's command line."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import sys
from pathlib import Path

from aiohttp import web

from companion.config import (
    DEFAULT_PORT,
    LOOPBACK,
    YAHOO_BASE_URL_ENV,
    Config,
    default_data_dir,
    loopback_sockets,
)
from companion.logs import CLI_LOG, NATIVE_HOST_LOG, setup_logging

log = logging.getLogger("companion.cli")


def _config(args: argparse.Namespace, **extra: object) -> Config:
    data_dir = Path(args.data_dir).expanduser() if args.data_dir else default_data_dir()
    if getattr(args, "yahoo_base_url", None):
        extra["yahoo_base_url"] = args.yahoo_base_url
    return Config(data_dir=data_dir, port=getattr(args, "port", DEFAULT_PORT), **extra)  # type: ignore[arg-type]


def cmd_serve(args: argparse.Namespace) -> int:
    from companion.app import create_app, create_damaged_app
    from companion.db import upgrade
    from companion.db.sqlite import DatabaseDamaged

    config = _config(args)
    config.ensure_dirs()
    setup_logging(config.log_dir)
    sockets = loopback_sockets(config.port)
    log.info("companion on http://%s:%d, data in %s", LOOPBACK, config.port, config.data_dir)
    try:
        upgrade(config.db_url)  # checks the file first, copies it before a migration
    except DatabaseDamaged as damaged:
        # keep answering (the popup shows what to do) instead of exiting into a restart loop
        log.error("%s", damaged.message_en)
        print(damaged.message, file=sys.stderr)
        app = create_damaged_app(config, damaged)
        web.run_app(app, sock=sockets, print=None)
        return 1
    app = create_app(config)
    app.on_startup.append(_freeze_startup_objects)  # after every service has started
    web.run_app(app, sock=sockets, print=None)
    return 0


async def _freeze_startup_objects(_app: web.Application) -> None:
    """Leave what start-up made (modules, the app and its services) out of the garbage
    collector's full passes. Such a pass holds every thread; during a listing run one took
    90–105 ms, and `/status` waited with it (16 ms once these are left out)."""
    gc.collect()
    gc.freeze()


def cmd_backup(args: argparse.Namespace) -> int:
    """A copy of the database now (beside the daily ones), e.g. before moving the PC."""
    from companion.db import sqlite

    database = sqlite.sqlite_file(_config(args).db_url)
    copy = sqlite.backup(database, "manual") if database is not None else None
    if copy is None:
        print("コピーするデータベースがありません。 / No SQLite database to copy.", file=sys.stderr)
        return 1
    print(copy)
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    """Put the last sound copy of the database back (the replaced file is kept)."""
    from companion.db import sqlite
    from companion.jobs import RunnerLease

    config = _config(args)
    database = sqlite.sqlite_file(config.db_url)
    if database is None:
        print("このデータベースはSQLiteではないため、ここでは戻せません。", file=sys.stderr)
        print("not an SQLite database: restore it with its own tools", file=sys.stderr)
        return 1
    copies = sqlite.list_backups(sqlite.backups_dir(database))
    if args.list:
        for copy in copies:
            print(copy)
        return 0
    if RunnerLease.any_alive(config.run_dir):
        print(
            "コンパニオンが動いています。止めてから、もう一度実行してください。"
            " / The companion is running: stop it first.",
            file=sys.stderr,
        )
        return 1
    chosen = Path(args.copy) if args.copy else next(iter(copies), None)
    if chosen is None:
        print("戻せるコピーがありません。 / No copy to restore.", file=sys.stderr)
        return 1
    damage = sqlite.check(database)
    state = "壊れています" if damage else "正常です"
    print(f"いまのデータベース: {database}（{state}）")
    print(f"戻すコピー: {chosen}")
    if not damage:
        print("いまのデータベースは正常です。戻すと、コピーの後の記録は失われます。")
    if not args.yes:
        answer = input("このコピーに戻しますか？ / Restore this copy? [y/N] ")
        if answer.strip().lower() not in ("y", "yes", "はい"):
            print("戻しませんでした。 / Nothing was changed.")
            return 1
    try:
        kept = sqlite.restore(database, chosen)
    except ValueError as exc:
        print(f"このコピーも壊れているため戻せません。 / {exc}", file=sys.stderr)
        return 1
    print("データベースを戻しました。 / The database was restored.")
    if kept is not None:
        print(f"置き換えたファイルは残してあります / The replaced file is kept: {kept}")
    print(
        "コンパニオンは自動で再開します（止めていた場合は起動してください）。"
        "その後の結果は、次の同期でヤフオクとReCOREから取り戻します。"
    )
    return 0


async def new_pairing_code(config: Config) -> str:
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
    code = asyncio.run(new_pairing_code(config))
    print("拡張機能のオプション画面にこのペアリングコードを入力してください（5分間・1回だけ有効）:")
    print("Enter this pairing code in the extension's options page (valid 5 minutes, once):")
    print(code)
    return 0


def cmd_native_host(args: argparse.Namespace) -> int:
    """What Chrome runs for the extension (companion/native_host.py); stdout is Chrome's pipe."""
    from companion.native_host import EXTENSION_ORIGIN, run

    config = _config(args)
    config.ensure_dirs()
    setup_logging(config.log_dir, file_name=NATIVE_HOST_LOG, to_stderr=False)
    return run(config, args.origin, [EXTENSION_ORIGIN, *args.allow_origin])


def cmd_setup(args: argparse.Namespace) -> int:
    """Register the native messaging host and the start at login (companion/setup/)."""
    from companion.native_host import EXTENSION_ID
    from companion.setup.targets import build_plan, current_system

    system = args.system or current_system()
    if args.profile and system == "windows":
        print("--profile は Linux と macOS だけで使えます。 / --profile: Linux and macOS only.")
        return 2
    config = _config(args)
    plan = build_plan(
        system,
        home=Path.home(),
        data_dir=config.data_dir,
        port=config.port,
        profile=Path(args.profile).expanduser().resolve() if args.profile else None,
    )
    if args.dry_run:
        verb = "削除します / would remove" if args.uninstall else "書き込みます / would write"
        print(f"（確認のみ・何も変更しません）次のものを{verb}:")
        print(plan.describe(), end="")
        return 0
    if args.uninstall:
        plan.remove()
        print("登録を解除しました（データは残してあります）。 / Setup removed; the data is kept.")
        return 0
    plan.apply()
    print("セットアップが終わりました。 / Setup done.")
    for note in plan.notes:
        print(f"  {note}")
    print(f"  店舗ページ用のブラウザ: {_store_browser(system)}")
    print(f"  拡張機能ID / extension id: {EXTENSION_ID}")
    print("拡張機能を読み込み、ツールバーのボタンを押すと接続されます（コード入力は不要です）。")
    return 0


def _store_browser(system: str) -> str:
    """Which browser the store's pages will run in, said in setup's summary."""
    from companion.setup.targets import current_system
    from scrapers.browser import store_browser

    if system != current_system():  # a dry run for another system: its choice is made there
        return "その PC の Chrome か Edge（なければ Playwright の Chromium）"
    return store_browser(headless=True).describe()


def demo_extra_missing() -> bool:
    """The stand-in servers need the `[demo]` extra, which a shop PC does not install."""
    try:
        import aiohttp_jinja2  # noqa: F401
        import jinja2  # noqa: F401
        import jwt  # noqa: F401
    except ImportError:
        print(
            "デモ用の部品が入っていません。 / The stand-in servers need the [demo] extra:\n"
            "  pip install 'recore-connector[demo]'",
            file=sys.stderr,
        )
        return True
    return False


def cmd_sandbox(args: argparse.Namespace) -> int:
    if demo_extra_missing():
        return 1
    setup_logging(None)
    state_file = Path(args.state) if args.state else None
    if args.system == "recore":
        from sandbox.recore.app import create_app as create_recore
        from sandbox.recore.app import demo_credentials

        app = create_recore(state_file=state_file, inventories=args.inventories)
        print(f"ReCORE sandbox on http://{LOOPBACK}:{args.port}")
        creds = demo_credentials(app)
        print(f"  ec_account_id={creds['ec_account_id']}")
        print(f"  X-Identification: {creds['api_key']}")
    elif args.bundle:
        from sandbox.yahoo.replay import create_replay_app

        app = create_replay_app(Path(args.bundle))
        print(f"Yahoo sandbox replaying {args.bundle} on http://{LOOPBACK}:{args.port}")
    else:
        from sandbox.yahoo.app import create_app as create_yahoo
        from sandbox.yahoo.app import demo_account

        app = create_yahoo(state_file=state_file, world=args.world)
        account = demo_account(app)
        print(f"Yahoo sandbox ({args.world}) on http://{LOOPBACK}:{args.port}")
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


def write_new_file(source: Path, out: Path) -> None:
    """Copy `source` to `out` through a temporary file in `out`'s directory, created exclusively
    under a random name (never an existing file or a planted symlink), then renamed over `out`:
    never a half-written zip under the real name."""
    import os
    import shutil
    import tempfile

    umask = os.umask(0)
    os.umask(umask)
    with (
        tempfile.NamedTemporaryFile(
            dir=out.parent, prefix=f".{out.name}.", suffix=".part", delete=False
        ) as tmp,
        source.open("rb") as src,
    ):
        try:
            shutil.copyfileobj(src, tmp)
            tmp.flush()
            os.fsync(tmp.fileno())
            os.fchmod(tmp.fileno(), 0o666 & ~umask)  # as any new file of the user's
            os.replace(tmp.name, out)
        except BaseException:
            Path(tmp.name).unlink(missing_ok=True)
            raise


def batch_id_arg(text: str) -> int:
    from companion.inputs import MAX_ID, int_in_range

    number = int_in_range(text)
    if number is None:
        raise argparse.ArgumentTypeError(f"a batch id is a whole number from 1 to {MAX_ID}")
    return number


def cmd_export(args: argparse.Namespace) -> int:
    from companion.keys import BATCHES
    from companion.listing.batches import BatchError

    config = _config(args, workers=False)
    config.ensure_dirs()
    setup_logging(config.log_dir, file_name=CLI_LOG)
    out = Path(args.output).expanduser()

    async def export(app: web.Application) -> Path:
        path, _name = await app[BATCHES].zip_path(args.batch)
        return path

    try:
        path = asyncio.run(run_with_app(config, export))
    except BatchError as exc:
        print(f"{exc.message} ({exc.message_en})", file=sys.stderr)
        return 1
    except Exception as exc:
        return _local_problem_exit(exc)
    try:
        write_new_file(
            path, out
        )  # never a half-written zip under the real name, nor a planted link
    except OSError as exc:
        return _local_problem_exit(exc)
    print(out)
    return 0


def cmd_support_bundle(args: argparse.Namespace) -> int:
    """One zip for support (companion/support_bundle.py): nothing secret, no buyer data."""
    import tempfile

    from companion.support_bundle import build_bundle, bundle_name

    config = _config(args, workers=False)
    config.ensure_dirs()
    setup_logging(config.log_dir, file_name=CLI_LOG)
    out = Path(args.output).expanduser() if args.output else Path.cwd() / bundle_name()
    try:
        data = asyncio.run(run_with_app(config, build_bundle))
        with tempfile.TemporaryDirectory() as tmp:
            source = Path(tmp) / "bundle.zip"
            source.write_bytes(data)
            write_new_file(source, out)
    except Exception as exc:
        return _local_problem_exit(exc)
    print(out)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    if demo_extra_missing():
        return 1
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
    asyncio.run(run_demo(data_dir, ports, open_chromium=args.open, world=args.world))
    return 0


def cmd_login(args: argparse.Namespace) -> int:
    from companion.store_session import login_once

    config = _config(args)
    config.ensure_dirs()
    setup_logging(config.log_dir, file_name=CLI_LOG)
    visible = False if args.headless else None
    return asyncio.run(login_once(config, visible=visible, wait_seconds=args.wait))


def cmd_sync(args: argparse.Namespace) -> int:
    from companion.sync.service import format_summary, run_once

    config = _config(args, workers=False)
    config.ensure_dirs()
    setup_logging(config.log_dir, file_name=CLI_LOG)
    try:
        summary, fault, steps = asyncio.run(run_once(config))
    except Exception as exc:
        return _local_problem_exit(exc)
    print(format_summary(summary, fault, steps))
    return 0 if fault is None else 1


def cmd_diagnose(args: argparse.Namespace) -> int:
    """Read-only checks of ReCORE and the Yahoo store; a redacted zip and a Japanese summary."""
    from companion.diagnose.cli import diagnose_once

    config = _config(args)
    config.ensure_dirs()
    setup_logging(config.log_dir)
    out = Path(args.out).expanduser() if args.out else Path.cwd()
    return asyncio.run(diagnose_once(config, out))


def _local_problem_exit(exc: Exception) -> int:
    """A full disk (or the like) in a one-shot command: say what to do, exit 1; else re-raise."""
    from companion.resources import local_problem

    problem = local_problem(exc)
    if problem is None:
        raise exc
    print(problem.request_message, file=sys.stderr)
    print(problem.message_en, file=sys.stderr)
    return 1


# The Yahoo sandbox's two store worlds (docs/yahoo-sandbox.md): today's pages, or the ones built
# from the evidence about the real store.
WORLD_ARG: dict[str, object] = {
    "choices": ["classic", "next"],
    "default": "classic",
    "help": "which Yahoo store pages the sandbox serves",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="recore-connector",
        description="ReCORE Connector companion: lists ReCORE stock on Yahoo!オークション and syncs back.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def with_data_dir(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--data-dir", help="data directory (default: the user's data dir)")
        return p

    def with_store(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        # never a setting of the HTTP API: the Yahoo passwords are bound to where the store is
        p.add_argument(
            "--yahoo-base-url",
            help=f"the Yahoo sandbox to use instead of the real store (or ${YAHOO_BASE_URL_ENV})",
        )
        return with_data_dir(p)

    serve = with_store(sub.add_parser("serve", help="run the companion on 127.0.0.1"))
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
    demo.add_argument("--world", **WORLD_ARG)
    demo.set_defaults(func=cmd_demo)

    export = with_data_dir(sub.add_parser("export", help="write a batch's upload zip to a file"))
    export.add_argument(
        "--batch", type=batch_id_arg, required=True, help="batch id (生成済みリスト)"
    )
    export.add_argument("-o", "--output", required=True, help="zip file to write")
    export.set_defaults(func=cmd_export)

    bundle = with_data_dir(
        sub.add_parser("support-bundle", help="one zip for support: versions, status, log tail")
    )
    bundle.add_argument("-o", "--output", help="zip file to write (default: in this folder)")
    bundle.set_defaults(func=cmd_support_bundle)

    login = with_store(
        sub.add_parser("login", help="log in to the Yahoo store once (SMS, captcha) in a window")
    )
    login.add_argument("--headless", action="store_true", help="no window: try the stored login")
    login.add_argument("--wait", type=float, default=600, help="seconds to wait for staff")
    login.set_defaults(func=cmd_login)

    sync = with_store(
        sub.add_parser("sync", help="read the Yahoo store and send what changed to ReCORE")
    )
    sync.add_argument("--once", action="store_true", required=True, help="one sync, then exit")
    sync.set_defaults(func=cmd_sync)

    diagnose = with_store(
        sub.add_parser(
            "diagnose", help="read-only checks of ReCORE and the Yahoo store; a redacted zip"
        )
    )
    diagnose.add_argument("--out", help="folder for the zip (default: the current folder)")
    diagnose.set_defaults(func=cmd_diagnose)

    backup = with_data_dir(sub.add_parser("backup", help="copy the database now"))
    backup.set_defaults(func=cmd_backup)

    restore = with_data_dir(
        sub.add_parser("restore", help="put the last sound copy of the database back")
    )
    restore.add_argument("--list", action="store_true", help="list the copies, change nothing")
    restore.add_argument("--copy", help="this copy instead of the newest")
    restore.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    restore.set_defaults(func=cmd_restore)

    setup = with_data_dir(
        sub.add_parser("setup", help="register with Chrome/Edge and start at login (once)")
    )
    setup.add_argument("--port", type=int, default=DEFAULT_PORT, help="companion port")
    setup.add_argument(
        "--dry-run", action="store_true", help="print what would change, change nothing"
    )
    setup.add_argument("--uninstall", action="store_true", help="remove what setup wrote")
    setup.add_argument("--profile", help="register into this Chromium user-data directory only")
    setup.add_argument("--system", choices=["linux", "darwin", "windows"], help=argparse.SUPPRESS)
    setup.set_defaults(func=cmd_setup)

    host = with_data_dir(
        sub.add_parser("native-host", help="what Chrome starts for the extension (stdio)")
    )
    host.add_argument("origin", help="the calling extension's origin (Chrome passes it)")
    host.add_argument("--port", type=int, default=DEFAULT_PORT, help="companion port")
    host.add_argument(
        "--allow-origin", action="append", default=[], help="another extension origin to serve"
    )
    host.add_argument("--parent-window", help=argparse.SUPPRESS)  # Chrome on Windows adds it
    host.set_defaults(func=cmd_native_host)

    sandbox = sub.add_parser("sandbox", help="run a stand-in server for ReCORE or Yahoo")
    sandbox.add_argument("system", choices=["recore", "yahoo"])
    sandbox.add_argument("--port", type=int, required=True)
    sandbox.add_argument("--state", help="JSON file to keep the sandbox's state across restarts")
    sandbox.add_argument(
        "--inventories",
        choices=["spec", "rich"],
        default="spec",
        help="ReCORE only: listings as its spec shows them (spec), or with the Yahoo fields (rich)",
    )
    sandbox.add_argument("--world", **WORLD_ARG)
    sandbox.add_argument(
        "--bundle", help="yahoo only: serve a diagnosis zip's saved pages as the store (read only)"
    )
    sandbox.set_defaults(func=cmd_sandbox)
    return parser


def main(argv: list[str] | None = None) -> int:
    from companion.app import SecretsUnreadable
    from companion.db import DatabaseUnreachable
    from companion.db.location import NetworkShareRefused
    from companion.db.sqlite import DatabaseDamaged

    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except DatabaseDamaged as damaged:
        print(damaged.message, file=sys.stderr)
        print(damaged.message_en, file=sys.stderr)
        return 1
    except (NetworkShareRefused, SecretsUnreadable, DatabaseUnreachable) as refused:
        # the database cannot be used as it is: say why in both languages, no traceback
        print(refused.ja, file=sys.stderr)
        print(refused.en, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
