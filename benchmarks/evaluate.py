"""Offline evaluation on the real histories in ../shared/data (never copied into the repo).

    .venv/bin/python benchmarks/evaluate.py [lastfm] [spotify] [--no-model] [--distractors]
        [--validation] [--no-dial] [--seeds N]

Writes benchmarks/results/evaluate_<name>.json and evaluate_<name>.md (the same object and
tables as `segue evaluate --json --report --dial`). With --distractors each history gets
the other's tracks as never-played distractors (results under evaluate_<name>_distractors.*).
--validation scores inside the first 80% only (the split used for tuning defaults).
The re-ranked list is also measured at five familiar ↔ discover positions (the dial's
curve) unless --no-dial. --seeds N (default 5) trains each model variant with N seeds: the
``model`` rows are the default seed's, the ``NAME-seeds`` rows average each target over all
N (raw, re-ranked and at the dial's discover end).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from player_plugin.app.evaluate import EvalOptions, evaluate_files  # noqa: E402
from player_plugin.recommend.report import markdown  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
DATASETS = {
    "lastfm": ("lastfm-csv", lambda: [DATA / "lastfm-2007-2019" / "scrobbles.csv"]),
    "spotify": (
        "spotify-extended",
        lambda: sorted(
            (DATA / "spotify-extended-2023-2026").glob("Streaming_History_Audio_*.json")
        ),
    ),
}
RESULTS = ROOT / "benchmarks" / "results"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("datasets", nargs="*", default=list(DATASETS), choices=list(DATASETS))
    parser.add_argument("--no-model", action="store_true")
    parser.add_argument("--distractors", action="store_true")
    parser.add_argument("--validation", action="store_true")
    parser.add_argument(
        "--no-dial", dest="dial", action="store_false", help="skip the dial's curve (faster)"
    )
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument(
        "--seeds", type=int, default=5, help="trainings per model variant (NAME-seeds rows)"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    if not DATA.is_dir():
        print(f"no data at {DATA}; nothing to do")
        return 0
    RESULTS.mkdir(parents=True, exist_ok=True)
    for name in args.datasets:
        fmt, files = DATASETS[name]
        others = [f for other, (_, fs) in DATASETS.items() if other != name for f in fs()]
        options = EvalOptions(
            model=not args.no_model,
            bootstrap=args.bootstrap,
            validation=args.validation,
            seeds=args.seeds,
            dial=args.dial,
        )
        started = time.perf_counter()
        result = evaluate_files(
            files(), fmt, options=options, distractor_paths=others if args.distractors else ()
        )
        seconds = time.perf_counter() - started
        result["benchmark"] = {
            "dataset": name,
            "files": [f.name for f in files()],
            "distractors": args.distractors,
            "seconds": round(seconds, 1),
        }
        stem = f"evaluate_{name}" + ("_distractors" if args.distractors else "")
        stem += "_validation" if args.validation else ""
        (RESULTS / f"{stem}.json").write_text(json.dumps(result, indent=1) + "\n")
        title = f"Segue offline evaluation: {name}" + (" + distractors" if args.distractors else "")
        (RESULTS / f"{stem}.md").write_text(markdown(result, title) + "\n")
        print(f"{stem}: {result['plays']} plays, {result['test_plays']} targets, {seconds:.1f} s")
        for method, figures in sorted(
            result["methods"].items(), key=lambda kv: -(kv[1]["all"]["ndcg@10"] or 0)
        ):
            print(
                f"  {method:24s} NDCG@10 all {figures['all']['ndcg@10']}  "
                f"new {figures['new']['ndcg@10']}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
