"""What every CLI module shares: the consoles, error handling and progress bars.

The CLI modules are the only ones that print or exit. Exit codes: 0 success,
1 a check failed, 2 bad usage or bad input.
"""

from __future__ import annotations

from functools import wraps
from typing import Any, Callable

import typer
from rich.console import Console

from tinykws.errors import CheckFailed, TinyKWSError

console = Console(stderr=False, soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)


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


def progress():
    """Progress bars on stderr: description, bar, done/total, time left."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeRemainingColumn(), console=err_console, transient=False)
