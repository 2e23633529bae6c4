"""Jinja2 rendering of firmware_templates/, with StrictUndefined and C helpers.

The templates ship inside the wheel as ``tinykws/firmware_templates``; in a
source checkout they are the top-level ``firmware_templates/`` folder.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache
from pathlib import Path

import jinja2
import numpy as np

from tinykws.errors import InputError

C_RESERVED = frozenset(
    "auto break case char const continue default do double else enum extern float for goto if inline int "
    "long register restrict return short signed sizeof static struct switch typedef union unsigned void "
    "volatile while _Bool _Complex _Imaginary _Alignas _Alignof _Atomic _Generic _Noreturn _Static_assert "
    "_Thread_local alignas alignof bool class delete false new nullptr private protected public template "
    "this throw true try typename using virtual".split()
)
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def templates_dir() -> Path:
    packaged = Path(__file__).parent / "firmware_templates"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "firmware_templates"


def c_string(text: str) -> str:
    """A C string literal for any text (escapes quotes, backslashes, non-ASCII bytes)."""
    out = []
    for byte in text.encode("utf-8"):
        ch = chr(byte)
        if ch in "\"\\":
            out.append("\\" + ch)
        elif 32 <= byte < 127 and ch != "?":
            out.append(ch)
        else:
            out.append(f"\\{byte:03o}")
    return '"' + "".join(out) + '"'


def c_float(value: float) -> str:
    """A float32 C literal that parses back to exactly float32(value)."""
    v = float(np.float32(value))
    if not math.isfinite(v):
        raise InputError(f"cannot emit the non-finite constant {value!r} into C")
    text = f"{v:.9g}"
    if not any(ch in text for ch in ".e"):
        text += ".0"
    return text + "f"


def check_c_identifier(name: str) -> str:
    if not _IDENT.match(name) or name in C_RESERVED:
        raise InputError(f"{name!r} is not a usable C identifier")
    return name


def c_macro_name(text: str) -> str:
    """An upper-case identifier fragment for any label (non-alphanumerics -> '_')."""
    name = re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").upper() or "LABEL"
    return "_" + name if name[0].isdigit() else name


def unique_macro_names(labels: tuple[str, ...]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for label in labels:
        base = c_macro_name(label)
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.append(base if n == 0 else f"{base}_{n + 1}")
    return out


@lru_cache(maxsize=4)
def environment(root: str) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(root),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    env.filters["c_string"] = c_string
    env.filters["c_float"] = c_float
    env.filters["c_ident"] = check_c_identifier
    return env


def render(template: str, **context) -> str:
    return environment(str(templates_dir())).get_template(template).render(**context)


__all__ = ["templates_dir", "render", "c_string", "c_float", "check_c_identifier", "unique_macro_names"]
