# Copyright (c) mmbnn contributors. All rights reserved.
import torch
from torch import Tensor, nn


class RPReLU(nn.Module):
    """ReActNet's RPReLU: ``PReLU(x - gamma) + zeta`` with per-channel
    learnable shifts ``gamma``, ``zeta`` and slope.

    `ReActNet <https://arxiv.org/abs/2003.03488>`_.

    Args:
        channels (int): Number of channels.
        init_slope (float): Initial negative slope. Defaults to 0.25.
    """

    def __init__(self, channels: int, init_slope: float = 0.25) -> None:
        super().__init__()
        self.shift_in = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.prelu = nn.PReLU(channels, init=init_slope)
        self.shift_out = nn.Parameter(torch.zeros(1, channels, 1, 1))

    def forward(self, x: Tensor) -> Tensor:
        return self.prelu(x - self.shift_in) + self.shift_out
