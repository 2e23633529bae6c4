"""The typer app: the only module that prints or exits.

Exit codes: 0 success, 1 a check failed, 2 bad usage or bad input.
"""

from __future__ import annotations

import os
from functools import wraps
from typing import Any, Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import typer
from rich.console import Console

from tinykws.errors import CheckFailed, TinyKWSError

app = typer.Typer(
    help="tinykws: keyword spotting for microcontrollers (train, quantize, export, verify).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(stderr=False)
err_console = Console(stderr=True)


def guarded(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn tinykws errors into a message on stderr and the contract's exit code."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except CheckFailed as exc:
            err_console.print(f"[bold red]check failed:[/] {exc}", highlight=False)
            raise typer.Exit(1) from None
        except TinyKWSError as exc:
            err_console.print(f"[bold red]error:[/] {exc}", highlight=False)
            raise typer.Exit(2) from None

    return wrapper


# --- sub-apps registered by their modules (keep one line each) ---
