"""Authentication for the standalone token mode."""
