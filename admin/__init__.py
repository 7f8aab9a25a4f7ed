"""Operator commands (`./dev admin --help`): a program of their own, outside the Lambda layer.

They may import the domain package `bridge` (layers/common on PYTHONPATH); nothing under layers/ imports them.
Each module adds one family of commands to the Typer app in `admin.app`.
"""

from admin.app import app, main

__all__ = ["app", "main"]
