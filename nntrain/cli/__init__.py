"""The `nntrain` command: cli/app.py parses arguments and calls a commands function; cli/render.py prints."""

from __future__ import annotations

from nntrain.cli.app import app, main

__all__ = ["app", "main"]
