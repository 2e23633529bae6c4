"""Streaming detection (``detect``), its C recognizer (``c``) and the stream evaluation (``evaluate``)."""
