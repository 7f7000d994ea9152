"""Templates and static files of the web UI, shipped as package data (see pyproject.toml)."""
