# StoMPP's "matched minimal training recipe": SGD momentum 0.9, constant lr
# 0.1, no weight decay, no lr decay. Only variables; a config over a
# classification config applies them with
#   optim_wrapper = {{_base_.minimal_optim_wrapper}}
#   param_scheduler = {{_base_.minimal_param_scheduler}}
minimal_optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=0.0))
minimal_param_scheduler = [
    dict(type='ConstantLR', factor=1.0, by_epoch=True, begin=0, end=1)
]
