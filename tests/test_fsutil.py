import os
import stat

import pytest

from tinykws.fsutil import atomic_dir, atomic_write_text


def test_atomic_files_and_dirs_get_normal_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "a.txt", "x")
        with atomic_dir(tmp_path / "d") as d:
            (d / "f").write_text("y")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "d").stat().st_mode) == 0o755


def test_atomic_dir_leaves_nothing_on_failure(tmp_path):
    with pytest.raises(RuntimeError):
        with atomic_dir(tmp_path / "out") as d:
            (d / "half").write_text("written")
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []
