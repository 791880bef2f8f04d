# Binary-network SSD schedule on COCO: schedule_ssd_coco.py with the BNN
# optimizer of the Faster R-CNN configs (AdamW lr 1e-3, no weight decay,
# gradient clipping; see schedule_bnn_voc_1x.py).
_base_ = './schedule_ssd_coco.py'

# SeparateClipOptimWrapper: the clipping norm covers the shared
# parameters only (SURGE's training-only W_a are clipped apart), so every
# training rule takes the same clipped step on them
optim_wrapper = dict(
    type='SeparateClipOptimWrapper',
    optimizer=dict(_delete_=True, type='AdamW', lr=1e-3, weight_decay=0.0),
    clip_grad=dict(max_norm=35, norm_type=2))
