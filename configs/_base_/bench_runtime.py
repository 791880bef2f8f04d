# Runtime of the GlyphBench runs: the demo's, with a checkpoint every epoch
# (only the latest kept) so an interrupted run resumes where it stopped.
_base_ = './demo_runtime.py'

default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=1,
                    save_last=True))
