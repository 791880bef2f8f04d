# Copyright (c) mmbnn contributors. All rights reserved.
"""mmdet 3.3.0's ``SSDHead`` with its prediction-time crash fixed.

``SSDHead.__init__`` skips ``AnchorHead.__init__``, so the head never gets
the ``loss_cls`` attribute that ``BaseDenseHead._predict_by_feat_single``
reads (``getattr(self.loss_cls, 'custom_cls_channels', False)``): predicting
raises ``AttributeError`` (open-mmlab/mmdetection#11780; the fix is
unmerged upstream). SSD computes its classification loss itself
(softmax cross-entropy with hard negative mining), so the attribute is only
read, never used: ``FixedSSDHead`` sets it to ``None``.
"""
from mmdet.models.dense_heads import SSDHead
from mmdet.registry import MODELS


@MODELS.register_module()
class FixedSSDHead(SSDHead):
    """``SSDHead`` that predicts: identical, plus ``loss_cls = None``.

    Use it as ``bbox_head=dict(type='FixedSSDHead', ...)`` with SSDHead's
    arguments.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not hasattr(self, 'loss_cls'):
            self.loss_cls = None
