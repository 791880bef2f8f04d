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
    ``run`` and replay every packed conv's recorded inputs (the fused
    convs' residual too) on the kernel.

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
            records.setdefault(name, (args, out))
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
            for name, (layer_args, expected) in records.items():
                layer = layers[name]
                layer.backend = 'kernel'
                assert layer.uses_kernel(layer_args[0]), name
                torch.testing.assert_close(
                    layer(*layer_args), expected, rtol=tol, atol=tol,
                    msg=lambda m, name=name: f'{name}: {m}')
    finally:
        for hook in hooks:
            hook.remove()
        for name, m in layers.items():
            m.backend = backends[name]


# A block holds two binary 3x3 convs: a sign flipped between them (an input
# within an ulp of its threshold, rounded differently after folding) changes
# one 3 x 3 x C_out patch of the block's output. Up to FLIPS such patches are
# tolerated; a wrong fusion changes the whole output.
FLIPS = 2


def _assert_close_but_flips(got: torch.Tensor, expected: torch.Tensor,
                            tol: float, scale: float, name: str) -> None:
    """``assert_close`` except on the reach of ``FLIPS`` isolated threshold
    flips (``FLIPS * 9 * C_out`` elements per image)."""
    close = torch.isclose(got, expected, rtol=tol, atol=tol * scale)
    differ = int((~close).sum())
    reach = FLIPS * 9 * got.shape[0] * got.shape[1]
    assert differ <= reach, (
        f'{name}: {differ} of {got.numel()} elements differ, more than '
        f'{FLIPS} flipped signs reach ({reach}); largest difference '
        f'{(got - expected).abs().max().item():.3g}')


def assert_fused_blocks_match(unfused: nn.Module, fused: nn.Module,
                              run: Callable[[nn.Module], object],
                              tol: float = 1e-5) -> int:
    """Replay every fused unit of ``fused`` on the activations its unfused
    counterpart in ``unfused`` sees under ``run(unfused)``.

    Per unit, not end to end: folding a BN changes float32 rounding by a few
    ulps, and a binary network amplifies one flipped sign (a value within
    an ulp of its threshold) layer after layer, so whole-network outputs of
    two equally valid roundings may differ; inside a unit, a flip between its
    two convs is tolerated (``FLIPS``). Returns the number of units
    checked (all of them).
    """
    from mmbnn.models.backbones.binary_ssd_vgg_fusion import (
        FusedConvUnit, FusedRealConvUnit)
    from mmbnn.models.backbones.bireal_resnet_fusion import FusedBiRealBlock
    from mmbnn.models.backbones.binary_ssd_vgg import ConvPostProcess
    from mmbnn.models.backbones.bireal_resnet import BiRealBasicBlock
    records = {}

    def record(name):
        def hook(module, args, out):
            records.setdefault(name, (args, out))
        return hook
    hooks = [m.register_forward_hook(record(name))
             for name, m in unfused.named_modules()
             if isinstance(m, (BiRealBasicBlock, ConvPostProcess))]
    try:
        with torch.no_grad():
            run(unfused)
    finally:
        for hook in hooks:
            hook.remove()
    modules = dict(fused.named_modules())
    unit_types = (FusedConvUnit, FusedRealConvUnit)
    units = sum(isinstance(m, (FusedBiRealBlock, ) + unit_types)
                for m in modules.values())
    checked = 0
    with torch.no_grad():
        for name, (args, expected) in records.items():
            if isinstance(modules.get(name), FusedBiRealBlock):
                got = modules[name](args[0])
            else:  # an SSD post-process: its conv's unit is one index back
                parent, _, index = name.rpartition('.')
                unit = modules.get(f'{parent}.{int(index) - 1}')
                if not isinstance(unit, unit_types):
                    continue
                got = unit(args[1])
            scale = float(expected.abs().max().clamp_min(1.0))
            _assert_close_but_flips(got, expected, tol, scale, name)
            checked += 1
    assert units > 0 and checked == units, (checked, units)
    return checked
