"""The reliability suite reuses the runtime suite's fixture models and RAW writers."""
from tests.runtime.conftest import (  # noqa: F401
    conv_stack_onnx, dng, installed, linear_scene, luma_sr, model_dir, photos, register, registry, sample_scene,
    smooth_folder, write_dng, write_odd_cfa_dng,
)
