# Copyright (c) mmbnn contributors. All rights reserved.
"""Conversion of a trained model into its deploy (inference) form.

:func:`convert_to_deploy` replaces every ``BinaryConv`` that binarizes its
weights by a :class:`~mmbnn.deploy.PackedBinaryConv` (see
:mod:`mmbnn.deploy.packed_conv`), drops the training-only SURGE and StoMPP
state and, unless forced, refuses a model whose StoMPP schedule has not
finished (:func:`unfinished_progressive_layers`).
"""
from torch import nn

from ..ops.binary_conv import BinaryConv
from ..utils import check_choice, set_submodule
from .packed_conv import BACKENDS, PackedBinaryConv


def unfinished_progressive_layers(model: nn.Module) -> dict:
    """Binarized convs whose StoMPP rule is not at hard binary yet.

    Returns:
        dict: Layer name -> reason (weight/activation fraction below 1,
        or an evaluation rule that is not ``sign``).
    """
    unfinished = {}
    for name, module in model.named_modules():
        rule = getattr(module, 'progressive', None)
        if not isinstance(module, BinaryConv) or rule is None:
            continue
        reasons = rule.unfinished_reasons(weight=module.binarize_weight,
                                          act=module.binarize_act)
        if reasons:
            unfinished[name] = ', '.join(reasons)
    return unfinished


def convert_to_deploy(model: nn.Module,
                      backend: str = 'auto',
                      force: bool = False,
                      fuse: bool = False) -> nn.Module:
    """Turn a trained model into its inference form, in place.

    Every ``BinaryConv`` that binarizes its weights becomes a
    :class:`PackedBinaryConv`; SURGE auxiliary branches and StoMPP state are
    dropped (a ``BinaryConv`` that binarizes only its input keeps its
    float weights and loses them too); real-valued layers are untouched.

    Args:
        model (nn.Module): The trained model (any ``nn.Module``).
        backend (str): Backend of the packed convs, see :data:`BACKENDS`.
        force (bool): Convert even if a StoMPP schedule is not finished; the
            deploy model then binarizes entries that the trained model still
            used as real values, and predicts differently. Defaults to False.
        fuse (bool): Then fold BNs and fuse shortcut adds, activations and
            pooling (:func:`mmbnn.deploy.fusion.fuse_deploy_model`): faster,
            equal to float rounding per layer rather than bit-exact.
            Defaults to False.

    Returns:
        nn.Module: ``model`` itself, in eval mode.

    Raises:
        RuntimeError: If a StoMPP layer is not hard-binary yet and ``force``
            is False; the message names the layers.
    """
    check_choice('backend', backend, BACKENDS)
    unfinished = unfinished_progressive_layers(model)
    if unfinished and not force:
        listing = '\n'.join(f'  {name}: {why}'
                            for name, why in list(unfinished.items())[:10])
        more = len(unfinished) - 10
        raise RuntimeError(
            f'{len(unfinished)} StoMPP layer(s) are not binary yet (the '
            'progressive schedule has not finished, so their weights or '
            'activations are still partly real-valued):\n' + listing +
            (f'\n  ... and {more} more' if more > 0 else '') +
            '\nTrain to the end of the StoMPPHook schedule, or pass '
            'force=True (--force) to binarize them anyway.')
    convs = [(name, module) for name, module in model.named_modules()
             if isinstance(module, BinaryConv) and module.is_binary]
    for name, conv in convs:
        if conv.binarize_weight:
            set_submodule(model, name,
                          PackedBinaryConv.from_binary_conv(conv, backend))
        else:
            conv.compensator, conv.progressive = None, None
    model.eval()
    if fuse:
        from .fusion import fuse_deploy_model
        fuse_deploy_model(model)
    return model
