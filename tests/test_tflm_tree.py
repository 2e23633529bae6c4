"""tinykws.firmware.tflm_tree on small fake snapshots built here: the pins are read from TFLM's own
download scripts, TFLM's patches are applied, and every missing piece is refused with its name."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tinykws.errors import InputError
from tinykws.firmware import tflm_tree
from tinykws.firmware.tflm_tree import DOWNLOADS, MAKE_DIR, MARKER, TreeError, make_tree

GIT = ["git", "-c", "user.name=test", "-c", "user.email=test@example.com", "-c", "init.defaultBranch=main"]


def git(repo: Path, *args: str) -> str:
    return subprocess.run([*GIT, "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout.strip()


def commit_repo(path: Path, files: dict[str, str], tag: str = "") -> str:
    """A git work tree at `path` with `files` in one commit; returns its sha."""
    path.mkdir(parents=True)
    git(path, "init", "-q")
    for name, text in files.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text)
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "snapshot")
    if tag:
        git(path, "tag", tag)
    return git(path, "rev-parse", "HEAD")


FLATBUFFERS_PATCH = """\
--- a/include/flatbuffers/base.h
+++ b/include/flatbuffers/base.h
@@ -1 +1,2 @@
 #define FLATBUFFERS_BASE 1
+#define PATCHED_BY_TFLM 1
"""
KISSFFT_PATCH = """\
--- a/kiss_fft.h
+++ b/kiss_fft.h
@@ -1 +1 @@
-#define KISS_FFT 1
+#define KISS_FFT 2
"""


def tflm_files(pins: dict[str, str]) -> dict[str, str]:
    """A fake tflite-micro tree whose download scripts pin the fake repositories as the real ones do."""
    return {
        f"{MAKE_DIR}/flatbuffers_download.sh":
            'ZIP_PREFIX="v1.2.3"\nFLATBUFFERS_URL="https://github.com/google/flatbuffers/archive/refs/tags/'
            '${ZIP_PREFIX}.zip"\nFLATBUFFERS_MD5="x"\n',
        f"{MAKE_DIR}/flatbuffers.patch": FLATBUFFERS_PATCH,
        f"{MAKE_DIR}/third_party_downloads.inc":
            f'GEMMLOWP_URL := "https://github.com/google/gemmlowp/archive/{pins["gemmlowp"]}.zip"\n'
            f'RUY_URL="https://github.com/google/ruy/archive/{pins["ruy"]}.zip"\n',
        f"{MAKE_DIR}/kissfft_download.sh":
            '  KISSFFT_URL="https://github.com/mborgerding/kissfft/archive/refs/tags/v130.zip"\n',
        "third_party/kissfft/kissfft.patch": KISSFFT_PATCH,
        f"{MAKE_DIR}/ext_libs/cmsis_download.sh":
            f'  ZIP_PREFIX="{pins["cmsis"]}"\n  CMSIS_URL="http://github.com/ARM-software/CMSIS_6/archive/'
            '${ZIP_PREFIX}.zip"\n'
            f'  ZIP_PREFIX="{pins["dfp"]}"\n  CMSIS_DFP_URL="http://github.com/ARM-software/Cortex_DFP/archive/'
            '${ZIP_PREFIX}.zip"\n',
        f"{MAKE_DIR}/ext_libs/cmsis_nn_download.sh":
            f'ZIP_PREFIX_NN="{pins["cmsis_nn"]}"\nCMSIS_NN_URL="http://github.com/ARM-software/CMSIS-NN/archive/'
            '${ZIP_PREFIX_NN}.zip"\n',
        "tensorflow/lite/micro/micro_interpreter.h": "// fake\n",
    }


@pytest.fixture
def snapshots(tmp_path: Path) -> tuple[Path, str]:
    """SNAPSHOTS with every repository: TFLM bare, kissfft a plain tree, the rest git work trees."""
    root = tmp_path / "snapshots"
    pins = {
        "gemmlowp": commit_repo(root / "google+gemmlowp", {"fixedpoint/fixedpoint.h": "//\n", "BUILD": "x\n"}),
        "ruy": commit_repo(root / "google+ruy", {"ruy/profiler/instrumentation.h": "//\n", "ruy/BUILD": "x\n"}),
        "cmsis": commit_repo(root / "ARM-software+CMSIS_6", {"CMSIS/Core/Include/cmsis_gcc.h": "//\n"}),
        "dfp": commit_repo(root / "ARM-software+Cortex_DFP", {"Device/ARMCM4/Include/ARMCM4.h": "//\n"}),
        "cmsis_nn": commit_repo(root / "ARM-software+CMSIS-NN", {"Include/arm_nnfunctions.h": "//\n"}),
    }
    commit_repo(root / "google+flatbuffers", {"include/flatbuffers/base.h": "#define FLATBUFFERS_BASE 1\n",
                                              "BUILD.bazel": "x\n"}, tag="v1.2.3")
    plain = root / "mborgerding+kissfft@v130"
    plain.mkdir()
    (plain / "kiss_fft.h").write_text("#define KISS_FFT 1\n")
    work = tmp_path / "tflm-work"
    tflm = commit_repo(work, tflm_files(pins))
    subprocess.run([*GIT, "clone", "-q", "--bare", str(work), str(root / "tensorflow+tflite-micro")], check=True)
    return root, tflm


def test_tree_is_laid_out_as_tflms_makefile_expects(snapshots, tmp_path: Path) -> None:
    root, tflm = snapshots
    record = make_tree(root, tmp_path / "tflm", tflm)
    downloads = tmp_path / "tflm" / DOWNLOADS
    assert (tmp_path / "tflm/tensorflow/lite/micro/micro_interpreter.h").is_file()
    assert "PATCHED_BY_TFLM" in (downloads / "flatbuffers/include/flatbuffers/base.h").read_text()
    assert (downloads / "kissfft/kiss_fft.h").read_text() == "#define KISS_FFT 2\n"
    assert not (downloads / "flatbuffers/BUILD.bazel").exists() and not (downloads / "gemmlowp/BUILD").exists()
    assert not (downloads / "ruy/ruy/BUILD").exists()
    assert (downloads / "ruy/ruy/profiler/instrumentation.h").is_file()
    assert (downloads / "cmsis/CMSIS/Core/Include/cmsis_gcc.h").is_file()
    assert (downloads / "cmsis/Cortex_DFP/Device/ARMCM4/Include/ARMCM4.h").is_file()
    assert (downloads / "cmsis_nn/Include/arm_nnfunctions.h").is_file()
    assert (downloads / "pigweed").is_dir()  # TFLM's Makefile would clone it otherwise
    assert record["tflite-micro"]["commit"] == tflm
    assert record["cmsis/Cortex_DFP"]["repo"] == "ARM-software/Cortex_DFP"
    assert record["flatbuffers"]["commit"] == git(root / "google+flatbuffers", "rev-parse", "v1.2.3")
    assert record["kissfft"]["commit"] == "v130"  # a plain tree: the ref in its name
    assert (tmp_path / "tflm" / MARKER).is_file()
    make_tree(root, tmp_path / "tflm", tflm)  # its own earlier output is replaced


def test_missing_snapshot_is_named(snapshots, tmp_path: Path, capsys) -> None:
    root, tflm = snapshots
    pinned = git(root / "google+ruy", "rev-parse", "HEAD")
    subprocess.run(["rm", "-rf", str(root / "google+ruy")], check=True)
    with pytest.raises(TreeError, match=rf"no snapshot of google/ruy at {pinned}.*google\+ruy"):
        make_tree(root, tmp_path / "tflm", tflm)
    assert not (tmp_path / "tflm").exists()  # nothing half-made
    assert tflm_tree.main(["--snapshots", str(root), "--out", str(tmp_path / "tflm"), "--tflm-commit", tflm]) == 2
    assert "google/ruy" in capsys.readouterr().err


def test_snapshot_without_the_pinned_commit_is_refused(snapshots, tmp_path: Path) -> None:
    root, tflm = snapshots
    repo = root / "ARM-software+CMSIS-NN"
    subprocess.run(["rm", "-rf", str(repo)], check=True)
    commit_repo(repo, {"Include/arm_nnfunctions.h": "// another commit\n"})
    with pytest.raises(TreeError, match=r"ARM-software\+CMSIS-NN: has no commit"):
        make_tree(root, tmp_path / "tflm", tflm)


def test_tflm_commit_must_be_in_its_snapshot(snapshots, tmp_path: Path) -> None:
    root, _ = snapshots
    with pytest.raises(TreeError, match=r"tensorflow\+tflite-micro: has no commit 0123456"):
        make_tree(root, tmp_path / "tflm", "0123456789abcdef0123456789abcdef01234567")


def test_plain_tree_at_another_ref_is_named(snapshots, tmp_path: Path) -> None:
    root, tflm = snapshots
    (root / "mborgerding+kissfft@v130").rename(root / "mborgerding+kissfft@v131")
    with pytest.raises(TreeError, match=r"kissfft at v130.*found mborgerding\+kissfft@v131"):
        make_tree(root, tmp_path / "tflm", tflm)


def test_patch_that_does_not_apply_is_refused(snapshots, tmp_path: Path) -> None:
    root, tflm = snapshots
    (root / "mborgerding+kissfft@v130" / "kiss_fft.h").write_text("#define SOMETHING_ELSE 1\n")
    with pytest.raises(TreeError, match=r"kissfft.patch: does not apply to kissfft"):
        make_tree(root, tmp_path / "tflm", tflm)


def test_foreign_out_dir_is_not_replaced(snapshots, tmp_path: Path) -> None:
    root, tflm = snapshots
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me\n")
    with pytest.raises(InputError, match="not a tinykws TFLM tree"):
        make_tree(root, out, tflm)
    assert (out / "notes.txt").read_text() == "keep me\n"


def test_missing_snapshots_folder(tmp_path: Path) -> None:
    with pytest.raises(TreeError, match="no such folder"):
        make_tree(tmp_path / "nowhere", tmp_path / "tflm")


def test_pins_of_the_real_download_scripts_are_read() -> None:
    """The URL forms of TFLM's scripts: ${VAR} from an earlier assignment, tags and commits."""
    text = 'ZIP_PREFIX="abc123"\nCMSIS_URL="http://github.com/ARM-software/CMSIS_6/archive/${ZIP_PREFIX}.zip"\n'
    url = tflm_tree.read_url(text, "CMSIS_URL", "x.sh")
    assert tflm_tree.pin_from_url(url, "x.sh") == tflm_tree.Pin("ARM-software/CMSIS_6", "abc123")
    tag = tflm_tree.pin_from_url("https://github.com/google/flatbuffers/archive/refs/tags/v25.9.23.zip", "x")
    assert tag == tflm_tree.Pin("google/flatbuffers", "v25.9.23")
    with pytest.raises(TreeError, match="no RUY_URL"):
        tflm_tree.read_url(text, "RUY_URL", "x.sh")
