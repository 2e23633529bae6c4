"""tinykws: keyword spotting for microcontrollers.

Train a DS-CNN on speech, quantize it to int8, export it to C and firmware,
and check on the host that what runs on the chip is what was trained.
"""

__version__ = "0.1.0"
