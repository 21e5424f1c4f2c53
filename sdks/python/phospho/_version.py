"""The SDK's version (single source for the package metadata and the User-Agent)."""

__version__ = "0.1.0"
