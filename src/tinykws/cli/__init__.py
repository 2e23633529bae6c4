"""The command line: ``tinykws = "tinykws.cli:app"``.

``main`` holds the top-level commands and registers the sub-CLIs (``data``,
``codegen``, ``firmware``, ``stream``); every CLI module shares ``common``.
"""

from tinykws.cli.main import app

__all__ = ["app"]
