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
"""
import math
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from torch import Tensor, nn

from ..deploy import PackedBinaryConv, build_detector, load_config
from ..ops import BinaryConv

# Per-layer precision labels.
BINARY = 'binary'  # 1-bit weights and activations: MACs are BOPs
BINARY_WEIGHT = 'binary weight'  # 1-bit weights, real activations
BINARY_ACT = 'binary act'  # real weights, 1-bit activations
REAL = 'real'

TRAINING_ONLY_CHILDREN = BinaryConv.TRAINING_ONLY_CHILDREN
# Used when neither ``shape`` nor the config's test pipeline gives a size.
FALLBACK_SHAPE = (800, 1333)


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


def _precision(binary_weight: bool, binary_act: bool) -> str:
    if binary_weight and binary_act:
        return BINARY
    if binary_weight:
        return BINARY_WEIGHT
    return BINARY_ACT if binary_act else REAL


def _own_numel(tensors) -> int:
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


def count_complexity(model: nn.Module, run_forward) -> ModelComplexity:
    """Count ``model``'s per-layer complexity during ``run_forward(model)``.

    Args:
        model (nn.Module): The model (put in eval mode, restored after).
        run_forward (Callable[[nn.Module], tuple]): Runs one forward pass
            (called under ``torch.no_grad``) and returns ``(input_shape,
            num_proposals)``, e.g. :func:`tensor_forward` or
            :func:`detector_forward`.

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


def tensor_forward(shape: Sequence[int]):
    """A ``run_forward`` for a plain module: ``model(zeros(shape))``."""

    def run(model: nn.Module):
        device = next(model.parameters()).device
        model(torch.zeros(*shape, device=device))
        return tuple(shape), None

    return run


def _dummy_proposals(num: int, height: int, width: int,
                     device) -> Tensor:
    """``num`` valid, deterministic ``(x1, y1, x2, y2)`` boxes."""
    gen = torch.Generator().manual_seed(0)
    corner = torch.rand(num, 2, generator=gen) * 0.5
    size = 0.05 + torch.rand(num, 2, generator=gen) * 0.45
    scale = torch.tensor([width, height], dtype=torch.float32)
    boxes = torch.cat([corner * scale, (corner + size) * scale], dim=1)
    return boxes.to(device)


def detector_forward(shape: Sequence[int],
                     num_proposals: Optional[int] = None):
    """A ``run_forward`` for an mmdet detector on one ``(H, W)`` image.

    The image (deterministic noise in [0, 255]) and a ``DetDataSample``
    carrying its ``img_shape``/``ori_shape``/``scale_factor`` go through the
    model's data preprocessor (normalisation, padding to its size divisor),
    then through the tensor-mode forward, ``model._forward``: backbone,
    neck and heads without post-processing, as mmdet's ``get_flops`` runs
    it. For a two-stage detector with an RPN, the RPN convs run on the
    features and the RoI head on exactly ``num_proposals`` boxes (default:
    the RPN's ``test_cfg.max_per_img``, the test-time maximum; the real
    count after NMS can be lower), so the count does not depend on the
    random weights.

    Args:
        shape (Sequence[int]): ``(H, W)`` of the image before padding.
        num_proposals (int, optional): Proposals for the RoI head.
    """
    height, width = (int(s) for s in shape)

    def run(model: nn.Module):
        from mmdet.models.detectors import TwoStageDetector
        from mmdet.structures import DetDataSample
        from mmengine.structures import InstanceData
        gen = torch.Generator().manual_seed(0)
        image = torch.rand(3, height, width, generator=gen) * 255
        sample = DetDataSample(metainfo=dict(
            img_shape=(height, width), ori_shape=(height, width),
            scale_factor=(1.0, 1.0)))
        data = model.data_preprocessor(
            dict(inputs=[image], data_samples=[sample]), False)
        inputs, samples = data['inputs'], data['data_samples']
        if not (isinstance(model, TwoStageDetector) and model.with_rpn):
            model._forward(inputs, samples)
            return tuple(inputs.shape), None
        count = num_proposals
        if count is None:
            test_cfg = model.rpn_head.test_cfg or {}
            if 'max_per_img' not in test_cfg:
                raise ValueError(
                    'num_proposals is needed: the RPN has no '
                    'test_cfg.max_per_img')
            count = int(test_cfg['max_per_img'])
        feats = model.extract_feat(inputs)
        model.rpn_head(feats)
        proposals = InstanceData(bboxes=_dummy_proposals(
            count, height, width, inputs.device))
        model.roi_head.forward(feats, [proposals], samples)
        return tuple(inputs.shape), count

    return run


def _find_resize_scale(pipeline) -> Optional[Tuple[int, int]]:
    for step in pipeline or []:
        if str(step.get('type', '')).split('.')[-1] == 'Resize' and \
                step.get('scale') is not None:
            scale = step['scale']
            if isinstance(scale, int):
                return scale, scale
            return int(scale[1]), int(scale[0])  # mmdet scale is (w, h)
    return None


def default_input_shape(cfg) -> Tuple[int, int]:
    """``(H, W)`` from the ``scale`` of the config's test-time ``Resize``
    (the largest image the test pipeline produces), else
    :data:`FALLBACK_SHAPE`."""
    dataset = cfg.get('test_dataloader', {}).get('dataset', {})
    while isinstance(dataset, dict) and 'pipeline' not in dataset and \
            'dataset' in dataset:  # dataset wrappers
        dataset = dataset['dataset']
    for pipeline in (dataset.get('pipeline') if isinstance(dataset, dict)
                     else None, cfg.get('test_pipeline')):
        shape = _find_resize_scale(pipeline)
        if shape is not None:
            return shape
    return FALLBACK_SHAPE


def build_model_from_config(config: str,
                            cfg_options: Optional[dict] = None):
    """Load ``config`` (as ``tools/train.py`` does) and build its model.

    Returns:
        tuple: ``(cfg, model)``; the model keeps its initial weights
        (counts do not depend on them).
    """
    cfg = load_config(config, cfg_options)
    return cfg, build_detector(cfg)


def config_complexity(config: str,
                      shape: Optional[Sequence[int]] = None,
                      cfg_options: Optional[dict] = None,
                      num_proposals: Optional[int] = None
                      ) -> ModelComplexity:
    """Complexity of the detector a config builds.

    Args:
        config (str): Config path.
        shape (Sequence[int], optional): ``(H, W)`` of the dummy image;
            default :func:`default_input_shape`.
        cfg_options (dict, optional): Overrides, as ``--cfg-options``.
        num_proposals (int, optional): See :func:`detector_forward`.
    """
    cfg, model = build_model_from_config(config, cfg_options)
    if shape is None:
        shape = default_input_shape(cfg)
    if len(shape) != 2 or min(shape) < 1:
        raise ValueError(f'shape must be (H, W) with H, W >= 1, got {shape}')
    if num_proposals is not None and num_proposals < 1:
        raise ValueError(
            f'num_proposals must be >= 1, got num_proposals={num_proposals}')
    return count_complexity(model, detector_forward(shape, num_proposals))


def _human(value: float, unit: str = '') -> str:
    for factor, prefix in ((1e12, 'T'), (1e9, 'G'), (1e6, 'M'), (1e3, 'K')):
        if abs(value) >= factor:
            return f'{value / factor:.2f}{prefix}{unit}'
    if float(value).is_integer():
        return f'{int(value)}{unit}'
    return f'{value:.2f}{unit}'


def format_table(result: ModelComplexity) -> str:
    """The per-layer table and the totals as text."""
    header = ('layer', 'type', 'precision', 'w-bits', 'calls', 'params',
              'BOPs', 'FLOPs')
    rows = [(layer.name, layer.type, layer.precision, str(layer.weight_bits),
             str(layer.calls), _human(layer.params), _human(layer.bops),
             _human(layer.flops)) for layer in result.layers]
    rows.append(('(other: BN, activations, ...)', '', REAL, '32', '',
                 _human(result.other_params), '', ''))
    widths = [max(len(row[i]) for row in rows + [header])
              for i in range(len(header))]

    def line(row):
        return '  '.join(
            cell.ljust(w) if i < 3 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths)))

    rule = '-' * len(line(header))
    totals = result.totals()
    shape = 'x'.join(str(s) for s in result.input_shape)
    summary = [
        f'input shape          : {shape}',
        f'binary params (1 bit): {_human(totals["binary_params"])}',
        f'real params (32 bit) : {_human(totals["real_params"])}',
        f'training-only params : {_human(totals["training_only_params"])}'
        ' (SURGE W_a, StoMPP state; dropped at export)',
        f'deploy size          : {_human(totals["deploy_bytes"], "B")} '
        f'(fp32: {_human(totals["fp32_bytes"], "B")}, '
        f'{totals["fp32_bytes"] / max(totals["deploy_bytes"], 1):.1f}x)',
        f'BOPs                 : {_human(totals["bops"])}',
        f'FLOPs                : {_human(totals["flops"])}',
        f'OPs = BOPs/64 + FLOPs: {_human(totals["ops"])}',
    ]
    if result.num_proposals is not None:
        summary.insert(1, f'RoI head proposals   : {result.num_proposals}')
    return '\n'.join([line(header), rule] + [line(r) for r in rows] +
                     [rule] + summary)
