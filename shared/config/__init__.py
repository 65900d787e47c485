"""Configuration: the typed settings object and its loader."""

from shared.config.loader import ConfigError, load_settings
from shared.config.settings import Settings

__all__ = ["ConfigError", "Settings", "load_settings"]
