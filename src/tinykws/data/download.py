"""Download, verify and safely extract the official Speech Commands v0.02 archive.

    OUT/.partial        the archive while it downloads (resumed with an HTTP Range request)
    OUT/.partial.json   the URL and validators (ETag, Last-Modified) the partial file came from
    OUT/                after success: the full data set (35 word folders, _background_noise_,
                        validation_list.txt, testing_list.txt) and .tinykws-download.json

The archive is checked against its SHA-256, then extracted member by member
into a temporary sibling folder that replaces OUT only when everything is out:
OUT holds either the partial download or the complete data set. Members with
absolute paths, ``..`` components, links or device files are refused.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import re
import tarfile
import urllib.error
import urllib.request
from pathlib import Path, PurePosixPath
from typing import Callable

from tinykws.errors import DataError, InputError
from tinykws.fsutil import atomic_dir, atomic_write_text

DEFAULT_URL = "http://download.tensorflow.org/data/speech_commands_v0.02.tar.gz"
# Published by torchaudio (SPEECHCOMMANDS._CHECKSUMS) and TensorFlow Datasets for this URL.
DEFAULT_SHA256 = "af14739ee7dc311471de98f5f9d2c9191b18aedfe957f4a6ff791c709868ff58"
PARTIAL = ".partial"
PARTIAL_INFO = ".partial.json"
STAMP = ".tinykws-download.json"
CHUNK = 1 << 20
RETRIES = 3

# progress(stage, done, total): stage "download" and "verify" count bytes, "extract" counts members.
Progress = Callable[[str, int, "int | None"], None]

_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")
_UNSATISFIABLE = re.compile(r"bytes\s+\*/(\d+)")


def _report(progress: Progress | None, stage: str, done: int, total: int | None) -> None:
    if progress is not None:
        progress(stage, done, total)


# --------------------------------------------------------------------------- download


def _partial_info(out_dir: Path) -> dict[str, str]:
    try:
        return json.loads((out_dir / PARTIAL_INFO).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def _discard_partial(out_dir: Path) -> None:
    (out_dir / PARTIAL).unlink(missing_ok=True)
    (out_dir / PARTIAL_INFO).unlink(missing_ok=True)


def _request(url: str, have: int, info: dict[str, str]) -> urllib.request.Request:
    headers = {"User-Agent": "tinykws"}
    if have:
        headers["Range"] = f"bytes={have}-"
        validator = info.get("etag") or info.get("last_modified")
        if validator:
            headers["If-Range"] = validator
    return urllib.request.Request(url, headers=headers)


def _open(url: str, have: int, info: dict[str, str], timeout: float) -> http.client.HTTPResponse | None:
    """The response, or None when the server says the range starts at the end (file complete)."""
    try:
        return urllib.request.urlopen(_request(url, have, info), timeout=timeout)
    except urllib.error.HTTPError as exc:
        match = _UNSATISFIABLE.match(exc.headers.get("Content-Range", "") if exc.headers else "")
        if exc.code == 416 and have and match and int(match.group(1)) == have:
            return None
        if exc.code == 416:
            raise _Restart() from None
        raise DataError(f"cannot download {url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DataError(f"cannot download {url}: {reason}") from None


class _Restart(Exception):
    """The partial file cannot be continued: start again from byte 0."""


def _resume_offset(resp: http.client.HTTPResponse, have: int) -> tuple[int, int | None]:
    """(offset the body starts at, total size or None) for a 200 or 206 response."""
    length = resp.headers.get("Content-Length")
    if resp.status == 206:
        match = _CONTENT_RANGE.match(resp.headers.get("Content-Range", ""))
        if not match or int(match.group(1)) != have:
            raise _Restart()
        return have, int(match.group(3)) if match.group(3) != "*" else None
    return 0, int(length) if length is not None else None  # 200: the server ignored Range


def _copy_body(resp: http.client.HTTPResponse, path: Path, offset: int, total: int | None,
               progress: Progress | None) -> None:
    done = offset
    with open(path, "r+b" if offset else "wb") as fh:
        fh.seek(offset)
        fh.truncate()
        while True:
            try:
                chunk = resp.read(CHUNK)
            except http.client.IncompleteRead as exc:
                fh.write(exc.partial)
                raise
            if not chunk:
                break
            fh.write(chunk)
            done += len(chunk)
            _report(progress, "download", done, total)
    if total is not None and done < total:
        raise http.client.IncompleteRead(b"", total - done)


def _fetch_once(url: str, out_dir: Path, timeout: float, progress: Progress | None) -> None:
    partial = out_dir / PARTIAL
    info = _partial_info(out_dir)
    if info.get("url") != url:
        _discard_partial(out_dir)
        info = {}
    have = partial.stat().st_size if partial.exists() else 0
    resp = _open(url, have, info, timeout)
    if resp is None:
        return
    with resp:
        offset, total = _resume_offset(resp, have)
        if offset == 0:
            info = {"url": url, "etag": resp.headers.get("ETag") or "",
                    "last_modified": resp.headers.get("Last-Modified") or ""}
            atomic_write_text(out_dir / PARTIAL_INFO, json.dumps(info))
        _copy_body(resp, partial, offset, total, progress)


def fetch(url: str, out_dir: Path, timeout: float = 60.0, retries: int = RETRIES,
          progress: Progress | None = None) -> Path:
    """Download ``url`` to ``out_dir/.partial``, resuming a previous partial file; retry on a broken connection."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for attempt in range(retries + 1):
        try:
            _fetch_once(url, out_dir, timeout, progress)
            return out_dir / PARTIAL
        except _Restart:
            _discard_partial(out_dir)
        except (http.client.HTTPException, ConnectionError, TimeoutError) as exc:
            if attempt == retries:
                size = (out_dir / PARTIAL).stat().st_size if (out_dir / PARTIAL).exists() else 0
                raise DataError(f"download of {url} interrupted ({type(exc).__name__}) after {size} bytes; "
                                f"the partial file {out_dir / PARTIAL} is kept: run again to resume") from None
    raise DataError(f"cannot download {url}: the server rejected resuming {retries + 1} times")


# --------------------------------------------------------------------------- verify


def check_sha256_hex(sha256: str) -> str:
    value = sha256.strip().lower()
    if not re.fullmatch(r"[0-9a-f]{64}", value):
        raise InputError(f"not a SHA-256 hex digest (64 hex digits): {sha256!r}")
    return value


def file_sha256(path: Path, progress: Progress | None = None) -> str:
    digest = hashlib.sha256()
    total, done = path.stat().st_size, 0
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
            done += len(chunk)
            _report(progress, "verify", done, total)
    return digest.hexdigest()


def verify(path: Path, sha256: str, url: str, progress: Progress | None = None) -> None:
    """Raise DataError (and remove the file: it cannot be resumed into a good one) on a mismatch."""
    actual = file_sha256(path, progress)
    if actual != sha256:
        path.unlink(missing_ok=True)
        (path.parent / PARTIAL_INFO).unlink(missing_ok=True)
        raise DataError(f"SHA-256 mismatch for {url}: expected {sha256}, got {actual}; the downloaded file "
                        "was removed (run again to download afresh, or pass the right --sha256)")


# --------------------------------------------------------------------------- extract


def check_member(member: tarfile.TarInfo, archive: Path) -> None:
    """Refuse anything but plain files and folders that stay inside the destination."""
    name = member.name
    where = f"{archive}: unsafe archive member {name!r}"
    if name.startswith(("/", "\\")) or PurePosixPath(name).is_absolute() or re.match(r"^[A-Za-z]:", name):
        raise DataError(f"{where}: absolute path")
    if ".." in PurePosixPath(name.replace("\\", "/")).parts:
        raise DataError(f"{where}: '..' component")
    if member.issym() or member.islnk():
        raise DataError(f"{where}: {'symbolic' if member.issym() else 'hard'} link to {member.linkname!r}")
    if member.isdev():
        raise DataError(f"{where}: device or FIFO")
    if not (member.isfile() or member.isdir()):
        raise DataError(f"{where}: unsupported member type {member.type!r}")


def extract(archive: Path, dest: Path, progress: Progress | None = None) -> int:
    """Extract a (compressed) tar into ``dest`` member by member; returns the number of members."""
    count = 0
    try:
        with tarfile.open(archive, "r:*") as tar:
            for member in tar:
                check_member(member, archive)
                tar.extract(member, dest, filter="data")
                count += 1
                _report(progress, "extract", count, None)
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise DataError(f"{archive}: cannot extract: {exc}") from None
    if count == 0:
        raise DataError(f"{archive}: the archive is empty")
    return count


# --------------------------------------------------------------------------- the whole thing


def _already_there(out_dir: Path, sha256: str | None) -> bool:
    """True when OUT is a finished download of the same archive; DataError when OUT is something else."""
    if not out_dir.exists():
        return False
    if not out_dir.is_dir():
        raise DataError(f"{out_dir}: exists and is not a folder")
    stamp = out_dir / STAMP
    if stamp.is_file():
        try:
            done = json.loads(stamp.read_text())
        except json.JSONDecodeError:
            raise DataError(f"{stamp}: damaged; remove {out_dir} and download again") from None
        if sha256 is None or done.get("sha256") == sha256:
            return True
        raise DataError(f"{out_dir}: holds a different download (sha256 {done.get('sha256')}); choose another --out")
    others = sorted(p.name for p in out_dir.iterdir() if p.name not in (PARTIAL, PARTIAL_INFO))
    if others:
        raise DataError(f"{out_dir}: not empty ({', '.join(others[:3])}...); choose another --out or remove it")
    return False


def download_speech_commands(out_dir: Path, url: str = DEFAULT_URL, sha256: str | None = DEFAULT_SHA256,
                             progress: Progress | None = None, timeout: float = 60.0) -> Path:
    """Download (resumably), verify and extract the archive at ``url`` into ``out_dir``; returns ``out_dir``.

    ``sha256=None`` skips verification. A finished download in ``out_dir`` is kept as it is.
    """
    out_dir = Path(out_dir)
    sha256 = check_sha256_hex(sha256) if sha256 else None
    if _already_there(out_dir, sha256):
        return out_dir
    created = not out_dir.exists()
    try:
        archive = fetch(url, out_dir, timeout=timeout, progress=progress)
    except DataError:
        if created and out_dir.is_dir() and not any(out_dir.iterdir()):
            out_dir.rmdir()  # nothing to resume: leave no empty folder behind
        raise
    if sha256 is not None:
        verify(archive, sha256, url, progress)
    stamp = {"url": url, "sha256": sha256 or file_sha256(archive), "bytes": archive.stat().st_size}
    with atomic_dir(out_dir) as tmp:
        stamp["members"] = extract(archive, tmp, progress)
        atomic_write_text(tmp / STAMP, json.dumps(stamp, indent=1) + "\n")
    return out_dir


__all__ = ["DEFAULT_URL", "DEFAULT_SHA256", "download_speech_commands", "fetch", "verify", "extract",
           "check_member", "file_sha256"]
