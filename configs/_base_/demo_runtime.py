# default_runtime for the short CPU demo runs: log every 10 iterations,
# keep only the final checkpoint, fixed seed.
_base_ = './default_runtime.py'

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=10),
    checkpoint=dict(type='CheckpointHook', interval=1000, max_keep_ckpts=1,
                    save_last=True))
randomness = dict(seed=0)
