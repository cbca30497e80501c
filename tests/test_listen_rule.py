"""The listen rule: half or four minutes, short tracks to the end, browsing under 5 s."""

from __future__ import annotations

import pytest

from player_plugin.domain.listen import Outcome, classify, default_reason, is_listened

MIN = 60_000


@pytest.mark.parametrize(
    ("played", "duration", "reason", "expected"),
    [
        (2 * MIN, 4 * MIN, "skipped", "listened"),  # exactly half
        (2 * MIN - 1, 4 * MIN, "skipped", "skipped"),
        (4 * MIN, 20 * MIN, "skipped", "listened"),  # four minutes of a long track
        (3 * MIN, 20 * MIN, "skipped", "skipped"),
        (3_000, 4 * MIN, "skipped", "browsing"),
        (20_000, 25_000, "skipped", "skipped"),  # short track, not finished
        (25_000, 25_000, "completed", "listened"),
        (10_000, 4 * MIN, "stopped", "stopped"),
        (3 * MIN, 4 * MIN, "error", "error"),
    ],
)
def test_classify(played, duration, reason, expected):
    assert classify(played, duration, reason) is Outcome.parse(expected)


def test_outcomes_are_members_named_by_their_word() -> None:
    assert [o.label for o in Outcome] == ["listened", "skipped", "browsing", "stopped", "error"]
    assert all(Outcome.parse(o.label) is o and f"{o}" == o.label for o in Outcome)
    assert len(set(Outcome)) == 5  # no aliases: error is not stopped
    with pytest.raises(ValueError, match="not a play outcome"):
        Outcome.parse("heard")


def test_without_duration_uses_spotify_rule():
    assert is_listened(10_000, None, "completed")
    assert is_listened(31_000, None, None, skipped=False)
    assert not is_listened(31_000, None, None, skipped=True)
    assert not is_listened(29_000, None, None, skipped=False)


def test_default_reason():
    assert default_reason(3 * MIN, 4 * MIN) == "completed"
    assert default_reason(10_000, 4 * MIN) == "skipped"
