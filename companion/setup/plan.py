"""The steps of a setup: files, registry values and commands, each printable, doable, undoable."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class WriteFile:
    path: Path
    text: str
    executable: bool = False

    def describe(self) -> str:
        mode = " (実行可能 / executable)" if self.executable else ""
        return f"file {self.path}{mode}\n" + "".join(
            f"    {line}\n" for line in self.text.splitlines()
        )

    def do(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(self.text, encoding="utf-8", newline="")
        if self.executable:
            self.path.chmod(0o755)

    def undo(self) -> None:
        self.path.unlink(missing_ok=True)


@dataclass(frozen=True)
class RegistryValue:
    """A string value under HKEY_CURRENT_USER (Windows only; no administrator rights needed)."""

    key: str  # below HKEY_CURRENT_USER, e.g. Software\\Google\\Chrome\\NativeMessagingHosts\\x
    name: str  # "" is the key's default value
    value: str
    remove_key: bool = False  # undo deletes the whole key (ours), not only the value

    def describe(self) -> str:
        name = self.name or "(既定 / default)"
        return f"registry HKEY_CURRENT_USER\\{self.key}\n    {name} = {self.value}\n"

    def do(self) -> None:  # pragma: no cover - Windows only
        import winreg  # type: ignore[import-not-found]

        with winreg.CreateKey(winreg.HKEY_CURRENT_USER, self.key) as key:
            winreg.SetValueEx(key, self.name, 0, winreg.REG_SZ, self.value)

    def undo(self) -> None:  # pragma: no cover - Windows only
        import winreg  # type: ignore[import-not-found]

        try:
            if self.remove_key:
                winreg.DeleteKey(winreg.HKEY_CURRENT_USER, self.key)
            else:
                with winreg.OpenKey(
                    winreg.HKEY_CURRENT_USER, self.key, 0, winreg.KEY_SET_VALUE
                ) as key:
                    winreg.DeleteValue(key, self.name)
        except FileNotFoundError:
            pass


@dataclass(frozen=True)
class Command:
    """A command run after the files are in place (e.g. loading the LaunchAgent now); its undo
    is another command. A failure is reported, not fatal: the files alone work at next login."""

    argv: tuple[str, ...]
    undo_argv: tuple[str, ...] = ()

    def describe(self) -> str:
        return f"command {' '.join(self.argv)}\n"

    def _run(self, argv: tuple[str, ...]) -> None:
        if not argv:
            return
        try:
            subprocess.run(argv, check=True, capture_output=True, timeout=60)  # noqa: S603
        except (OSError, subprocess.SubprocessError) as exc:
            print(f"  （注意）{' '.join(argv)}: {exc}")

    def do(self) -> None:
        self._run(self.argv)

    def undo(self) -> None:
        self._run(self.undo_argv)


Action = WriteFile | RegistryValue | Command


@dataclass
class Plan:
    actions: list[Action] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what setup says (browser choice, id)
    # directories that are removed on uninstall once empty (never the user's own)
    prune_below: list[Path] = field(default_factory=list)

    def describe(self) -> str:
        return "".join(action.describe() for action in self.actions)

    def apply(self) -> None:
        for action in self.actions:
            action.do()

    def remove(self) -> None:
        for action in reversed(self.actions):
            action.undo()
        for action in self.actions:
            if isinstance(action, WriteFile):
                _prune_empty(action.path.parent, self.prune_below)


def _prune_empty(directory: Path, stops: list[Path]) -> None:
    """Remove `directory` and its parents while empty, never a stop directory or above it."""
    stops = [s.resolve() for s in stops]
    current = directory
    while current.exists() and current.resolve() not in stops:
        if not any(current.resolve().is_relative_to(s) for s in stops):
            return
        try:
            os.rmdir(current)
        except OSError:
            return  # not empty: something else lives there
        current = current.parent
