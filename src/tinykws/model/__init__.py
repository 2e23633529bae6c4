"""The model: presets and builder (``build``), profile, training, cross-validation and the model card (``card``).

TensorFlow is imported only inside the functions that need it.
"""
