# Runtime of the image classification configs: MMEngine's hooks (no
# detection visualizer), scalars to the visualizer's backends, mmbnn's
# registrations, mmdet's default scope (where mmbnn registers its models,
# datasets, transforms and metrics).
default_scope = 'mmdet'
custom_imports = dict(imports=['mmbnn'], allow_failed_imports=False)

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=1,
                    save_last=True),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    # checkpoints carry the random state: a resumed run is the same run
    rng_state=dict(type='RNGStateHook'),
    # NaN/Inf activations reaching a binary conv stop the run (sign would
    # hide them); nonfinite_check=None switches the check off
    nonfinite_check=dict(type='NonFiniteCheckHook'))
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'))
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='Visualizer', vis_backends=vis_backends,
                  name='visualizer')
log_processor = dict(type='LogProcessor', window_size=50, by_epoch=True)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0)
