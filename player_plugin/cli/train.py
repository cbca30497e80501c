"""`segue train` (retrain, export, guarded promotion) and `segue model list|activate|rollback`.

Training, the comparison on your newest plays and the promotion are
:func:`player_plugin.app.retrain.retrain`, shared with the GUI; this module prints its
progress on stderr (JSON lines with ``--json``) and its result on stdout.
"""

from __future__ import annotations

import argparse
import sys

from player_plugin.app.retrain import TrainingError, retrain
from player_plugin.cli.common import UserError, add_command, emit, store
from player_plugin.domain import training_events as ev
from player_plugin.domain.words import count
from player_plugin.store import models as reg


def _progress_line(event: ev.TrainingEvent, plays: int) -> str | None:
    """The line *event* prints, in a training on *plays* plays (its start's)."""
    if isinstance(event, ev.Start):
        return f"training on {count(event.plays, 'play')} of {count(event.tracks, 'track')}"
    if isinstance(event, ev.Data) and event.history > 0:  # a long history: capped
        return (
            f"learning from your newest {count(plays - event.history, 'play')} "
            f"({event.validation:,} to check it); the {count(event.history, 'play')} "
            "before them are their history"
        )
    if isinstance(event, ev.Data):
        return f"{event.targets:,} targets ({event.validation:,} for validation)"
    if isinstance(event, ev.Epoch):
        return (
            f"epoch {event.epoch}/{event.epochs}: loss {event.loss:.4f}, "
            f"validation NDCG@10 {event.val_ndcg10:.4f}, ETA {event.eta_s:.0f} s"
        )
    if isinstance(event, ev.Stage) and event.name == "compare":
        return "checking the new model on your newest plays…"
    if isinstance(event, ev.Stage):
        return f"{event.name}…"
    return None


def run_train(args: argparse.Namespace) -> int:
    db = store(args, create=False)
    db_path = reg.db_file(db)
    db.close()
    if db_path is None:
        raise UserError("segue train needs a database file")

    plays = 0  # the training's, once it starts

    def on_event(event: ev.TrainingEvent) -> None:
        nonlocal plays
        if isinstance(event, ev.Start):
            plays = event.plays
        if args.json:  # machine-readable progress on stderr
            print(ev.to_line(event), file=sys.stderr, flush=True)
        elif (line := _progress_line(event, plays)) is not None:
            print(f"segue: {line}", file=sys.stderr, flush=True)

    try:
        result = retrain(db_path, on_event=on_event)
    except TrainingError as exc:
        raise UserError(str(exc)) from exc
    verdict = "promoted" if result.promoted else "not promoted"
    emit(args, result.as_dict(), f"{result.model_id or 'no model'}: {verdict} — {result.reason}")
    return 0


def run_model(args: argparse.Namespace) -> int:
    db = store(args, create=False)
    try:
        if args.action == "list":
            rows = reg.list_models(db)
            data = [
                {
                    k: r[k]
                    for k in (
                        "id",
                        "state",
                        "created_at",
                        "cutoff",
                        "data_size",
                        "metrics",
                        "reason",
                    )
                }
                for r in rows
            ]
            lines = [
                f"{r['id']}  {r['state']:<11} plays {r['data_size'] or '-':>7}  {_ndcg(r)}  "
                f"{_after(r['reason'] or '', _ndcg(r))}"
                for r in rows
            ]
            emit(args, {"models": data}, "\n".join(lines) or "no models yet")
        elif args.action == "activate":
            if not args.id:
                raise UserError("segue model activate needs a model ID")
            previous = reg.activate(db, args.id)
            emit(args, {"active": args.id, "previous": previous}, f"{args.id} is active")
        else:
            old, new = reg.rollback(db)
            emit(args, {"active": new, "rolled_back": old}, f"rolled back {old}; {new} is active")
    except reg.RegistryError as exc:
        raise UserError(str(exc)) from exc
    return 0


def _ndcg(row: dict) -> str:
    value = (row.get("metrics") or {}).get("holdout", {}).get("model")
    return f"NDCG@10 {value:.4f}" if isinstance(value, int | float) else "NDCG@10 -     "


def _after(reason: str, figure: str) -> str:
    """*reason* without the figure the line shows just before it ("NDCG@10 0.5188 on your
    77 newest plays..." read the figure twice)."""
    return reason[len(figure) :].lstrip() if reason.startswith(f"{figure} ") else reason


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    add_command(subparsers, common, "train", run_train)
    parser = add_command(subparsers, common, "model", run_model)
    parser.add_argument(
        "action",
        nargs="?",
        choices=("list", "activate", "rollback"),
        default="list",
        help="default: list",
    )
    parser.add_argument("id", nargs="?", help="model ID (for activate)")


__all__ = ["register", "run_model", "run_train"]
