"""TensorFlow without its start-up noise.

Importing TensorFlow prints, from C++ and before its logging is set up, lines
about absl, oneDNN and missing CUDA drivers, and a CPU-only machine then logs a
failed ``cuInit``. None of it is about the user's work. ``install()`` puts a
finder on ``sys.meta_path`` that, on the first import of ``tensorflow`` (by
whichever module needs it, keras included), sends file descriptor 2 to
/dev/null for the duration of that import, and sets TensorFlow's C++ log level
to errors-only-off (3) unless the user chose one. TensorFlow is still imported
only where it is needed.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import sys


class _QuietLoader(importlib.abc.Loader):
    def __init__(self, loader):
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module) -> None:
        saved, null = os.dup(2), os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 2)
        try:
            self._loader.exec_module(module)
        finally:
            os.dup2(saved, 2)
            os.close(null)
            os.close(saved)


class _QuietFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        sys.meta_path.remove(self)  # once: the import below and every later one go the normal way
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader)
        return spec


def install() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if "tensorflow" not in sys.modules and not any(isinstance(f, _QuietFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _QuietFinder())
