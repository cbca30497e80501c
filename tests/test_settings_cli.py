"""`segue settings` and the one settings model behind it (``app.settings``): list, get and
set every setting the GUI edits; values parsed and checked in one place; an unknown key or
a bad value is one line and exit 2; what the CLI sets is what the GUI loads."""

from __future__ import annotations

import base64
import os

import pytest

from player_plugin.app import settings as model
from player_plugin.app.settings import SettingError, Settings
from player_plugin.store.settings import get_setting


def test_list_shows_every_setting_with_lists_as_json(segue):
    text = segue("settings")
    assert text.status == 0, text.err
    lines = dict(line.split(" = ", 1) for line in text.out.splitlines())
    assert [key.strip() for key in lines] == model.names()
    assert lines["excluded_genres".ljust(len(max(lines, key=len)))].strip() == (
        '["Audiobook", "Podcast", "Spoken Word"]'
    )
    data = segue("settings", "list", "--json").json
    assert set(data) >= {"excluded_genres", "excluded_folders", "variety", "artist_window"}
    assert set(data) >= {"provider", "autoplay"}
    assert data["variety"] == 0.5 and data["excluded_folders"] == [] and data["autoplay"] is True


def test_set_then_get_and_the_gui_loads_it(segue, db):
    assert segue("settings", "set", "variety", "0.7").status == 0
    assert segue("settings", "get", "variety").out.strip() == "0.7"
    assert segue("settings", "set", "artist_window", "5", "--json").json == {"artist_window": 5}
    assert segue("settings", "set", "autoplay", "off").status == 0
    assert segue("settings", "get", "autoplay").out.strip() == "false"
    # genres: a JSON array, or comma-separated
    assert segue("settings", "set", "excluded_genres", "Jazz, Comedy ,").status == 0
    assert segue("settings", "get", "excluded_genres", "--json").json == {
        "excluded_genres": ["Jazz", "Comedy"]
    }
    assert segue("settings", "set", "excluded_genres", "[]").status == 0
    assert segue("settings", "set", "provider", "cpu").status == 0
    assert segue("settings", "get", "provider").out.strip() == "CPUExecutionProvider"
    assert segue("settings", "set", "retrain_policy", "idle").status == 0
    loaded = Settings.load(db)  # what the GUI's plugin reads at start
    assert (loaded.variety, loaded.artist_window, loaded.autoplay) == (0.7, 5, False)
    assert loaded.excluded_genres == [] and loaded.retrain_policy == "idle"
    assert loaded.provider == "CPUExecutionProvider"
    assert get_setting(db, "recommend.provider") == "CPUExecutionProvider"  # the engine's key
    assert segue("settings", "set", "provider", "auto").status == 0
    assert Settings.load(db).provider == ""


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("get", "volume"), "unknown setting"),
        (("set", "colour", "red"), "unknown setting"),
        (("set", "variety", "2"), "between 0 and 1"),
        (("set", "variety", "lots"), "expected a number"),
        (("set", "artist_window", "2.5"), "whole number"),
        (("set", "suggestions", "0"), "between 3 and 50"),
        (("set", "autoplay", "maybe"), "true or false"),
        (("set", "retrain_policy", "weekly"), "one of plays, idle, manual"),
        (("set", "provider", "WarpDrive"), "execution provider"),
        (("set", "excluded_genres", '["Jazz", 3]'), "list of text"),
        (("set", "excluded_genres", '["Jazz"'), "not a JSON list"),
        (("get",), "usage: segue settings get KEY"),
        (("set", "variety"), "usage: segue settings set KEY VALUE"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(segue, db, args, words):
    before = segue("settings", "list", "--json").json
    result = segue("settings", *args)
    assert result.status == 2
    assert words in result.err and result.err.count("\n") == 1, result.err
    assert result.out == ""
    assert segue("settings", "list", "--json").json == before  # nothing was written


def test_folders_are_absolute_and_may_be_any_bytes(segue, db, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert segue("settings", "set", "excluded_folders", "Audiobooks/").status == 0
    assert Settings.load(db).excluded_folders == [str(tmp_path / "Audiobooks")]
    raw = os.fsencode(tmp_path) + b"/H\xf6rb\xfccher"  # Latin-1, not UTF-8
    value = f'["b64:{base64.b64encode(raw).decode()}", "~/Podcasts"]'
    assert segue("settings", "set", "excluded_folders", value).status == 0
    folders = Settings.load(db).excluded_folders
    assert [os.fsencode(f) for f in folders] == [raw, os.fsencode(os.path.expanduser("~/Podcasts"))]
    shown = segue("settings", "get", "excluded_folders", "--json")
    assert shown.status == 0 and "\ufffd" in shown.json["excluded_folders"][0]


def test_stored_values_that_no_longer_fit_read_as_defaults(db):
    from player_plugin.store.settings import set_setting

    set_setting(db, "ui.variety", 7)
    set_setting(db, "ui.retrain_policy", "hourly")
    set_setting(db, "ui.artist_window", 4)
    loaded = Settings.load(db)
    assert (loaded.variety, loaded.retrain_policy, loaded.artist_window) == (0.5, "plays", 4)


def test_all_settings_in_one_query_read_as_each_alone(db):
    from player_plugin.store.settings import all_settings, set_setting

    set_setting(db, "ui.artist_window", 4)
    set_setting(db, "ui.excluded_genres", ["Spoken Word"])
    db.execute("INSERT INTO settings (key, value) VALUES ('ui.variety', '{not json')")
    stored = all_settings(db)
    assert stored == {"ui.artist_window": 4, "ui.excluded_genres": ["Spoken Word"]}
    for key in ("ui.artist_window", "ui.excluded_genres", "ui.variety", "ui.unset"):
        assert stored.get(key) == get_setting(db, key)
    loaded = Settings.load(db)  # the unreadable value reads as the default
    assert (loaded.artist_window, loaded.excluded_genres, loaded.variety) == (
        4,
        ["Spoken Word"],
        Settings().variety,
    )


def test_the_model_validates_and_saves_only_valid_settings(db):
    with pytest.raises(SettingError) as error:
        Settings(variety=1.5).save(db)
    assert error.value.subject == "variety"
    assert get_setting(db, "ui.variety") is None  # nothing written
    assert model.parse("excluded_folders", "/a, b/") == ["/a, b"]  # one path, commas and all
    assert model.bounds("artist_window") == (0, 20)
    assert model.describe("retrain_policy")["choices"] == ["plays", "idle", "manual"]
