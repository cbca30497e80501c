"""`python -m training --db DB --out FOLDER [--until MS] [--skip-blind]`: train and export.

Reads the catalogue and the plays before ``--until`` from the store, trains, exports ONNX
and the manifest into a temporary folder beside ``--out`` and renames it to ``--out`` at
the very end, so a cancelled or failed run leaves nothing half-written. Progress goes to
stdout as JSON lines, the events of :mod:`player_plugin.domain.training_events` (``start``,
``data``, ``epoch``..., ending with ``done``, ``cancelled`` or ``error``). SIGTERM and SIGINT
cancel cleanly (exit status 130). The trainer dies with the process that started it: on
Linux the kernel sends it SIGTERM (``PR_SET_PDEATHSIG``), elsewhere it notices that its
parent changed; either way it cancels and removes its unfinished folder, and an orphan
still running :data:`ORPHAN_GRACE_S` later (stuck where it cannot look at the cancel) writes
every thread's stack to stderr, removes that folder itself and ends.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import faulthandler
import os
import shutil
import signal
import sys
import threading
import time
from dataclasses import fields
from pathlib import Path

from player_plugin.domain import training_events as ev
from player_plugin.store.catalogue import load_catalogue, load_plays
from player_plugin.store.db import open_db
from training.chunks import training_examples
from training.config import Config
from training.data import Cancelled

EXIT_ERROR = 2
EXIT_CANCELLED = 130
PARENT_ENV = "SEGUE_TRAINER_PARENT"  # the pid that started us (set by app.retrain)
PR_SET_PDEATHSIG = 1
PARENT_POLL_S = 1.0
ORPHAN_GRACE_S = 5.0  # an orphan's time to cancel on its own before it ends itself


def _say(event: ev.TrainingEvent) -> None:
    try:
        sys.stdout.write(ev.to_line(event) + "\n")
        sys.stdout.flush()
    except BrokenPipeError:  # the reader is gone; the parent watch cancels the run
        pass


def _load_trainer() -> None:
    """Load the trainer's torch side (torch, the model, the loop, the exporter) while the
    later chunk of examples is still being built (the parent would wait for it anyway):
    ≈ 1 s of start-up less before the examples begin."""
    from training import export, loop  # noqa: F401 (deferred on purpose: see above)


def _load_onnx() -> threading.Thread:
    """Load what the export loads first (the ``onnx`` package, 0.8 s) on a thread while the
    model trains: when the two chunks of examples end together there is no time left in
    the wait above, and the training leaves the second core idle part of the time."""
    from training import export

    thread = threading.Thread(target=export.warm_up, name="load-onnx", daemon=True)
    thread.start()
    return thread


def _progress(data: dict) -> None:
    """The training loop's progress mapping, checked against the schema and written."""
    _say(ev.from_dict(data))


def die_with_parent(cancel: threading.Event, unfinished: Path) -> None:
    """Cancel when the parent process goes away: the kernel's parent-death signal where
    there is one, and a thread watching our parent id everywhere (the parent may already
    be gone before the signal was armed). An orphan that has not ended
    :data:`ORPHAN_GRACE_S` later is ended by that thread, *unfinished* removed."""
    expected = int(os.environ.get(PARENT_ENV) or os.getppid())
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        except (OSError, AttributeError):  # no prctl: the watcher below still works
            pass

    def watch() -> None:
        while os.getppid() == expected:
            time.sleep(PARENT_POLL_S)
        cancel.set()
        # faulthandler's own thread needs no interpreter lock: it ends even a trainer
        # stuck holding it, once this thread has had its turn
        faulthandler.dump_traceback_later(2 * ORPHAN_GRACE_S, exit=True)
        time.sleep(ORPHAN_GRACE_S)
        faulthandler.dump_traceback(all_threads=True)  # where it was stuck, for the log
        shutil.rmtree(unfinished, ignore_errors=True)
        exit_now(EXIT_CANCELLED)

    if os.getppid() != expected:
        cancel.set()
    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m training", description=__doc__)
    parser.add_argument("--db", required=True, help="the Segue database to learn from")
    parser.add_argument("--out", required=True, help="model folder to create")
    parser.add_argument(
        "--until",
        type=int,
        default=None,
        help="train only on plays that started before this time (ms UTC)",
    )
    parser.add_argument(
        "--skip-blind",
        action="store_true",
        help="erase how plays ended (a skip-blind model, for evaluation)",
    )
    kinds = {"int": int, "float": float, "str": str}
    for f in fields(Config):  # every setting, for experiments and tests
        if f.type in kinds:
            parser.add_argument(
                "--" + f.name.replace("_", "-"),
                type=kinds[f.type],
                default=None,
                help=argparse.SUPPRESS,
            )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    cancel = threading.Event()

    def _stop(signum, _frame) -> None:
        cancel.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    out = Path(args.out)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    die_with_parent(cancel, tmp)
    if out.exists():
        _say(ev.Failed(f"{out} already exists"))
        return EXIT_ERROR
    started = time.monotonic()
    try:
        cfg = Config()
        for f in fields(Config):
            value = getattr(args, f.name, None)
            if value is not None:
                setattr(cfg, f.name, value)
        db = open_db(args.db)
        try:
            catalogue = load_catalogue(db)
            plays = load_plays(db, catalogue, until_ms=args.until)
        finally:
            db.close()
        _say(ev.Start(len(plays), len(catalogue), args.until, bool(args.skip_blind)))
        if cancel.is_set():
            raise Cancelled
        built = time.monotonic()
        examples = training_examples(
            plays,
            catalogue,
            cfg,
            blind=args.skip_blind,
            cancel=cancel,
            while_waiting=_load_trainer,
        )
        from training.export import export_model  # loaded while the examples were built
        from training.loop import threads, train

        onnx_loaded = _load_onnx()
        trained = train(
            plays,
            catalogue,
            cfg,
            blind=args.skip_blind,
            progress=_progress,
            cancel=cancel,
            examples=examples,
            built_s=time.monotonic() - built,
        )
        if cancel.is_set():
            raise Cancelled
        cutoff = (
            args.until if args.until is not None else (plays[-1].started_at + 1 if plays else 0)
        )
        meta = {
            "model_id": out.name,
            "blind": bool(args.skip_blind),
            "cutoff_ms": int(cutoff),
            "data_size": trained.train_plays,
            "targets": trained.targets,
            "tracks": len(catalogue),
            "metrics": {"validation": trained.metrics},
            "train_seconds": round(time.monotonic() - started, 2),
            "threads": threads(cfg),  # torch's, as trained (the config's is the most)
        }
        _say(ev.Stage("export"))
        onnx_loaded.join()
        export_model(trained.model, cfg, trained.vocab, tmp, meta)
        if cancel.is_set():
            raise Cancelled
        tmp.rename(out)
    except Cancelled:
        shutil.rmtree(tmp, ignore_errors=True)
        _say(ev.Cancelled())
        return EXIT_CANCELLED
    except Exception as exc:  # reported as one JSON line; the caller shows it
        shutil.rmtree(tmp, ignore_errors=True)
        _say(ev.Failed(f"{type(exc).__name__}: {exc}"))
        return EXIT_ERROR
    _say(ev.Done(str(out), trained.metrics, round(time.monotonic() - started, 2)))
    return 0


def exit_now(status: int) -> None:
    """End the process without the interpreter's teardown: everything is written, closed
    and flushed by now, and tearing torch and onnx down took over a second, spent while
    the player waited for the trainer to end."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # its reader is gone: nothing to tell
            stream.flush()
    os._exit(status)


if __name__ == "__main__":
    exit_now(main())
