"""The wizard's rough edges, smoothed: result lines wrap instead of clipping (with the full
line as tooltip); the training page knows when a model serves already and does not retrain
on every visit; cancelling it on first run leaves an "Add your music" page in the window."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QWizard

from player_plugin.store.models import add_model
from player_plugin.ui.wizard import ImportWizard


@pytest.fixture
def wizard(qtbot, db_path, db):
    wizard = ImportWizard(str(db_path))
    qtbot.addWidget(wizard)
    wizard.resize(640, 440)
    wizard.show()
    yield wizard
    wizard.reject()


def to_history(qtbot, wizard, folder) -> None:
    wizard.folders_page.add_folder(str(folder))
    wizard.next()
    qtbot.waitUntil(
        lambda: wizard.button(QWizard.WizardButton.NextButton).isEnabled(), timeout=20_000
    )
    wizard.next()
    assert wizard.currentPage() is wizard.history_page


def test_a_long_result_line_wraps_and_has_its_tooltip(qtbot, wizard, tmp_path):
    to_history(qtbot, wizard, tmp_path)
    bad = tmp_path / ("an export with a rather long file name from my old phone " * 2 + ".txt")
    bad.write_text("this is not a listening history\n")
    page = wizard.history_page
    page.add_files([str(bad)])
    qtbot.waitUntil(page.isComplete, timeout=20_000)
    item = page.list.item(0)
    metrics = QFontMetrics(page.list.font())
    assert metrics.horizontalAdvance(item.text()) > page.list.viewport().width()  # long
    qtbot.waitUntil(lambda: page.list.visualItemRect(item).height() >= 2 * metrics.height())
    assert item.toolTip() == item.text()


def test_the_training_page_knows_a_model_serves_and_trains_only_on_request(
    qtbot, wizard, tmp_path, db
):
    add_model(db, "m1", folder="m1", cutoff=None, data_size=1234, metrics={}, state="active")
    to_history(qtbot, wizard, tmp_path)
    wizard.next()
    page = wizard.train_page
    assert wizard.currentPage() is page
    assert page.title() == "Your model" and "1,234 plays" in page.label.text()
    assert page.job is None and page.train_again.isVisible() and page.isComplete()


def test_a_model_trained_on_this_visit_is_not_retrained_on_the_next(qtbot, wizard, tmp_path):
    to_history(qtbot, wizard, tmp_path)
    wizard.next()
    page = wizard.train_page
    page.result = object()  # as if this visit trained one (the real trainer: slow test)
    wizard.back()
    wizard.next()
    assert wizard.currentPage() is page and page.job is None and page.result is not None


def test_cancelling_the_first_run_wizard_leaves_an_add_your_music_page(qtbot, tmp_path):
    from player_plugin.cli.gui import open_player

    settings = QSettings(str(tmp_path / "window.ini"), QSettings.Format.IniFormat)
    window = open_player(str(tmp_path / "fresh.db"), settings=settings)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: getattr(window.plugin, "wizard", None) is not None, timeout=5_000)
    window.plugin.wizard.reject()
    assert window.library_empty() and window.add_music.isVisible()
    assert not window.table.isVisible()
    window.plugin.wizard = None
    window.add_music.click()  # opens the wizard again
    qtbot.waitUntil(lambda: window.plugin.wizard is not None, timeout=5_000)
    assert window.plugin.wizard.isVisible()
    window.plugin.wizard.reject()
    window.close()
