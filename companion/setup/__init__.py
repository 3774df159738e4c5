"""`recore-connector setup`: what the IT person runs once on a shop PC (and `--uninstall`).

It registers the native messaging host for Chrome, Chromium and Edge (host manifest files on Linux
and macOS; on Windows a manifest plus a per-user registry value naming it), makes the companion
start at login (Linux: an XDG autostart entry; macOS: a LaunchAgent; Windows: the per-user `Run`
registry value), and says which browser the store's pages will run in. Every step is an `Action`
in a `Plan`, so `--dry-run` prints exactly what would be written and `--uninstall` removes exactly
that. `plan.py` holds the actions, `targets.py` what each system needs.
"""
