"""earning."""
