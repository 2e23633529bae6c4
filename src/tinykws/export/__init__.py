"""Int8 quantization (``quantize``), the export artifacts (``artifacts``) and .tflite facts (``tflite_info``)."""
