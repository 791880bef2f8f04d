# Copyright (c) mmbnn contributors. All rights reserved.
"""benchmark_binary_conv: one row per layer shape, the backbone pair and
mmdet's FP32 ResNet against the deploy backbone (unfused and fused), from
real timings."""
import pytest

from mmbnn.analysis.benchmark_binary_conv import (benchmark_binary_conv,
                                                  format_table)
from mmbnn.ops import xnor


@pytest.mark.skipif(not xnor.is_available(), reason='kernel not built')
def test_rows_and_facts():
    result = benchmark_binary_conv(((64, 8), ), backbone_depth=18,
                                   image_size=64, repeats=1, warmup=0)
    names = [row['name'] for row in result['rows']]
    assert names == ['64@8x8', 'BiRealResNet-18 backbone 1x3x64x64',
                     'BiRealResNet-18 backbone, fused deploy',
                     'mmdet ResNet-18 FP32 vs BiRealResNet-18 deploy',
                     'mmdet ResNet-18 FP32 vs BiRealResNet-18 fused deploy']
    for row in result['rows']:
        assert row['float_ms'] > 0 and row['packed_ms'] > 0
        assert row['speedup'] == pytest.approx(row['float_ms'] /
                                               row['packed_ms'])
    assert result['backbone']['packed_layers'] == 16
    assert result['backbone']['uses_kernel']
    assert result['simd'] in xnor.SIMD_PATHS
    assert format_table(result).count('\n') == 1 + len(names)
