# Copyright (c) mmbnn contributors. All rights reserved.
"""Check the packed kernel against the float reference, layer by layer."""
from typing import Callable

import torch
from torch import nn

from mmbnn.deploy import PackedBinaryConv


def assert_kernel_matches_reference(model: nn.Module,
                                    run: Callable[[], object],
                                    expected_layers: int,
                                    tol: float = 1e-4) -> None:
    """Run ``model`` (its packed convs on the reference backend) through
    ``run`` and replay every packed conv's recorded input on the kernel.

    The kernel sums the same integers as the reference and scales them in
    float, so a layer matches to rounding. The check is per layer, on the
    activations the model really sees: through a whole network a 1e-7
    rounding difference can flip the sign of a value lying on the next
    layer's threshold, and NMS turns a 1e-6 score difference between two
    near-tied boxes into another kept set.
    """
    records = {}

    def record(name):
        def hook(module, args, out):
            records.setdefault(name, (args[0], out))
        return hook

    layers = {name: m for name, m in model.named_modules()
              if isinstance(m, PackedBinaryConv)}
    assert len(layers) == expected_layers
    backends = {name: m.backend for name, m in layers.items()}
    hooks = [m.register_forward_hook(record(name))
             for name, m in layers.items()]
    try:
        for m in layers.values():
            m.backend = 'reference'
        with torch.no_grad():
            run()
        for hook in hooks:
            hook.remove()
        assert set(records) == set(layers)
        with torch.no_grad():
            for name, (layer_in, expected) in records.items():
                layer = layers[name]
                layer.backend = 'kernel'
                assert layer.uses_kernel(layer_in), name
                torch.testing.assert_close(
                    layer(layer_in), expected, rtol=tol, atol=tol,
                    msg=lambda m, name=name: f'{name}: {m}')
    finally:
        for hook in hooks:
            hook.remove()
        for name, m in layers.items():
            m.backend = backends[name]
