# Copyright (c) mmbnn contributors. All rights reserved.
"""What a complexity count returns: one record per conv / linear layer and
the model's totals, with the precision labels the records use."""
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional, Tuple

# Per-layer precision labels.
BINARY = 'binary'  # 1-bit weights and activations: MACs are BOPs
BINARY_WEIGHT = 'binary weight'  # 1-bit weights, real activations
BINARY_ACT = 'binary act'  # real weights, 1-bit activations
REAL = 'real'


@dataclass
class LayerComplexity:
    """Complexity of one conv or linear layer.

    Attributes:
        name (str): Module name in the model.
        type (str): Class name.
        precision (str): One of ``'binary'``, ``'binary weight'``,
            ``'binary act'``, ``'real'``.
        weight_bits (int): Bits per weight at deploy (1 or 32).
        binary_params (int): 1-bit weights.
        real_params (int): 32-bit values (weights, bias, scale, threshold).
        calls (int): Calls during the counting forward.
        bops (int): Binary MACs, over all calls.
        flops (int): Real MACs, over all calls.
    """
    name: str
    type: str
    precision: str
    weight_bits: int
    binary_params: int
    real_params: int
    calls: int = 0
    bops: int = 0
    flops: int = 0

    @property
    def params(self) -> int:
        return self.binary_params + self.real_params


@dataclass
class ModelComplexity:
    """Per-layer table and totals of a model.

    Attributes:
        input_shape (tuple): Shape of the tensor the model ran on (for a
            detector: after its data preprocessor's padding).
        layers (list[LayerComplexity]): Convs and linears, model order.
        other_params (int): Real parameters outside ``layers`` (BN, ...).
        training_only_params (int): Elements of SURGE compensators' and
            StoMPP rules' parameters and buffers (dropped at export).
        num_proposals (int, optional): Proposals the RoI head ran on.
    """
    input_shape: Tuple[int, ...]
    layers: List[LayerComplexity] = field(default_factory=list)
    other_params: int = 0
    training_only_params: int = 0
    num_proposals: Optional[int] = None

    @property
    def binary_params(self) -> int:
        return sum(layer.binary_params for layer in self.layers)

    @property
    def real_params(self) -> int:
        return sum(layer.real_params
                   for layer in self.layers) + self.other_params

    @property
    def params(self) -> int:
        return self.binary_params + self.real_params

    @property
    def bops(self) -> int:
        return sum(layer.bops for layer in self.layers)

    @property
    def flops(self) -> int:
        return sum(layer.flops for layer in self.layers)

    @property
    def ops(self) -> float:
        """``BOPs / 64 + FLOPs``."""
        return self.bops / 64 + self.flops

    @property
    def deploy_bytes(self) -> float:
        """Model size with 1-bit binary weights and 32-bit real values."""
        return self.binary_params / 8 + self.real_params * 4

    @property
    def fp32_bytes(self) -> int:
        """Model size with every value in 32 bits."""
        return self.params * 4

    def totals(self) -> Dict[str, float]:
        """The totals as a flat dict."""
        return dict(
            binary_params=self.binary_params,
            real_params=self.real_params,
            params=self.params,
            other_params=self.other_params,
            training_only_params=self.training_only_params,
            deploy_bytes=self.deploy_bytes,
            fp32_bytes=self.fp32_bytes,
            bops=self.bops,
            flops=self.flops,
            ops=self.ops)

    def to_dict(self) -> dict:
        """JSON-serialisable form (exact integers)."""
        return dict(
            input_shape=list(self.input_shape),
            num_proposals=self.num_proposals,
            totals=self.totals(),
            layers=[dict(asdict(layer), params=layer.params)
                    for layer in self.layers])
