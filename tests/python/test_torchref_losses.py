"""libdh's supervised losses against their PyTorch transcription (bench/torchref/losses.py,
the reference of bench/reference_torch_fashion_mnist.py): for HashNet, DPSH (with a
filled bank), DCH, DSH, GreedyHash, CSQ, DPN, OrthoHash and SPRCH the same U, labels and
indices give the same value and dL/dU to float precision (autograd on the torch side),
so a change to a loss formula, normaliser or default on either side fails here."""
import os
import sys

import pytest

import dh

pytestmark = pytest.mark.skipif(not dh.has_training(), reason="search-only build")
pytest.importorskip("torch")
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "bench"))
from torchref import check_losses  # noqa: E402
from torchref import losses  # noqa: E402


@pytest.mark.parametrize("method", sorted(losses.METHODS))
def test_loss_matches_torch(method):
    assert check_losses.check(method, K=24, B=40, N=160) <= 1e-4


def test_a_changed_constant_is_caught(monkeypatch):
    """The comparison has teeth: DSH with alpha 0.012 instead of libdh's 0.01 differs."""
    orig = losses.DSH.__init__
    monkeypatch.setattr(losses.DSH, "__init__",
                        lambda self, K, C, **kw: orig(self, K, C, alpha=0.012))
    assert check_losses.check("dsh", K=24, B=40, N=160) > 1e-3
