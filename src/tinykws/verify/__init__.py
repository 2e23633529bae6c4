"""Verification: the engine registry (``engines``, ``qemu_engine``), the check (``check``), metrics, report, predict."""
