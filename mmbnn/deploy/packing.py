# Copyright (c) mmbnn contributors. All rights reserved.
"""1 bit per weight: packing the signs of a tensor into bytes and back.

Layout: the tensor is flattened in C order and bit ``i`` of the flat tensor
is bit ``i % 8`` (least significant first) of byte ``i // 8``; a set bit is
``+1``, a clear bit ``-1`` (``sign(0) = +1``, as in training). The last byte
is zero-padded. The shape is stored beside the bytes.
"""
from typing import Sequence

import torch
from torch import Tensor

_BIT_WEIGHTS = torch.tensor([1 << i for i in range(8)], dtype=torch.uint8)


def packed_size(numel: int) -> int:
    """Bytes needed for ``numel`` signs."""
    return (numel + 7) // 8


def pack_signs(tensor: Tensor) -> Tensor:
    """Pack ``sign(tensor)`` (``>= 0`` is +1) into a flat ``uint8`` tensor.

    Args:
        tensor (Tensor): Any real tensor.

    Returns:
        Tensor: ``uint8`` of length ``ceil(numel / 8)``.
    """
    bits = (tensor.detach().reshape(-1) >= 0).to(torch.uint8).cpu()
    pad = packed_size(bits.numel()) * 8 - bits.numel()
    bits = torch.cat([bits, bits.new_zeros(pad)]).view(-1, 8)
    return (bits * _BIT_WEIGHTS).sum(dim=1, dtype=torch.uint8)


def unpack_signs(packed: Tensor, shape: Sequence[int],
                 dtype: torch.dtype = torch.float32) -> Tensor:
    """Inverse of :func:`pack_signs`: a tensor of exactly +-1.

    Args:
        packed (Tensor): ``uint8`` bytes from :func:`pack_signs`.
        shape (Sequence[int]): Shape of the packed tensor.
        dtype (torch.dtype): Output dtype. Defaults to float32.

    Returns:
        Tensor: +-1 values of ``shape``, on ``packed``'s device.
    """
    numel = 1
    for size in shape:
        numel *= int(size)
    if packed.dtype != torch.uint8 or packed.numel() != packed_size(numel):
        raise ValueError(
            f'packed weight has {packed.numel()} {packed.dtype} entries; '
            f'shape {tuple(shape)} needs {packed_size(numel)} uint8 bytes')
    weights = _BIT_WEIGHTS.to(packed.device)
    bits = (packed.view(-1, 1) & weights) != 0
    signs = bits.reshape(-1)[:numel].reshape(tuple(shape))
    return torch.where(signs, 1.0, -1.0).to(dtype)
