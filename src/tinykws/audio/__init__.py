"""Audio in: file I/O (``io``), the numpy MFCC reference (``mfcc``) and the C feature front end (``frontend``)."""
