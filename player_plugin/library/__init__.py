"""The music library: walking folders, reading tags, audio analysis, history import."""
