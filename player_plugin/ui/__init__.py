"""Qt: the plugin, its dock panel, the reference player's windows, the wizard, workers."""
