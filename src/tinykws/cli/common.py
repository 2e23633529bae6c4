"""What every CLI module shares: the consoles, error handling and progress bars.

The CLI modules are the only ones that print or exit. Exit codes: 0 success,
1 a check failed, 2 bad usage or bad input, 3 the environment failed (disk
full, read-only folder, no permission, missing tool).
"""

from __future__ import annotations

import errno
from functools import wraps
from typing import Any, Callable

import typer
from rich.console import Console

from tinykws.errors import CheckFailed, EnvironmentFailure, TinyKWSError

console = Console(stderr=False, soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)

EXIT_CHECK_FAILED, EXIT_BAD_INPUT, EXIT_ENVIRONMENT = 1, 2, 3

# OSErrors that say a path given by the user is the wrong kind of thing: bad input, not a broken machine
_BAD_PATH_ERRNOS = frozenset({errno.EEXIST, errno.ENOTDIR, errno.EISDIR, errno.ENOENT, errno.ENAMETOOLONG})


def os_error_exit(exc: OSError) -> tuple[int, str]:
    """The exit code and message of an OSError that reached the CLI (writing outputs, mostly)."""
    where = exc.filename if exc.filename is not None else "a file"
    what = exc.strerror or str(exc)
    if exc.filename2 is not None:
        where = f"{where} -> {exc.filename2}"
    if exc.errno in _BAD_PATH_ERRNOS:
        return EXIT_BAD_INPUT, f"{where}: {what}"
    return EXIT_ENVIRONMENT, f"{where}: {what} (the environment failed: check free space and permissions)"


def guarded(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn tinykws errors (and OSErrors) into a message on stderr and the contract's exit code."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except CheckFailed as exc:
            err_console.print(f"[bold red]check failed:[/] {exc}", highlight=False)
            raise typer.Exit(EXIT_CHECK_FAILED) from None
        except EnvironmentFailure as exc:
            err_console.print(f"[bold red]environment failure:[/] {exc}", highlight=False)
            raise typer.Exit(EXIT_ENVIRONMENT) from None
        except TinyKWSError as exc:
            err_console.print(f"[bold red]error:[/] {exc}", highlight=False)
            raise typer.Exit(EXIT_BAD_INPUT) from None
        except OSError as exc:
            code, message = os_error_exit(exc)
            label = "environment failure" if code == EXIT_ENVIRONMENT else "error"
            err_console.print(f"[bold red]{label}:[/] {message}", highlight=False)
            raise typer.Exit(code) from None

    return wrapper


def progress():
    """Progress bars on stderr: description, bar, done/total, time left."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeRemainingColumn(), console=err_console, transient=False)
