"""The evaluation report as Markdown tables (report.md); plain text, no Qt.

Its bar chart (report.png) is drawn with Qt by :mod:`player_plugin.ui.report_chart`.
"""

from __future__ import annotations

import os
from pathlib import Path

from player_plugin.domain.words import count
from player_plugin.recommend.metrics import METRICS


def _fmt(value: float | None, ci: list | None = None) -> str:
    if value is None:
        return "–"
    text = f"{value:.3f}"
    if ci and ci[0] is not None:
        text += f" [{ci[0]:.3f}, {ci[1]:.3f}]"
    return text


def markdown(result: dict, title: str = "Segue offline evaluation") -> str:
    """Tables of every method on all next plays and on new ones, with 95% intervals."""
    lines = [
        f"# {title}",
        "",
        f"{count(result['listeners'], 'listener')}, {count(result['plays'], 'play')}, "
        f"{result['test_plays']} test targets ({result.get('new_plays', 0)} new to the "
        "listener). Rank = 1 + other tracks scoring at least as high; 95% bootstrap "
        "intervals over sessions in brackets.",
        "",
    ]
    methods = result["methods"]
    order = sorted(methods, key=lambda n: -(methods[n]["all"].get("ndcg@10") or 0.0))
    for subset, heading in (("all", "All next plays"), ("new", "Next plays new to the listener")):
        lines += [f"## {heading}", "", "| method | " + " | ".join(METRICS) + " |"]
        lines.append("|---|" + "---|" * len(METRICS))
        for name in order:
            m = methods[name][subset]
            cells = [_fmt(m.get(c), m.get(f"{c}_ci")) for c in METRICS]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        lines.append("")
    lines += _variety(result)
    comparisons = result.get("comparisons") or []
    if comparisons:
        lines += ["## Paired comparisons (bootstrap over sessions)", ""]
        lines += [
            "| a | b | subset | metric | a − b | 95% interval | verdict |",
            "|---|---|---|---|---|---|---|",
        ]
        for c in comparisons:
            low, high = c["difference_ci"]
            verdict = (
                "a beats b"
                if c["a_beats_b"]
                else "b beats a"
                if c["b_beats_a"]
                else "no clear difference"
            )
            lines.append(
                f"| {c['a']} | {c['b']} | {c['subset']} | {c['metric']} | {_fmt(c['difference'])} "
                f"| [{_fmt(low)}, {_fmt(high)}] | {verdict} |"
            )
        lines.append("")
    return "\n".join(lines)


def write_markdown(
    result: dict, folder: str | os.PathLike, title: str = "Segue offline evaluation"
) -> Path:
    """report.md in *folder* (made if missing); returns its path."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    md = out / "report.md"
    md.write_text(markdown(result, title) + "\n", encoding="utf-8")
    return md


def _variety(result: dict) -> list[str]:
    """Raw against re-ranked, the listener's own variety, and the dial's curve."""
    lines: list[str] = []
    kept = result.get("reranked_kept") or {}
    own = result.get("listener_variety") or {}
    methods = result["methods"]
    if kept:
        lines += [
            "## What the listener hears: raw and re-ranked",
            "",
            "| method | NDCG@10 all raw / re-ranked (kept) | new raw / re-ranked (kept) "
            "| artist diversity re-ranked | repeat rate re-ranked |",
            "|---|---|---|---|---|",
        ]
        for name, share in kept.items():
            raw, rr = methods[name], methods[f"{name}-reranked"]
            lines.append(
                f"| {name} | {_fmt(raw['all']['ndcg@10'])} / {_fmt(rr['all']['ndcg@10'])} "
                f"{_share(share.get('all'))} | {_fmt(raw['new']['ndcg@10'])} / "
                f"{_fmt(rr['new']['ndcg@10'])} {_share(share.get('new'))} "
                f"| {_fmt(rr['all']['artist_diversity'])} | {_fmt(rr['all']['repeat_rate'])} |"
            )
        if own:
            lines.append(
                f"| the listener's own next plays | | | {_fmt(own['artist_diversity'])} "
                f"{_range(own['artist_diversity_range'])} | {_fmt(own['repeat_rate'])} "
                f"{_range(own['repeat_rate_range'])} |"
            )
        lines.append("")
    for name, points in (result.get("dial") or {}).items():
        lines += [
            f"## The familiar ↔ discover dial ({name})",
            "",
            "| dial | NDCG@10 all | NDCG@10 new | never played in top 10 | artist diversity "
            "| repeat rate |",
            "|---|---|---|---|---|---|",
        ]
        for p in points:
            lines.append(
                f"| {p['dial']:.2f} | {_fmt(p['ndcg@10'])} | {_fmt(p['ndcg@10_new'])} "
                f"| {_fmt(p['new_share'])} | {_fmt(p['artist_diversity'])} "
                f"| {_fmt(p['repeat_rate'])} |"
            )
        lines.append("")
    return lines


def _share(kept: float | None) -> str:
    return "" if kept is None else f"({kept:.0%})"


def _range(values: list) -> str:
    return f"(10–90%: {values[0]:.2f}–{values[1]:.2f})"
