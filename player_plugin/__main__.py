"""``python -m player_plugin``: the ``segue`` command line without the installed script."""

from __future__ import annotations

import sys

from player_plugin.cli import main

sys.exit(main())
