"""Plain types every layer shares (plays, the catalogue, the listen rule, names, paths,
errors); imports nothing of Segue above it."""
