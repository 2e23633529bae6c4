"""`tinykws data download`, offline: a small archive served from 127.0.0.1 by http.server.

The server supports Range requests and can be told to drop the connection
part-way, to ignore Range, or to answer 404, so resume, restart and errors are
exercised for real over HTTP.
"""

from __future__ import annotations

import hashlib
import io
import re
import tarfile
import threading
import wave
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import pytest
from typer.testing import CliRunner

from tinykws.cli import app
from tinykws.data import download as dl
from tinykws.data.download import PARTIAL, STAMP, download_speech_commands, fetch
from tinykws.errors import DataError, InputError


# --------------------------------------------------------------------------- fixtures


def _wav(n: int, value: int) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(value.to_bytes(2, "little", signed=True) * n)
    return buf.getvalue()


def _full_layout() -> dict[str, bytes]:
    files = {f"{word}/{spk}_nohash_0.wav": _wav(16000, i)
             for i, (word, spk) in enumerate([("yes", "aa11"), ("no", "bb22"), ("bed", "cc33"), ("yes", "dd44")])}
    files["_background_noise_/white_noise.wav"] = _wav(48000, 7)
    files["_background_noise_/README.md"] = b"noise\n"
    files["validation_list.txt"] = b"yes/dd44_nohash_0.wav\n"
    files["testing_list.txt"] = b"no/bb22_nohash_0.wav\n"
    files["LICENSE"] = b"CC BY 4.0\n" * 2000  # makes the archive a few kB: room to cut it part-way
    return files


def _tar_gz(files: dict[str, bytes], extra: list[tarfile.TarInfo] = ()) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo("./" + name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for info in extra:
            tar.addfile(info, io.BytesIO(b"x" * info.size) if info.isfile() else None)
    return buf.getvalue()


@dataclass
class Server:
    url: str
    body: bytes = b""
    ignore_range: bool = False
    cut_after: int | None = None  # drop the connection after this many body bytes, once
    status: int = 200
    ranges: list[str | None] = field(default_factory=list)

    @property
    def sha(self) -> str:
        return hashlib.sha256(self.body).hexdigest()


def _handler(state: Server) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            rng = self.headers.get("Range")
            state.ranges.append(rng)
            if state.status != 200:
                self.send_error(state.status)
                return
            start = 0
            match = re.fullmatch(r"bytes=(\d+)-", rng or "")
            if match and not state.ignore_range:
                start = int(match.group(1))
                if start >= len(state.body):
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(state.body)}")
                    self.end_headers()
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(state.body) - 1}/{len(state.body)}")
            else:
                self.send_response(200)
            self.send_header("Content-Length", str(len(state.body) - start))
            self.send_header("ETag", '"v1"')
            self.end_headers()
            body = state.body[start:]
            if state.cut_after is not None:
                body, state.cut_after = body[: state.cut_after], None
            self.wfile.write(body)

    return Handler


@pytest.fixture
def server() -> Iterator[Server]:
    state = Server(url="")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}/speech_commands_v0.02.tar.gz"
    state.body = _tar_gz(_full_layout())
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield state
    httpd.shutdown()
    httpd.server_close()


# --------------------------------------------------------------------------- download and extract


def test_downloads_verifies_and_extracts_the_full_layout(server: Server, tmp_path: Path) -> None:
    out = tmp_path / "sc"
    stages: set[str] = set()
    path = download_speech_commands(out, url=server.url, sha256=server.sha,
                                    progress=lambda stage, done, total: stages.add(stage))
    assert path == out
    for name, data in _full_layout().items():
        assert (out / name).read_bytes() == data
    assert not (out / PARTIAL).exists() and (out / STAMP).is_file()
    assert stages == {"download", "verify", "extract"}
    assert [p.name for p in tmp_path.iterdir()] == ["sc"]  # no temporary folder left behind
    assert server.ranges == [None]


def test_finished_download_is_not_fetched_again(server: Server, tmp_path: Path) -> None:
    download_speech_commands(tmp_path / "sc", url=server.url, sha256=server.sha)
    download_speech_commands(tmp_path / "sc", url=server.url, sha256=server.sha)
    assert len(server.ranges) == 1


def test_interrupted_download_resumes_with_range(server: Server, tmp_path: Path) -> None:
    server.cut_after = 1000
    with pytest.raises(DataError, match="interrupted.*run again to resume"):
        fetch(server.url, tmp_path, retries=0)
    assert (tmp_path / PARTIAL).stat().st_size == 1000
    fetch(server.url, tmp_path, retries=0)
    assert server.ranges == [None, "bytes=1000-"]
    assert (tmp_path / PARTIAL).read_bytes() == server.body


def test_retry_resumes_within_one_call(server: Server, tmp_path: Path) -> None:
    server.cut_after = 700
    download_speech_commands(tmp_path / "sc", url=server.url, sha256=server.sha)
    assert server.ranges == [None, "bytes=700-"]
    assert (tmp_path / "sc" / "yes" / "aa11_nohash_0.wav").is_file()


def test_server_ignoring_range_restarts_from_zero(server: Server, tmp_path: Path) -> None:
    server.cut_after = 900
    with pytest.raises(DataError):
        fetch(server.url, tmp_path, retries=0)
    server.ignore_range = True
    fetch(server.url, tmp_path, retries=0)
    assert server.ranges[-1] == "bytes=900-"
    assert (tmp_path / PARTIAL).read_bytes() == server.body  # not the old 900 bytes + the whole body


def test_complete_partial_answered_416_is_kept(server: Server, tmp_path: Path) -> None:
    fetch(server.url, tmp_path)
    fetch(server.url, tmp_path)
    assert server.ranges == [None, f"bytes={len(server.body)}-"]
    assert (tmp_path / PARTIAL).read_bytes() == server.body


def test_partial_from_another_url_is_discarded(server: Server, tmp_path: Path) -> None:
    server.cut_after = 500
    with pytest.raises(DataError):
        fetch(server.url + "?mirror", tmp_path, retries=0)
    fetch(server.url, tmp_path, retries=0)
    assert server.ranges[-1] is None and (tmp_path / PARTIAL).read_bytes() == server.body


def test_sha_mismatch_is_a_clear_error_and_removes_the_file(server: Server, tmp_path: Path) -> None:
    wrong = "0" * 64
    with pytest.raises(DataError, match=f"SHA-256 mismatch .*expected {wrong}, got {server.sha}"):
        download_speech_commands(tmp_path / "sc", url=server.url, sha256=wrong)
    assert not (tmp_path / "sc" / PARTIAL).exists() and not (tmp_path / "sc" / "yes").exists()


def test_bad_inputs(server: Server, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not a SHA-256"):
        download_speech_commands(tmp_path / "a", url=server.url, sha256="abc")
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "mine.txt").write_text("x")
    with pytest.raises(DataError, match="not empty"):
        download_speech_commands(busy, url=server.url, sha256=server.sha)
    server.status = 404
    with pytest.raises(DataError, match="HTTP 404"):
        download_speech_commands(tmp_path / "b", url=server.url, sha256=server.sha)
    with pytest.raises(DataError, match="cannot download"):
        download_speech_commands(tmp_path / "c", url="http://127.0.0.1:9/none.tar.gz", sha256=None)
    assert not (tmp_path / "b").exists() and not (tmp_path / "c").exists()


# --------------------------------------------------------------------------- unsafe archives


def _member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, link
    info.size = 4 if kind == tarfile.REGTYPE else 0
    return info


UNSAFE = {
    "absolute": (_member("/tmp/tinykws-escape.txt"), "absolute path"),
    "dotdot": (_member("yes/../../escape.txt"), "'..' component"),
    "symlink": (_member("yes/link.wav", tarfile.SYMTYPE, "/etc/passwd"), "symbolic link"),
    "hardlink": (_member("yes/hard.wav", tarfile.LNKTYPE, "LICENSE"), "hard link"),
    "device": (_member("yes/dev", tarfile.CHRTYPE), "device"),
    "fifo": (_member("yes/fifo", tarfile.FIFOTYPE), "device or FIFO"),
}


@pytest.mark.parametrize("case", sorted(UNSAFE))
def test_unsafe_members_are_refused_by_name(case: str, server: Server, tmp_path: Path) -> None:
    member, reason = UNSAFE[case]
    server.body = _tar_gz({"yes/aa11_nohash_0.wav": _wav(16000, 1)}, [member])
    out = tmp_path / "sc"
    with pytest.raises(DataError, match=re.escape(repr(member.name)) + ".*" + re.escape(reason)):
        download_speech_commands(out, url=server.url, sha256=server.sha)
    assert not (out / "yes").exists()  # nothing of the archive reached OUT
    assert not (tmp_path / "escape.txt").exists() and not Path("/tmp/tinykws-escape.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sc"]


def test_corrupt_archive_is_a_data_error(server: Server, tmp_path: Path) -> None:
    server.body = b"\x1f\x8b" + b"garbage" * 100
    with pytest.raises(DataError, match="cannot extract"):
        download_speech_commands(tmp_path / "sc", url=server.url, sha256=server.sha)


# --------------------------------------------------------------------------- the command line


def test_cli_download(server: Server, tmp_path: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(app, ["data", "download", "--out", str(tmp_path / "sc"), "--url", server.url,
                             "--sha256", server.sha])
    assert ok.exit_code == 0, ok.output
    assert "ready" in ok.output and (tmp_path / "sc" / "testing_list.txt").is_file()
    bad = runner.invoke(app, ["data", "download", "--out", str(tmp_path / "x"), "--url", server.url,
                              "--sha256", "1" * 64])
    assert bad.exit_code == 2 and "SHA-256 mismatch" in bad.output


def test_default_source_is_the_official_archive() -> None:
    assert dl.DEFAULT_URL == "http://download.tensorflow.org/data/speech_commands_v0.02.tar.gz"
    assert dl.DEFAULT_SHA256 == "af14739ee7dc311471de98f5f9d2c9191b18aedfe957f4a6ff791c709868ff58"
