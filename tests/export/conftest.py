import pytest

torch = pytest.importorskip("torch", reason="layer tests need the 'train' extra")


@pytest.fixture(autouse=True)
def _deterministic_torch():
    torch.manual_seed(0)
    torch.set_num_threads(1)
    yield
