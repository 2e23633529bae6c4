"""A TensorFlow Lite Micro tree laid out as TFLM's Makefile expects, from repository snapshots.

    python -m tinykws.firmware.tflm_tree --snapshots DIR --out DIR [--tflm-commit SHA]
    (or `make tflm-tree SNAPSHOTS=DIR TFLM_OUT=DIR`)

No network: every repository comes from a folder of snapshots, one entry per
repository, named ``owner+name`` as GitHub spells it:

    SNAPSHOTS/tensorflow+tflite-micro/         a bare git repository, or a folder holding one as
                                                 ``repo/``, or a git work tree (``.git`` inside)
    SNAPSHOTS/google+flatbuffers@v25.9.23/     or a plain tree (no git) at the ref in its name

TFLite Micro is checked out at ``--tflm-commit``; the third-party sources are
taken at the commits and tags that this TFLM commit pins in its own download
scripts (``tensorflow/lite/micro/tools/make/*_download.sh``,
``third_party_downloads.inc``, ``ext_libs/cmsis*_download.sh``), read from the
tree, not typed here; TFLM's own patches are applied (flatbuffers, kissfft) and
its BUILD files removed as its scripts do. The result is
``OUT/tensorflow/lite/micro/tools/make/downloads/{flatbuffers,gemmlowp,ruy,kissfft,cmsis,
cmsis/Cortex_DFP,cmsis_nn}``; ``downloads/pigweed`` is an empty placeholder (the library does
not need it, and TFLM's Makefile would clone it otherwise). OUT is replaced
only when it is empty or a tree this module made (``tinykws-tflm-tree.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tinykws.errors import EnvironmentFailure, InputError
from tinykws.fsutil import atomic_dir

#: The TFLite Micro commit issue 14 was measured on (tensorflow/tflite-micro, 2026-08-20).
TFLM_COMMIT = "90b983c2b3f1480642e040bbd2ddb37b998f3424"
TFLM_REPO = "tensorflow/tflite-micro"
MAKE_DIR = "tensorflow/lite/micro/tools/make"
DOWNLOADS = f"{MAKE_DIR}/downloads"
MARKER = "tinykws-tflm-tree.json"


@dataclass(frozen=True)
class Dependency:
    """A third-party source TFLM downloads: where it goes, which file of TFLM pins it (by the
    shell or make variable holding its GitHub archive URL), the patch TFLM applies, and the
    build files TFLM's script deletes after unpacking."""

    folder: str          # under downloads/
    pinned_in: str       # path in the TFLM tree
    url_variable: str
    patch: str = ""      # path in the TFLM tree
    drop_files: tuple[str, ...] = ()


DEPENDENCIES: tuple[Dependency, ...] = (
    Dependency("flatbuffers", f"{MAKE_DIR}/flatbuffers_download.sh", "FLATBUFFERS_URL",
               patch=f"{MAKE_DIR}/flatbuffers.patch", drop_files=("BUILD", "BUILD.bazel")),
    Dependency("gemmlowp", f"{MAKE_DIR}/third_party_downloads.inc", "GEMMLOWP_URL", drop_files=("*BUILD",)),
    Dependency("ruy", f"{MAKE_DIR}/third_party_downloads.inc", "RUY_URL", drop_files=("*BUILD",)),
    Dependency("kissfft", f"{MAKE_DIR}/kissfft_download.sh", "KISSFFT_URL", patch="third_party/kissfft/kissfft.patch"),
    Dependency("cmsis", f"{MAKE_DIR}/ext_libs/cmsis_download.sh", "CMSIS_URL"),
    Dependency("cmsis/Cortex_DFP", f"{MAKE_DIR}/ext_libs/cmsis_download.sh", "CMSIS_DFP_URL"),
    Dependency("cmsis_nn", f"{MAKE_DIR}/ext_libs/cmsis_nn_download.sh", "CMSIS_NN_URL"),
)

_ASSIGNMENT = re.compile(r"^\s*([A-Z_][A-Z0-9_]*)\s*:?=\s*\"?([^\"\s]*)\"?\s*$")
_GITHUB_ARCHIVE = re.compile(r"github\.com/([\w.-]+)/([\w.-]+)/archive/(?:refs/tags/)?([\w.-]+?)\.(?:zip|tar\.gz)$")


class TreeError(InputError):
    """A snapshot is missing or cannot give the pinned commit; the message names what and where."""


@dataclass(frozen=True)
class Pin:
    repo: str   # owner/name
    ref: str    # commit or tag, as TFLM names it


# --- pins ------------------------------------------------------------------------------------

def read_url(text: str, variable: str, source: str) -> str:
    """The value of `variable` in a shell script or make include, ``${VAR}`` expanded from the
    assignments above it (the download scripts reuse ZIP_PREFIX for two archives)."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        match = _ASSIGNMENT.match(line)
        if match:
            name, value = match[1], re.sub(r"\$\{(\w+)\}", lambda m: values.get(m[1], m[0]), match[2])
            values[name] = value
            if name == variable:
                return value
    raise TreeError(f"{source}: no {variable} assignment (has TFLM changed how it pins this source?)")


def pin_from_url(url: str, source: str) -> Pin:
    match = _GITHUB_ARCHIVE.search(url)
    if match is None:
        raise TreeError(f"{source}: {url!r} is not a GitHub archive URL")
    return Pin(f"{match[1]}/{match[2]}", match[3])


def read_pins(tree: Path) -> dict[str, Pin]:
    """{downloads folder: Pin} as this TFLM tree's download scripts pin them."""
    pins = {}
    for dep in DEPENDENCIES:
        path = tree / dep.pinned_in
        if not path.is_file():
            raise TreeError(f"{path}: missing from the TFLite Micro tree (not a tflite-micro checkout?)")
        pins[dep.folder] = pin_from_url(read_url(path.read_text(), dep.url_variable, str(path)), str(path))
    return pins


# --- snapshots -------------------------------------------------------------------------------

def _git(git_dir: Path, *args: str, stdout=subprocess.PIPE) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(["git", "--git-dir", str(git_dir), *args], stdout=stdout, stderr=subprocess.PIPE,
                              check=False)
    except FileNotFoundError:
        raise EnvironmentFailure("git not found on PATH (needed to read the snapshots)") from None


def _git_dir(path: Path) -> Path | None:
    """The git directory of a snapshot entry: bare, ``repo/`` inside (fetch's layout), or ``.git``."""
    for candidate in (path, path / "repo", path / ".git"):
        if (candidate / "HEAD").is_file() and (candidate / "objects").is_dir():
            return candidate
    return None


def snapshot_name(repo: str) -> str:
    return repo.replace("/", "+")


def resolve_commit(git_dir: Path, ref: str, where: str) -> str:
    done = _git(git_dir, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    if done.returncode != 0:
        raise TreeError(f"{where}: has no commit {ref} (the snapshot is older or of another repository; "
                        f"bring a newer snapshot of it)")
    return done.stdout.decode().strip()


def checkout(snapshots: Path, pin: Pin, dest: Path) -> str:
    """Write the files of `pin` into `dest`; returns the commit (or the ref of a plain tree)."""
    name = snapshot_name(pin.repo)
    entry = snapshots / name
    if entry.is_dir() and (git_dir := _git_dir(entry)) is not None:
        commit = resolve_commit(git_dir, pin.ref, str(entry))
        dest.mkdir(parents=True, exist_ok=True)
        archive = subprocess.Popen(["git", "--git-dir", str(git_dir), "archive", "--format=tar", commit],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        untar = subprocess.run(["tar", "-x", "-C", str(dest)], stdin=archive.stdout, capture_output=True)
        archive.stdout.close()
        if archive.wait() != 0 or untar.returncode != 0:
            raise EnvironmentFailure(f"{entry}: git archive {commit} | tar failed: "
                                     f"{archive.stderr.read().decode()[:500]}{untar.stderr.decode()[:500]}")
        return commit
    plain = snapshots / f"{name}@{pin.ref}"
    if plain.is_dir():
        shutil.copytree(plain, dest, symlinks=True)
        return pin.ref
    others = sorted(p.name for p in snapshots.glob(f"{name}@*"))
    hint = f" (found {', '.join(others)}: another ref)" if others else ""
    raise TreeError(f"{snapshots}: no snapshot of {pin.repo} at {pin.ref}: expected {entry}/ (a git "
                    f"repository with that commit) or {plain}/ (a plain tree){hint}")


def drop_files(root: Path, patterns: tuple[str, ...]) -> None:
    for pattern in patterns:
        for path in root.rglob(pattern):
            if path.is_file():
                path.unlink()


def apply_patch(dest: Path, patch: Path) -> None:
    """``git apply`` as TFLM's scripts run it, never looking for a repository above `dest`."""
    env = dict(os.environ, GIT_CEILING_DIRECTORIES=str(dest.parent))
    done = subprocess.run(["git", "apply", "--ignore-space-change", "--ignore-whitespace", str(patch)], cwd=dest,
                          env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise TreeError(f"{patch}: does not apply to {dest.name}: {done.stderr.strip()[:1000]}")


# --- the tree --------------------------------------------------------------------------------

def check_out_dir(out: Path) -> None:
    """Replace only an empty folder or a tree this module made."""
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out}: exists and is not a directory")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise InputError(f"--out {out}: a non-empty folder that is not a tinykws TFLM tree (no {MARKER}); "
                         "refusing to replace it")


def lay_out(snapshots: Path, tmp: Path, tflm_commit: str) -> dict:
    """TFLM into `tmp`, its third-party sources into its downloads folder; returns the record."""
    record = {"tflite-micro": {"repo": TFLM_REPO, "commit": checkout(snapshots, Pin(TFLM_REPO, tflm_commit), tmp)}}
    pins = read_pins(tmp)
    for dep in DEPENDENCIES:
        dest = tmp / DOWNLOADS / dep.folder
        commit = checkout(snapshots, pins[dep.folder], dest)
        drop_files(dest, dep.drop_files)
        if dep.patch:
            apply_patch(dest, tmp / dep.patch)
        record[dep.folder] = {"repo": pins[dep.folder].repo, "ref": pins[dep.folder].ref, "commit": commit,
                              "patch": dep.patch}
    (tmp / DOWNLOADS / "pigweed").mkdir()
    (tmp / DOWNLOADS / "pigweed" / "README.tinykws").write_text(
        "Placeholder: TFLite Micro's library does not use pigweed; this folder stops its Makefile cloning it.\n")
    return record


def make_tree(snapshots: Path, out: Path, tflm_commit: str = TFLM_COMMIT) -> dict:
    """Lay out the tree in `out` (replaced atomically); returns what was checked out."""
    snapshots, out = Path(snapshots), Path(out)
    if not snapshots.is_dir():
        raise TreeError(f"--snapshots {snapshots}: no such folder")
    check_out_dir(out)
    with atomic_dir(out) as tmp:
        record = lay_out(snapshots, tmp, tflm_commit)
        (tmp / MARKER).write_text(json.dumps(record, indent=2) + "\n")
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tinykws.firmware.tflm_tree",
                                     description=__doc__.split("\n\n")[0],
                                     epilog=__doc__.split("\n\n", 2)[2], formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--snapshots", type=Path, required=True, help="folder of repository snapshots (owner+name)")
    parser.add_argument("--out", type=Path, required=True, help="the TFLM tree to write (then TFLM_DIR=OUT)")
    parser.add_argument("--tflm-commit", default=TFLM_COMMIT, help=f"tflite-micro commit (default {TFLM_COMMIT[:9]})")
    args = parser.parse_args(argv)
    try:
        record = make_tree(args.snapshots, args.out, args.tflm_commit)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (EnvironmentFailure, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    for folder, what in record.items():
        print(f"{folder}: {what['repo']} {what.get('ref', '')} {what['commit']}".replace("  ", " "))
    print(f"wrote {args.out}: use TFLM_DIR={args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
