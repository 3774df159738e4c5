"""`recore-connector setup`: what it writes on each system (`--dry-run`, and the plans the
Windows and macOS writers would carry out, which cannot run here), and on Linux a real
`setup` then `setup --uninstall` that leaves nothing behind."""

from __future__ import annotations

import json
import os
import plistlib
import subprocess
import sys
from pathlib import Path, PureWindowsPath

import pytest

from companion.native_host import EXTENSION_ID, EXTENSION_ORIGIN, HOST_NAME
from companion.setup.plan import Command, RegistryValue, WriteFile
from companion.setup.targets import build_plan
from tests.install.helpers import ENV, ROOT, frame, unframe

WINDOWS_DATA = Path("C:\\Users\\staff\\AppData\\Roaming\\recore-connector")
WINDOWS_PYTHON = "C:\\Users\\staff\\.local\\bin\\recore-connector venv\\Scripts\\python.exe"


def setup_cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in ENV.items() if not k.startswith(("XDG_", "RECORE_CONNECTOR_DATA"))}
    return subprocess.run(
        [sys.executable, "-m", "companion.cli", "setup", *args],
        env={**env, "HOME": str(home)},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def tree(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): ("dir" if p.is_dir() else p.read_text())
        for p in sorted(root.rglob("*"))
    }


@pytest.mark.parametrize("system", ["linux", "darwin", "windows"])
def test_dry_run_prints_every_step_and_writes_nothing(tmp_path: Path, system: str) -> None:
    home = tmp_path / "home"
    home.mkdir()
    args = ["--dry-run", "--system", system]
    if system == "windows":
        args += ["--data-dir", str(WINDOWS_DATA)]
    out = setup_cli(home, *args)
    assert out.returncode == 0, out.stderr
    assert tree(home) == {}  # nothing written
    text = out.stdout
    assert "何も変更しません" in text
    assert EXTENSION_ORIGIN in text and HOST_NAME in text
    expected = {
        "linux": [
            ".config/google-chrome/NativeMessagingHosts/",
            ".config/chromium/NativeMessagingHosts/",
            ".config/microsoft-edge/NativeMessagingHosts/",
            ".config/autostart/recore-connector.desktop",
            ".local/share/recore-connector/native-host/host",
        ],
        "darwin": [
            "Library/Application Support/Google/Chrome/NativeMessagingHosts/",
            "Library/Application Support/Chromium/NativeMessagingHosts/",
            "Library/Application Support/Microsoft Edge/NativeMessagingHosts/",
            "Library/LaunchAgents/jp.recore_connector.companion.plist",
            "command launchctl load -w",
        ],
        "windows": [
            "HKEY_CURRENT_USER\\Software\\Google\\Chrome\\NativeMessagingHosts\\" + HOST_NAME,
            "HKEY_CURRENT_USER\\Software\\Chromium\\NativeMessagingHosts\\" + HOST_NAME,
            "HKEY_CURRENT_USER\\Software\\Microsoft\\Edge\\NativeMessagingHosts\\" + HOST_NAME,
            "HKEY_CURRENT_USER\\Software\\Microsoft\\Windows\\CurrentVersion\\Run",
            "recore-connector-host.bat",
        ],
    }[system]
    for piece in expected:
        assert piece in text, piece


def test_the_windows_plan_registers_the_manifest_for_each_browser_and_starts_at_login() -> None:
    plan = build_plan(
        "windows", home=Path("/unused"), data_dir=WINDOWS_DATA, port=8765, python=WINDOWS_PYTHON
    )
    files = {str(a.path): a.text for a in plan.actions if isinstance(a, WriteFile)}
    values = [a for a in plan.actions if isinstance(a, RegistryValue)]
    manifest_path = str(PureWindowsPath(WINDOWS_DATA) / "native-host" / f"{HOST_NAME}.json")
    launcher = str(PureWindowsPath(WINDOWS_DATA) / "native-host" / "recore-connector-host.bat")
    manifest = json.loads(files[manifest_path])
    assert manifest == {
        "name": HOST_NAME,
        "description": "ReCORE Connector companion",
        "path": launcher,
        "type": "stdio",
        "allowed_origins": [f"chrome-extension://{EXTENSION_ID}/"],
    }
    # Chrome, Chromium and Edge each find the manifest through a key's default value
    hosts = {v.key: v.value for v in values if v.name == ""}
    assert hosts == {
        f"Software\\Google\\Chrome\\NativeMessagingHosts\\{HOST_NAME}": manifest_path,
        f"Software\\Chromium\\NativeMessagingHosts\\{HOST_NAME}": manifest_path,
        f"Software\\Microsoft\\Edge\\NativeMessagingHosts\\{HOST_NAME}": manifest_path,
    }
    assert all(v.remove_key for v in values if v.name == "")
    # the launcher: CRLF, our Python, the caller's origin passed on (%*)
    bat = files[launcher]
    assert bat.startswith("@echo off\r\n") and bat.endswith("%*\r\n")
    assert f'"{WINDOWS_PYTHON}" -m companion.cli native-host' in bat
    # start at login: the per-user Run value, windowless pythonw, quoted paths; undo drops only it
    [run] = [v for v in values if v.key.endswith("CurrentVersion\\Run")]
    assert run.name == "ReCORE Connector" and not run.remove_key
    assert run.value.startswith(f'"{WINDOWS_PYTHON[: -len("python.exe")]}pythonw.exe" -m ')
    assert run.value.endswith(f"serve --port 8765 --data-dir {WINDOWS_DATA}")


def test_the_macos_launch_agent_runs_the_companion_at_login(tmp_path: Path) -> None:
    plan = build_plan(
        "darwin",
        home=tmp_path,
        data_dir=tmp_path / "data",
        port=8765,
        python="/usr/local/bin/python3",
    )
    [agent] = [a for a in plan.actions if isinstance(a, WriteFile) and a.path.suffix == ".plist"]
    plist = plistlib.loads(agent.text.encode())
    assert plist["Label"] == "jp.recore_connector.companion"
    assert plist["ProgramArguments"] == [
        "/usr/local/bin/python3",
        "-m",
        "companion.cli",
        "serve",
        "--port",
        "8765",
        "--data-dir",
        str(tmp_path / "data"),
    ]
    assert plist["RunAtLoad"] is True
    [load] = [a for a in plan.actions if isinstance(a, Command)]
    assert load.argv == ("launchctl", "load", "-w", str(agent.path))
    assert load.undo_argv[:2] == ("launchctl", "unload")


def test_linux_setup_then_uninstall_leaves_nothing_behind(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / ".config" / "someone-else").mkdir(parents=True)
    (home / ".config" / "someone-else" / "settings").write_text("theirs")
    before = tree(home)
    done = setup_cli(home)
    assert done.returncode == 0, done.stderr
    assert EXTENSION_ID in done.stdout and "店舗ページ用のブラウザ" in done.stdout
    launcher = home / ".local/share/recore-connector/native-host/host"
    assert os.access(launcher, os.X_OK)
    for browser in ("google-chrome", "chromium", "microsoft-edge"):
        manifest = json.loads(
            (home / ".config" / browser / "NativeMessagingHosts" / f"{HOST_NAME}.json").read_text()
        )
        assert manifest["path"] == str(launcher)
        assert manifest["allowed_origins"] == [EXTENSION_ORIGIN]
    entry = (home / ".config/autostart/recore-connector.desktop").read_text()
    assert f"Exec={sys.executable} -m companion.cli serve --port 8765 --data-dir " in entry
    removed = setup_cli(home, "--uninstall")
    assert removed.returncode == 0, removed.stderr
    assert tree(home) == before


def test_the_launcher_setup_writes_is_one_chrome_can_run(tmp_path: Path) -> None:
    """The generated launcher answers Chrome's framing (here: a foreign extension, refused)."""
    home = tmp_path / "home"
    assert setup_cli(home, "--profile", str(tmp_path / "profile")).returncode == 0
    manifest = json.loads(
        (tmp_path / "profile" / "NativeMessagingHosts" / f"{HOST_NAME}.json").read_text()
    )
    # --profile: that profile only, and no start at login
    assert not (home / ".config").exists()
    out = subprocess.run(
        [manifest["path"], "chrome-extension://abcdefghijklmnopabcdefghijklmnop/"],
        input=frame({"type": "connect"}),
        capture_output=True,
        env={**ENV, "HOME": str(home)},
        timeout=60,
    )
    assert unframe(out.stdout)[0]["code"] == "ORIGIN_NOT_ALLOWED"
    assert setup_cli(home, "--profile", str(tmp_path / "profile"), "--uninstall").returncode == 0
    assert not (tmp_path / "profile" / "NativeMessagingHosts").exists()
