"""`segue train` (retrain, export, guarded promotion) and `segue model list|activate|rollback`.

Training runs in its own process (``python -m training``), its progress on stderr. The
new model learns from every play but the newest ones; on those it must score at least the
active model's and the best baseline's NDCG@10 to become active. Otherwise it is kept as
``rejected`` with its metrics and the reason is printed.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time

from player_plugin.cli.common import UserError, add_command, emit, store

log = logging.getLogger(__name__)


def _progress(event: dict) -> None:
    kind = event.get("event")
    if kind == "start":
        line = f"training on {event['plays']} plays of {event['tracks']} tracks"
    elif kind == "data":
        line = f"{event['targets']} targets ({event['validation']} for validation)"
    elif kind == "epoch":
        line = (
            f"epoch {event['epoch']}/{event['epochs']}: loss {event['loss']:.4f}, "
            f"validation NDCG@10 {event['val_ndcg10']:.4f}, ETA {event['eta_s']:.0f} s"
        )
    else:
        return
    print(f"segue: {line}", file=sys.stderr, flush=True)


def run_train(args: argparse.Namespace) -> int:
    from player_plugin.recommend import model_eval as me
    from player_plugin.recommend.engine import Engine, ModelError
    from player_plugin.recommend.model import ModelRecommender
    from player_plugin.store import models as reg
    from player_plugin.store.catalogue import load_catalogue, load_plays

    started = time.monotonic()
    db = store(args)
    db_path = reg.db_file(db)
    if db_path is None:
        raise UserError("segue train needs a database file")
    catalogue = load_catalogue(db)
    plays = load_plays(db, catalogue)
    listens = sum(p.listened for p in plays)

    def result(model_id, promoted, reason, metrics) -> int:
        data = {
            "model_id": model_id,
            "promoted": promoted,
            "reason": reason,
            "metrics": metrics,
            "seconds": round(time.monotonic() - started, 2),
        }
        emit(
            args,
            data,
            f"{model_id or 'no model'}: {'promoted' if promoted else 'not promoted'} — {reason}",
        )
        return 0

    start = me.holdout_start(plays)
    if start is None:
        return result(
            None,
            False,
            f"not enough history yet: {listens} listened plays; the "
            f"model trains from {me.MIN_LISTENS} on (until then the baselines "
            "suggest)",
            {},
        )
    active_row = reg.active_model(db)
    active = None
    if active_row is not None:
        try:
            active = ModelRecommender(Engine(reg.model_folder(db, active_row)))
        except ModelError as exc:
            log.warning("the active model cannot load (%s); comparing with baselines only", exc)
        if active is not None and active_row.get("cutoff"):
            while start < len(plays) and plays[start].started_at < active_row["cutoff"]:
                start += 1
    held = sum(p.listened for p in plays[start:])
    if held < me.MIN_HOLDOUT:
        return result(
            None,
            False,
            f"only {held} listened plays since the active model was "
            f"trained; retrain after {me.MIN_HOLDOUT}",
            {},
        )
    cutoff = plays[start].started_at
    root = reg.models_root(db)
    root.mkdir(parents=True, exist_ok=True)
    model_id = reg.new_model_id(db)
    folder = root / model_id
    curve: list[dict] = []

    def on_event(event: dict) -> None:
        if event.get("event") == "epoch":
            curve.append({k: v for k, v in event.items() if k != "event"})
        if args.json:  # machine-readable progress on stderr (the GUI reads these lines)
            print(json.dumps(event), file=sys.stderr, flush=True)
        else:
            _progress(event)

    try:
        done = me.run_trainer(
            me.trainer_command(db_path, folder, until_ms=cutoff), on_event=on_event
        )
    except me.TrainingError as exc:
        raise UserError(str(exc)) from exc
    metrics: dict = {"validation": done.get("metrics", {}), "curve": curve}
    reg.add_model(
        db,
        model_id,
        folder=model_id,
        cutoff=cutoff,
        data_size=start,
        metrics=metrics,
        state="candidate",
    )
    try:
        candidate = ModelRecommender(Engine(folder))
    except ModelError as exc:
        reg.update_model(db, model_id, state="rejected", reason=str(exc))
        return result(model_id, False, f"the exported model does not load: {exc}", metrics)
    comparison = me.compare_on_holdout(candidate, active, plays, catalogue, start)
    metrics["holdout"] = comparison
    promoted, reason = me.decide(comparison)
    reg.update_model(db, model_id, metrics=metrics, reason=reason)
    if promoted:
        reg.activate(db, model_id)
        reg.prune(db)
    else:
        reg.update_model(db, model_id, state="rejected")
        reg.prune(db)
    return result(model_id, promoted, reason, metrics)


def run_model(args: argparse.Namespace) -> int:
    from player_plugin.store import models as reg

    db = store(args)
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
                f"{r['id']}  {r['state']:<11} plays {r['data_size'] or 0:>7}  "
                f"{_ndcg(r)}  {r['reason'] or ''}"
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


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    add_command(
        subparsers,
        common,
        "train",
        run_train,
        "retrain the model, export ONNX, promote it if it beats the current one",
    )
    parser = add_command(
        subparsers, common, "model", run_model, "the model registry: list, activate ID, rollback"
    )
    parser.add_argument("action", choices=("list", "activate", "rollback"))
    parser.add_argument("id", nargs="?", help="model ID (for activate)")


__all__ = ["register", "run_model", "run_train"]
