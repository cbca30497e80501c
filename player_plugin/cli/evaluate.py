"""`segue evaluate`: offline evaluation of the model and the baselines on a play log."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from player_plugin.app.evaluate import EvalOptions, evaluate_files
from player_plugin.cli.common import UserError, add_command, emit
from player_plugin.domain.words import count
from player_plugin.library.history.readers import FORMATS, HistoryFormatError
from player_plugin.recommend.baselines import baseline_names

FORMAT_CHOICES = ("auto", *FORMATS)


def _text(result: dict) -> str:
    lines = [
        f"{count(result['listeners'], 'listener')}, {count(result['plays'], 'play')}, "
        f"{count(result['test_plays'], 'test target')} ({result['new_plays']:,} new); "
        f"{result['seconds']} s",
        f"{'method':26s} {'NDCG@10 all':>12s} {'HR@10 all':>10s} {'MRR all':>8s} "
        f"{'NDCG@10 new':>12s} {'HR@10 new':>10s}",
    ]
    methods = result["methods"]
    for name in sorted(methods, key=lambda n: -(methods[n]["all"]["ndcg@10"] or 0.0)):
        a, n = methods[name]["all"], methods[name]["new"]

        def f(v):
            return "–" if v is None else f"{v:.4f}"

        lines.append(
            f"{name:26s} {f(a['ndcg@10']):>12s} {f(a['hr@10']):>10s} {f(a['mrr']):>8s} "
            f"{f(n['ndcg@10']):>12s} {f(n['hr@10']):>10s}"
        )
    for name, kept in result.get("reranked_kept", {}).items():
        shares = [f"{kept[s]:.0%}" + " of its NDCG@10" * (not i) + f" on {s} plays"
                  for i, s in enumerate(s for s in ("all", "new") if s in kept)]  # fmt: skip
        lines.append(f"{name}: the re-ranked list keeps {', '.join(shares)}")
    own = result.get("listener_variety") or {}
    if own:
        lines.append(
            f"the listener's own next plays: artist diversity {own['artist_diversity']:.3f} "
            f"{own['artist_diversity_range']}, repeat rate {own['repeat_rate']:.3f} "
            f"{own['repeat_rate_range']}"
        )
    for name, points in result.get("dial", {}).items():
        lines.append(f"{name}, familiar ↔ discover dial:")
        lines.append(
            f"  {'dial':>5s} {'NDCG@10 all':>12s} {'NDCG@10 new':>12s} {'never played':>13s} "
            f"{'artists':>8s} {'replays':>8s}"
        )
        for p in points:
            lines.append(
                f"  {p['dial']:5.2f} {p['ndcg@10']:12.4f} {p['ndcg@10_new']:12.4f} "
                f"{p['new_share']:13.3f} {p['artist_diversity']:8.3f} {p['repeat_rate']:8.3f}"
            )
    for c in result.get("comparisons", []):
        verdict = "beats" if c["a_beats_b"] else "loses to" if c["b_beats_a"] else "ties with"
        lines.append(
            f"{c['a']} {verdict} {c['b']} on {c['metric']} ({c['subset']}): "
            f"{c['difference']} {c['difference_ci']}"
        )
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    for path in [*args.plays, *(args.distractors or [])]:
        if not Path(path).exists():
            raise UserError(f"no such file: {path}")
        if not Path(path).is_file():
            raise UserError(f"{path}: not a file (name the history files themselves)")
    methods = None
    if args.methods:
        methods = [m.strip() for m in args.methods.split(",") if m.strip()]
        unknown = [m for m in methods if m not in baseline_names()]
        if unknown:
            raise UserError(
                f"unknown method(s): {', '.join(unknown)} (known: {', '.join(baseline_names())})"
            )
    if args.seeds < 1:
        raise UserError("--seeds must be at least 1")
    if args.max_listeners is not None and args.max_listeners < 1:
        raise UserError("--max-listeners must be at least 1")
    options = EvalOptions(
        methods=methods,
        model=not args.no_model,
        max_listeners=args.max_listeners,
        bootstrap=args.bootstrap,
        seeds=args.seeds,
        validation=args.validation,
        dial=args.dial,
        progress=(lambda msg: print(f"segue: {msg}", file=sys.stderr)) if args.verbose else None,
    )
    try:
        result = evaluate_files(
            args.plays, args.format, options=options, distractor_paths=args.distractors or []
        )
    except HistoryFormatError as exc:
        raise UserError(str(exc)) from exc
    if result["listeners"] == 0:
        raise UserError("no listener has enough matched plays to evaluate (at least 20 needed)")
    if args.report:
        # Qt (the chart is drawn with QtGui): loaded only when a report is asked for
        from player_plugin.ui.report_chart import write_report

        try:
            write_report(result, args.report)
        except OSError as exc:
            raise UserError(f"cannot write the report to {args.report}: {exc}") from exc
    emit(args, result, _text(result))
    return 0


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = add_command(subparsers, common, "evaluate", run)
    parser.add_argument("--plays", nargs="+", required=True, metavar="FILE", help="history files")
    parser.add_argument("--format", default="auto", choices=FORMAT_CHOICES, help="history format")
    parser.add_argument("--report", metavar="DIR", help="write report.md and report.png here")
    parser.add_argument(
        "--distractors",
        nargs="+",
        metavar="FILE",
        help="another history whose tracks join the catalogue",
    )
    parser.add_argument(
        "--max-listeners", type=int, metavar="N", help="evaluate at most N listeners"
    )
    parser.add_argument(
        "--methods", metavar="LIST", help="comma-separated baselines (default: all)"
    )
    parser.add_argument(
        "--no-model", action="store_true", help="baselines only: do not train the model"
    )
    parser.add_argument(
        "--bootstrap", type=int, default=1000, metavar="N", help="bootstrap resamples"
    )
    parser.add_argument(
        "--validation",
        action="store_true",
        help="score inside the first 80%% of plays only (the split for tuning)",
    )
    parser.add_argument(
        "--dial",
        action="store_true",
        help="also re-rank at five familiar-discover dial positions and print the curve",
    )
    parser.add_argument(
        "--seeds",
        type=int,
        default=1,
        metavar="N",
        help="train each model variant with N seeds and compare their averages",
    )
