# Copyright (c) mmbnn contributors. All rights reserved.
"""The text report of a complexity count: the per-layer table and the
totals, numbers with K/M/G/T prefixes."""
from .results import REAL, ModelComplexity


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
