"""What setup writes on each system, as a `Plan` (nothing here touches the disk)."""

from __future__ import annotations

import json
import os
import plistlib
import sys
from pathlib import Path, PureWindowsPath

from companion.native_host import EXTENSION_ORIGIN, HOST_NAME, host_manifest, launcher_text
from companion.setup.plan import Command, Plan, RegistryValue, WriteFile

SYSTEMS = ("linux", "darwin", "windows")
AUTOSTART_NAME = "recore-connector"
LAUNCH_AGENT = "jp.recore_connector.companion"
RUN_VALUE = "ReCORE Connector"

# where each browser reads per-user host manifests
LINUX_BROWSERS = {"Chrome": "google-chrome", "Chromium": "chromium", "Edge": "microsoft-edge"}
MAC_BROWSERS = {"Chrome": "Google/Chrome", "Chromium": "Chromium", "Edge": "Microsoft Edge"}
WINDOWS_BROWSERS = {
    "Chrome": "Software\\Google\\Chrome\\NativeMessagingHosts",
    "Chromium": "Software\\Chromium\\NativeMessagingHosts",
    "Edge": "Software\\Microsoft\\Edge\\NativeMessagingHosts",
}


def current_system() -> str:
    if sys.platform == "win32":
        return "windows"
    return "darwin" if sys.platform == "darwin" else "linux"


def serve_argv(python: str, data_dir: Path | PureWindowsPath, port: int) -> list[str]:
    return [
        python,
        "-m",
        "companion.cli",
        "serve",
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
    ]


def _desktop_quote(arg: str) -> str:
    """An argument of a .desktop file's Exec key (freedesktop quoting rules)."""
    if not any(c in arg for c in " \t\n\"'\\><~|&;$*?#()`"):
        return arg
    escaped = "".join("\\" + c if c in '"`$\\' else c for c in arg)
    return f'"{escaped}"'


def _windows_quote(arg: str) -> str:
    return f'"{arg}"' if (" " in arg or not arg) else arg


def _manifest_text(launcher: Path | PureWindowsPath) -> str:
    return json.dumps(host_manifest(str(launcher), [EXTENSION_ORIGIN]), indent=2) + "\n"


def posix_plan(
    system: str,
    home: Path,
    data_dir: Path,
    port: int,
    python: str,
    profile: Path | None = None,
) -> Plan:
    launcher = data_dir / "native-host" / "host"
    # emptied directories go up to the home (or the data dir's parent, when it lies elsewhere)
    stops = [home] if data_dir.is_relative_to(home) else [home, data_dir.parent]
    plan = Plan(prune_below=stops + ([profile] if profile else []))
    plan.actions.append(
        WriteFile(launcher, launcher_text(data_dir, port, windows=False, python=python), True)
    )
    if profile is not None:
        dirs = {"Chromium (--profile)": profile / "NativeMessagingHosts"}
    elif system == "darwin":
        support = home / "Library" / "Application Support"
        dirs = {b: support / d / "NativeMessagingHosts" for b, d in MAC_BROWSERS.items()}
    else:
        config = Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config")
        dirs = {b: config / d / "NativeMessagingHosts" for b, d in LINUX_BROWSERS.items()}
    for directory in dirs.values():
        plan.actions.append(WriteFile(directory / f"{HOST_NAME}.json", _manifest_text(launcher)))
    plan.notes.append("ネイティブメッセージング: " + "、".join(dirs))
    if profile is not None:
        return plan  # one browser profile only (tests, portable browsers): no start at login
    argv = serve_argv(python, data_dir, port)
    if system == "darwin":
        agent = home / "Library" / "LaunchAgents" / f"{LAUNCH_AGENT}.plist"
        plist = {
            "Label": LAUNCH_AGENT,
            "ProgramArguments": argv,
            "RunAtLoad": True,
            "KeepAlive": {"SuccessfulExit": False},  # back after a crash, not after a stop
            "StandardOutPath": "/dev/null",
            "StandardErrorPath": "/dev/null",
        }
        plan.actions.append(WriteFile(agent, plistlib.dumps(plist).decode("utf-8")))
        plan.actions.append(
            Command(
                ("launchctl", "load", "-w", str(agent)), ("launchctl", "unload", "-w", str(agent))
            )
        )
        plan.notes.append(f"ログイン時の起動: LaunchAgent {agent}")
    else:
        config = Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config")
        entry = config / "autostart" / f"{AUTOSTART_NAME}.desktop"
        plan.actions.append(
            WriteFile(
                entry,
                "[Desktop Entry]\n"
                "Type=Application\n"
                "Name=ReCORE Connector\n"
                "Comment=ReCORE Connector companion\n"
                f"Exec={' '.join(_desktop_quote(a) for a in argv)}\n"
                "Terminal=false\n"
                "NoDisplay=true\n"
                "X-GNOME-Autostart-enabled=true\n",
            )
        )
        plan.notes.append(f"ログイン時の起動: XDG autostart {entry}")
    return plan


def windows_plan(data_dir: PureWindowsPath, port: int, python: str) -> Plan:
    """Files under the data dir, and values under HKEY_CURRENT_USER: no administrator needed."""
    host_dir = data_dir / "native-host"
    launcher = host_dir / "recore-connector-host.bat"
    manifest = host_dir / f"{HOST_NAME}.json"
    plan = Plan(prune_below=[Path(str(data_dir.parent))])
    text = launcher_text(Path(str(data_dir)), port, windows=True, python=python)
    plan.actions.append(WriteFile(Path(str(launcher)), text))
    plan.actions.append(WriteFile(Path(str(manifest)), _manifest_text(launcher)))
    for key in WINDOWS_BROWSERS.values():
        plan.actions.append(
            RegistryValue(f"{key}\\{HOST_NAME}", "", str(manifest), remove_key=True)
        )
    plan.notes.append("ネイティブメッセージング: " + "、".join(WINDOWS_BROWSERS))
    # pythonw: no console window at login
    pythonw = str(PureWindowsPath(python).with_name("pythonw.exe"))
    command = " ".join(_windows_quote(a) for a in serve_argv(pythonw, data_dir, port))
    run_key = "Software\\Microsoft\\Windows\\CurrentVersion\\Run"
    plan.actions.append(RegistryValue(run_key, RUN_VALUE, command))
    plan.notes.append(f"ログイン時の起動: HKEY_CURRENT_USER\\{run_key} の「{RUN_VALUE}」")
    return plan


def build_plan(
    system: str,
    *,
    home: Path,
    data_dir: Path,
    port: int,
    python: str = sys.executable,
    profile: Path | None = None,
) -> Plan:
    if system == "windows":
        return windows_plan(PureWindowsPath(str(data_dir)), port, python)
    return posix_plan(system, home, data_dir, port, python, profile)
