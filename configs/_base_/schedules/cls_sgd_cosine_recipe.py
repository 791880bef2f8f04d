# The IR-Net / ReCU classification recipe that SURGE's tables follow, over a
# classification config's own epochs: SGD momentum 0.9, lr 0.1, weight decay
# 1e-4, a linear warm-up (100 iterations from 1% of the lr: the papers give
# no length) and cosine decay to 0. Only variables; a config over a
# classification config applies them with
#   optim_wrapper = {{_base_.sgd_cosine_optim_wrapper}}
#   param_scheduler = {{_base_.sgd_cosine_param_scheduler}}
# The cosine spans sgd_cosine_epochs (6, GlyphCls); over a schedule of
# another length, set param_scheduler[1].end in the config as well.
sgd_cosine_epochs = 6
sgd_cosine_optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=1e-4))
sgd_cosine_param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0,
         end=100),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0,
         end=sgd_cosine_epochs, eta_min=0.0, convert_to_iter_based=True)
]
