# Copyright (c) mmbnn contributors. All rights reserved.
"""Per-layer complexity of a (binary) model, counted during a real forward.

Every conv (``nn.Conv*d``, incl. :class:`~mmbnn.ops.BinaryConv` and mmcv's
wrappers), every ``nn.Linear`` and every deploy-form
``mmbnn.deploy.PackedBinaryConv`` gets a forward hook; one forward pass on a
dummy input then gives each layer's multiply-accumulates (MACs), summed over
all the calls of the layer (a shared head runs once per FPN level).

- A layer is *binary* when both its weights and its input activations are
  1-bit (a ``BinaryConv`` with ``binarize_weight`` and ``binarize_act``, or a
  ``PackedBinaryConv`` that binarizes its input): its MACs are BOPs.
  Every other MAC is a FLOP (one multiply-accumulate = one FLOP).
- ``OPs = BOPs / 64 + FLOPs`` (Bi-Real Net, Liu et al., ECCV 2018;
  ReActNet, Liu et al., ECCV 2020).
- Parameters at deploy precision: binarized weights take 1 bit, every other
  value 32 bits. A binarized layer's real values are its bias, activation
  threshold and per-output-channel scale (``'mean_abs'`` scales are not
  parameters during training but the deploy form stores them, so they are
  counted). Parameters outside the listed layers (BN, RPReLU, ...) are real.
  Buffers (BN running statistics) are not counted: folding BN at deploy
  keeps two values per channel, as many as BN's weight and bias.
- SURGE auxiliary weights and StoMPP state (``compensator.*``,
  ``progressive.*``) exist only during training and are reported apart.

Not counted: ops other than convs and linears (RoIAlign, pooling, BN,
activations, additions, the sign functions) and bias additions.

The forward pass is a ``run_forward`` callable: :func:`tensor_forward`
(here) for a plain module, ``detector_forward``
(:mod:`mmbnn.analysis.complexity.detector`) for an mmdet detector.
"""
import math
from typing import Callable, Dict, Iterable, Optional, Sequence, Tuple

import torch
from torch import Tensor, nn

from ...deploy import PackedBinaryConv
from ...ops import BinaryConv
from .results import (BINARY, BINARY_ACT, BINARY_WEIGHT, REAL,
                      LayerComplexity, ModelComplexity)

TRAINING_ONLY_CHILDREN = BinaryConv.TRAINING_ONLY_CHILDREN

# Runs one forward of the model and returns ``(input_shape, num_proposals)``.
RunForward = Callable[[nn.Module], Tuple[Tuple[int, ...], Optional[int]]]


def _precision(binary_weight: bool, binary_act: bool) -> str:
    if binary_weight and binary_act:
        return BINARY
    if binary_weight:
        return BINARY_WEIGHT
    return BINARY_ACT if binary_act else REAL


def _own_numel(tensors: Iterable[Optional[Tensor]]) -> int:
    return sum(t.numel() for t in tensors if t is not None)


def _describe_layer(name: str,
                    module: nn.Module) -> Optional[LayerComplexity]:
    """A :class:`LayerComplexity` (no MACs yet) for a counted layer, None
    for any other module."""
    kind = type(module).__name__
    own_params = _own_numel(module.parameters(recurse=False))
    if isinstance(module, PackedBinaryConv):
        # deploy form: packed 1-bit weights; scale/threshold/bias buffers
        real = own_params + _own_numel(
            b for b in module.buffers(recurse=False) if b.is_floating_point())
        return LayerComplexity(name, kind,
                               _precision(True, module.binarize_act), 1,
                               math.prod(module.weight_shape), real)
    if isinstance(module, BinaryConv):
        binary = module.weight.numel() if module.binarize_weight else 0
        real = own_params - binary
        if module.binarize_weight and module.weight_scaling == 'mean_abs':
            real += module.out_channels  # the scales the deploy form stores
        return LayerComplexity(
            name, kind,
            _precision(module.binarize_weight, module.binarize_act),
            1 if module.binarize_weight else 32, binary, real)
    if isinstance(module, (nn.modules.conv._ConvNd, nn.Linear)):
        return LayerComplexity(name, kind, REAL, 32, 0, own_params)
    return None


def _fan_in(module: nn.Module) -> int:
    """MACs per output element (per input element for transposed convs)."""
    if isinstance(module, nn.Linear):
        return module.in_features
    kernel = module.kernel_size
    kernel = (kernel, ) if isinstance(kernel, int) else kernel
    channels = (module.out_channels if getattr(module, 'transposed', False)
                else module.in_channels)
    return channels // module.groups * math.prod(kernel)


def _macs(module: nn.Module, inputs: tuple, output: Tensor) -> int:
    if getattr(module, 'transposed', False):
        return inputs[0].numel() * _fan_in(module)
    return output.numel() * _fan_in(module)


def _training_only_tensors(model: nn.Module) -> Dict[int, int]:
    """``{id(tensor): numel}`` of the SURGE/StoMPP training-only state."""
    found = {}
    for module in model.modules():
        if not isinstance(module, BinaryConv):
            continue
        for child_name in TRAINING_ONLY_CHILDREN:
            child = getattr(module, child_name, None)
            if child is None:
                continue
            for tensor in list(child.parameters()) + list(child.buffers()):
                found[id(tensor)] = tensor.numel()
    return found


def count_complexity(model: nn.Module,
                     run_forward: RunForward) -> ModelComplexity:
    """Count ``model``'s per-layer complexity during ``run_forward(model)``.

    Args:
        model (nn.Module): The model (put in eval mode, restored after).
        run_forward (Callable[[nn.Module], tuple]): Runs one forward pass
            (called under ``torch.no_grad``) and returns ``(input_shape,
            num_proposals)``, e.g. :func:`tensor_forward` or
            :func:`~mmbnn.analysis.complexity.detector.detector_forward`.

    Returns:
        ModelComplexity: The per-layer table and totals.
    """
    layers, handles = [], []
    for name, module in model.named_modules():
        layer = _describe_layer(name, module)
        if layer is None:
            continue
        layers.append(layer)

        def hook(mod, inputs, output, layer=layer):
            macs = _macs(mod, inputs, output)
            layer.calls += 1
            if layer.precision == BINARY:
                layer.bops += macs
            else:
                layer.flops += macs

        handles.append(module.register_forward_hook(hook))

    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            input_shape, num_proposals = run_forward(model)
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)

    training_only = _training_only_tensors(model)
    in_layers = {
        id(t)
        for layer in layers
        for t in model.get_submodule(layer.name).parameters(recurse=False)
    }
    other = sum(p.numel() for p in model.parameters()
                if id(p) not in in_layers and id(p) not in training_only)
    return ModelComplexity(
        input_shape=tuple(input_shape), layers=layers, other_params=other,
        training_only_params=sum(training_only.values()),
        num_proposals=num_proposals)


def tensor_forward(shape: Sequence[int]) -> RunForward:
    """A ``run_forward`` for a plain module: ``model(zeros(shape))``."""

    def run(model: nn.Module):
        device = next(model.parameters()).device
        model(torch.zeros(*shape, device=device))
        return tuple(shape), None

    return run
