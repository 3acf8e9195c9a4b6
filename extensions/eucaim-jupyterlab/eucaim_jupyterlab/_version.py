"""Version of the server extension; must equal package.json's "version" (the panel compares them)."""

__version__ = "0.1.0"
