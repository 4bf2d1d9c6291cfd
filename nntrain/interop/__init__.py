"""Moving trained runs to other tools: ONNX export (onnx_export.py)."""
