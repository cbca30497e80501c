"""Qt-free use cases, one module each, called by every face (the CLI, the GUI, the hosts)."""
