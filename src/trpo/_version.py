"""The package version (one place; pyproject.toml's ``version`` says the same)."""
__version__ = "0.2.0"
