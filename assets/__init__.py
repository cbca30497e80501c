"""Static files shipped with Segue (icons)."""
