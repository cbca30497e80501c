"""The GUI's preferences: :class:`player_plugin.app.settings.Settings`, the one settings
model (keys, defaults, bounds, validation) that `segue settings` and every host share.

The plugin holds one as ``plugin.prefs``; the Settings dialog edits a copy (its control
ranges from :func:`player_plugin.app.settings.bounds`) and
:meth:`~player_plugin.ui.plugin.SeguePlugin.apply_prefs` saves it.
"""

from __future__ import annotations

from player_plugin.app.settings import Settings

Prefs = Settings

__all__ = ["Prefs"]
