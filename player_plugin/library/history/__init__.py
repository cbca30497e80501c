"""Listening history from elsewhere: parsers for each export format, matching, import."""
