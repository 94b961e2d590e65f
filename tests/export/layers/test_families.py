import pytest

pytest.importorskip("torch")

from export import nets  # noqa: E402
from export.layers.families import layer_families  # noqa: E402


@pytest.mark.parametrize("name,families", [
    ("edges/gd-col", ["gaussian_derivative", "col"]),
    ("edges/gd-pafu", ["gaussian_derivative", "pafu"]),
    ("edges/gd-dyn", ["gaussian_derivative", "col", "steerable"]),
    ("edges/gd-dyn-static", ["gaussian_derivative", "col"]),  # an unturned steerable frame is a plain GD frame
    ("edges/gd-col-plain", []),
    ("demosaic/pafu-net", ["pafu", "envelope"]),
    ("demosaic/pafu-net-plain", []),
    ("sr/pafu-linear-x2", ["pafu"]),
    ("sr/pafu-espcn-plain-x2", []),
])
def test_layer_families_are_read_from_the_modules(name, families):
    assert layer_families(nets.create(name)) == families


def test_an_envelope_body_is_found_only_when_built():
    assert layer_families(nets.create("demosaic/pafu-net", plain_body=True)) == ["pafu"]
