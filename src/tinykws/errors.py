"""Typed exceptions. Library code raises these; only the cli package prints or exits."""


def printable(text: str) -> str:
    """``text`` with the undecodable bytes of file names (surrogate escapes) shown as \\xNN."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


class TinyKWSError(Exception):
    """Base class of every error tinykws raises on purpose; its message is always printable,
    even when it names a file whose name is not valid UTF-8."""

    def __init__(self, *args: object) -> None:
        super().__init__(*(printable(a) if isinstance(a, str) else a for a in args))


class InputError(TinyKWSError):
    """Bad input: a file or value that cannot be used (CLI exit code 2)."""


class AudioError(InputError):
    """A WAV file that cannot be read; the message names the file."""


class DataError(InputError):
    """A data folder that cannot be used (empty, wrong layout, ...)."""


class ModelError(InputError):
    """A model file that cannot be used (corrupt, wrong type, unsupported op)."""


class UnsupportedOperatorError(ModelError):
    """An operator or option the C engine generator does not support."""


class CheckFailed(TinyKWSError):
    """A verification ran and failed (accuracy drop, mismatch): exit code 1."""


class EnvironmentFailure(TinyKWSError):
    """The machine, not the input, failed: disk full, read-only folder, no permission, a missing
    compiler or a crashed emulator (CLI exit code 3). The message names the path or the tool."""
