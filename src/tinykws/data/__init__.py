"""Data sources: Speech Commands layouts and download, TTS synthesis, noise, augmentation."""
