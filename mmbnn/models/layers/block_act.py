# Copyright (c) mmbnn contributors. All rights reserved.
"""Activations between the binary convs of mmbnn's ResNet blocks."""
from torch import nn

from ...utils import check_choice
from .rprelu import RPReLU

#: Activations whose output is signed, so the next binary conv's ``sign``
#: is informative; ``'relu'`` is allowed only where no following conv
#: binarizes its input (full-precision or binary-weight-only networks).
BLOCK_ACTS = ('rprelu', 'prelu', 'hardtanh', 'identity', 'relu')


def build_block_act(name: str, channels: int) -> nn.Module:
    """The activation ``name`` (one of :data:`BLOCK_ACTS`) for
    ``channels`` channels."""
    check_choice('block_act', name, BLOCK_ACTS)
    if name == 'rprelu':
        return RPReLU(channels)
    if name == 'prelu':
        return nn.PReLU(channels)
    if name == 'hardtanh':
        return nn.Hardtanh()
    if name == 'relu':
        return nn.ReLU(inplace=True)
    return nn.Identity()


def fuse_activation(conv: nn.Module, act: nn.Module) -> bool:
    """Move a block activation into the epilogue of the packed binary conv
    before it (:meth:`mmbnn.deploy.PackedBinaryConv.set_activation`).

    Args:
        conv (nn.Module): A ``PackedBinaryConv``.
        act (nn.Module): The activation after it.

    Returns:
        bool: Whether it was fused (RPReLU, PReLU, Identity); a False
        (Hardtanh, ReLU) leaves ``act`` to run after the conv.
    """
    if isinstance(act, nn.Identity):
        return True
    if isinstance(act, RPReLU):
        conv.set_activation(act.prelu.weight, act.shift_in, act.shift_out)
        return True
    if isinstance(act, nn.PReLU):
        conv.set_activation(act.weight)
        return True
    return False


def check_signed_inputs(module: nn.Module, act: str, key: str) -> None:
    """Refuse a ReLU in front of convs that binarize their input.

    ``sign`` of a post-ReLU (non-negative) tensor is +1 everywhere, so such
    a network would carry no information through its binary convs.

    Args:
        module (nn.Module): The built backbone.
        act (str): Its activation name.
        key (str): The config key that chose ``act``, for the message.

    Raises:
        ValueError: ``act`` is ``'relu'`` and a conv binarizes activations.
    """
    if act != 'relu':
        return
    # the convs' ``binarize_act`` flag (a StoMPP rule has a method of that
    # name, which says nothing about its conv)
    binary_act = [
        name for name, m in module.named_modules()
        if getattr(m, 'binarize_act', None) is True
    ]
    if binary_act:
        raise ValueError(
            f"{key}='relu' feeds non-negative inputs to convs that binarize "
            f'their input ({binary_act[0]}, ...): sign() of them is +1 '
            'everywhere. Use one of '
            f"{', '.join(repr(a) for a in BLOCK_ACTS if a != 'relu')}, or "
            'relu only with binarize_act=False / a full-precision conv_cfg')
