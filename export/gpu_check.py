"""``python -m export.gpu_check``: the command the README cites for the CUDA checks
(:mod:`export.onnx.gpu_check`)."""
import sys

from .onnx.gpu_check import main

if __name__ == "__main__":
    sys.exit(main())
