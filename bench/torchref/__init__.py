"""PyTorch side of bench/reference_torch_fashion_mnist.py: the smallcnn network and
heads (net.py), the supervised losses written from lib/loss/*.c (losses.py), the
training loop (train.py), the libdh side through the Python bindings (libdh_side.py)
and a numpy tie-aware mAP (evalmap.py)."""
