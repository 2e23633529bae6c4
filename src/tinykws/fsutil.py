"""Atomic file writes: a file is either complete or absent, never half-written."""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _naming(exc: OSError, path: Path, tmp: str | Path | None = None) -> OSError:
    """The same OSError, naming the destination the user asked for instead of our temporary name."""
    what = exc.strerror or str(exc)
    if tmp is not None and exc.filename not in (None, str(path)) and str(exc.filename).startswith(str(tmp)):
        inner = os.path.relpath(exc.filename, tmp)
        what = f"{what} (writing {inner})" if inner != "." else what
    return OSError(exc.errno, what, str(path))


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise _naming(exc, path) from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file normal permissions
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise _naming(exc, path, tmp) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


@contextmanager
def atomic_dir(path: Path) -> Iterator[Path]:
    """Build a directory in a temporary sibling; move it into place on success."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
    except OSError as exc:
        raise _naming(exc, path) from None
    try:
        os.chmod(tmp, 0o777 & ~_umask())
        yield tmp
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise _naming(exc, path, tmp) from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
