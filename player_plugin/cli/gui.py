"""`segue` / `segue gui` (the reference player with the plugin) and `segue demo`."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from PySide6.QtCore import QLoggingCategory, QSettings, Qt, QTimer
from PySide6.QtWidgets import QApplication

from player_plugin.cli.common import UserError, add_command, database_path, emit
from player_plugin.cli.heap import one_arena
from player_plugin.store.db import StoreError
from player_plugin.store.stats import counts
from player_plugin.ui.player_window import PlayerWindow, quit_on_signals

STARTUP_RESCAN_MS = 1000  # the library folders are rescanned this long after the window opens


def has_display(env: dict[str, str] | os._Environ[str] = os.environ) -> bool:
    """Whether Qt has somewhere to open a window: a desktop session on Linux (X11 or
    Wayland), a platform chosen outright (``QT_QPA_PLATFORM``, e.g. ``offscreen``), or
    another system (which always has one)."""
    if not sys.platform.startswith("linux"):
        return True
    return any(env.get(name) for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"))


def _app():
    if QApplication.instance() is None and not has_display():
        # Qt would abort with a page of plugin messages: one line instead
        raise UserError(
            "no display to open the player on: start it from a desktop session, or set "
            "QT_QPA_PLATFORM=offscreen to run it without a window"
        )
    # Qt Multimedia's banner ("Using Qt multimedia with FFmpeg …") is not for listeners;
    # QT_LOGGING_RULES, when set, still wins over these rules
    QLoggingCategory.setFilterRules("qt.multimedia*=false")
    if QApplication.instance() is None:
        one_arena()  # before Qt and the worker threads start
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Segue")
    app.setOrganizationName("segue")
    QApplication.setDesktopFileName("segue")  # the desktop entry (install-desktop): its icon
    return app


def open_player(
    db_path: str,
    *,
    wizard: bool = False,
    settings_scope: str = "player",
    demo: bool = False,
    settings=None,
    rescan: bool = False,
):
    """Create the main window on *db_path* (the wizard first when the library is empty);
    window state lives in *settings* (default: QSettings "segue"/*settings_scope*). With
    *rescan*, the library folders are rescanned in the background once the window is up
    (what changed while the player was closed)."""
    _app()
    try:
        window = PlayerWindow(db_path, settings=settings or QSettings("segue", settings_scope))
    except StoreError as exc:
        raise UserError(str(exc)) from exc
    if settings is None:  # ours: deleted with the window, on the GUI thread
        window.qsettings.setParent(window)
    if demo:
        window.app_title = "Segue demo"
        window.setWindowTitle("Segue demo — invented artists, invented listening history")
    empty = counts(window.db)["tracks"] == 0 and not window.library_folders()
    if wizard or empty:
        QTimer.singleShot(0, window.plugin.open_import_wizard)
    elif rescan and window.library_folders():
        QTimer.singleShot(STARTUP_RESCAN_MS, window, window.rescan)  # cancelled if it closes
    return window


def run_gui(args: argparse.Namespace) -> int:
    window = open_player(str(database_path(args)), wizard=args.wizard, rescan=True)
    return _run(window)


def _run(window) -> int:
    """Show *window* until it closes (File ▸ Quit, SIGTERM, SIGINT); Qt deletes it on the
    GUI thread as the event loop ends, so no Qt object is left for Python's teardown."""
    window.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    quit_on_signals(window)
    window.show()
    return _app().exec()


def run_demo(args: argparse.Namespace) -> int:
    # heavy and only for `segue demo` (soundfile, the history importer): not at player start
    from player_plugin.app.demo import build_demo, demo_home, demo_paths, is_built

    folder = Path(args.folder) if args.folder else demo_home()
    try:
        if args.fresh or not is_built(folder):
            print(f"segue: building the demo library in {folder} …", file=sys.stderr)
            info = build_demo(folder, tracks_per_album=args.tracks_per_album)
        else:
            info = {"folder": str(folder), "database": str(demo_paths(folder)[1])}
    except (FileExistsError, OSError) as exc:
        raise UserError(str(exc)) from exc
    if args.no_open:
        emit(args, info)
        return 0
    window = open_player(info["database"], settings_scope="demo", demo=True)
    QTimer.singleShot(500, lambda: start_demo_jobs(window))
    return _run(window)


def start_demo_jobs(window) -> None:
    """Analyse the demo audio, then train a first model, in the background."""

    def train() -> None:
        if counts(window.db)["models"] == 0 and not window.plugin.closing:
            window.plugin.retrain(reason="a first model for the demo")

    window.analyse(then=train)


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    gui = add_command(subparsers, common, "gui", run_gui)
    gui.add_argument("--wizard", action="store_true", help="open the import wizard first")
    demo = add_command(subparsers, common, "demo", run_demo)
    demo.add_argument("--folder", help="where the demo lives (default: the data folder/demo)")
    demo.add_argument("--fresh", action="store_true", help="rebuild the demo from scratch")
    demo.add_argument(
        "--no-open", action="store_true", help="build the demo and print where it is; no window"
    )
    demo.add_argument(
        "--tracks-per-album",
        type=int,
        choices=range(1, 5),
        default=3,
        metavar="N",
        help="pieces per album, 1-4 (default 3: 36 pieces)",
    )
