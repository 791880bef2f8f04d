// Copyright (c) mmbnn contributors. All rights reserved.
//
// AVX-512 path (AVX512F + VL + VPOPCNTDQ). Only the functions below carry
// the target attribute, so the rest of the build stays portable; the
// dispatcher calls them only on CPUs that report all three features.
#include "xnor_kernels.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#include <vector>

// GCC 12 reports its own _mm512_undefined_* helpers as uninitialized
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#define MMBNN_AVX512 \
  __attribute__((target("avx512f,avx512vl,avx512vpopcntdq")))

namespace mmbnn {
namespace xnor {
namespace {

constexpr int kMaxTile = 8;  // output positions per tile (accumulators)
constexpr int64_t kPackAhead = 2;  // rows the packing prefetches ahead

// Packs channel word (g, w) of input row (n, y), 16 pixels at a time: one
// 16-lane compare per channel, whose mask ORs the channel's bit into the 16
// pixel words held in two registers. The 64 channel rows read here are 64
// short runs in 64 planes, too many streams for the hardware prefetchers,
// so the same pixels kPackAhead rows below are prefetched by hand.
MMBNN_AVX512 void pack_word(const PackArgs& a, int64_t n, int64_t y, int64_t g,
                            int64_t w) {
  const int64_t c0 = g * a.group_channels + w * 64;
  const int64_t count = min64(64, a.group_channels - w * 64);
  const int64_t gw = a.groups * a.words;
  uint64_t* dst = a.act + act_index(a, n, y + a.pad_h, a.pad_w) + g * a.words + w;
  const float* src0 = a.x + ((n * a.channels + c0) * a.height + y) * a.width;
  const int64_t plane = a.height * a.width;
  const __m512 zero = _mm512_setzero_ps();
  for (int64_t x0 = 0; x0 < a.width; x0 += 16) {
    const int64_t m = min64(16, a.width - x0);
    const __mmask16 valid = static_cast<__mmask16>((1u << m) - 1u);
    __m512i lo = _mm512_setzero_si512(), hi = _mm512_setzero_si512();
    __m512i bit = _mm512_set1_epi64(1);
    for (int64_t i = 0; i < count; ++i, bit = _mm512_slli_epi64(bit, 1)) {
      const __m512 v = _mm512_maskz_loadu_ps(valid, src0 + i * plane + x0);
      if (y + kPackAhead < a.height)
        _mm_prefetch(reinterpret_cast<const char*>(
                         src0 + i * plane + kPackAhead * a.width + x0),
                     _MM_HINT_T0);
      const __m512 d = _mm512_sub_ps(v, _mm512_set1_ps(a.threshold[c0 + i]));
      // bit set (-1) unless (x - t) >= 0; NaN reads -1 as in torch.where
      const __mmask16 neg = _mm512_cmp_ps_mask(d, zero, _CMP_NGE_UQ);
      lo = _mm512_mask_or_epi64(lo, static_cast<__mmask8>(neg), lo, bit);
      hi = _mm512_mask_or_epi64(hi, static_cast<__mmask8>(neg >> 8), hi, bit);
    }
    if (gw == 1) {
      _mm512_mask_storeu_epi64(dst + x0, static_cast<__mmask8>(valid), lo);
      _mm512_mask_storeu_epi64(dst + x0 + 8, static_cast<__mmask8>(valid >> 8),
                               hi);
    } else {
      alignas(64) uint64_t words[16];
      _mm512_store_si512(words, lo);
      _mm512_store_si512(words + 8, hi);
      for (int64_t j = 0; j < m; ++j) dst[(x0 + j) * gw] = words[j];
    }
  }
}

// Epilogue of a tile, 8 channels x 2 positions per register: dot =
// offset - 2 * popcount, with the offset of the position's padding class
// (bits minus the weight sums of its padded taps), then * scale, + bias.
// The values are then copied out channel by channel (loads and stores only,
// off the vector ports the popcount loop saturates).
template <int NR>
MMBNN_AVX512 void store_tile(const ConvArgs& a, const Task& task, int64_t group,
                             int64_t ox0, const int64_t* class_offsets,
                             const __m512i* acc) {
  const int64_t oc0 = task.block * kLanes;
  const int64_t lane_lo = group * a.group_out_channels - oc0;
  const int64_t lane_hi = min64(min64((group + 1) * a.group_out_channels,
                                      a.out_channels) - oc0, kLanes);
  const __mmask8 lanes = static_cast<__mmask8>(
      ((1u << lane_hi) - 1u) & ~((1u << (lane_lo > 0 ? lane_lo : 0)) - 1u));
  // two positions per register: 32-bit lane 2l + i holds channel l of
  // position 2p + i, so scale and bias are duplicated pairwise
  const __m512i pairwise = _mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5,
                                             5, 6, 6, 7, 7);
  const __m512 scale = _mm512_permutexvar_ps(
      pairwise, _mm512_castps256_ps512(
                    a.scale ? _mm256_maskz_loadu_ps(lanes, a.scale + oc0)
                            : _mm256_setzero_ps()));
  const __m512 bias = _mm512_permutexvar_ps(
      pairwise, _mm512_castps256_ps512(
                    a.bias ? _mm256_maskz_loadu_ps(lanes, a.bias + oc0)
                           : _mm256_setzero_ps()));
  const __m512i low32 = _mm512_set1_epi64(0xffffffffLL);
  constexpr int kPairs = (NR + 1) / 2;
  alignas(64) float values[kPairs * 2 * kLanes];
#pragma GCC unroll 16
  for (int p = 0; p < kPairs; ++p) {
    __m512i dot[2];
#pragma GCC unroll 2
    for (int i = 0; i < 2; ++i) {
      const int j = 2 * p + i;
      if (j >= NR) {
        dot[i] = _mm512_setzero_si512();
        continue;
      }
      const __m512i offset = _mm512_load_si512(
          class_offsets + a.col_class[ox0 + j] * kLanes);
      dot[i] = _mm512_sub_epi64(offset, _mm512_slli_epi64(acc[j], 1));
    }
    // low 32 bits of dot[0] | dot[1] << 32 (|dot| < 2^30)
    const __m512i both = _mm512_ternarylogic_epi64(
        dot[0], _mm512_slli_epi64(dot[1], 32), low32, 0xEC);
    __m512 y = _mm512_cvtepi32_ps(both);
    // two roundings, as torch's `d * scale + bias`
    if (a.scale) y = _mm512_mul_ps(y, scale);
    if (a.bias) y = _mm512_add_ps(y, bias);
    _mm512_store_ps(values + p * 2 * kLanes, y);
  }
  float* dst = a.out +
      ((task.n * a.out_channels + oc0) * a.out_h + task.oy) * a.out_w + ox0;
  const int64_t plane = a.out_h * a.out_w;
  for (int64_t l = lane_lo > 0 ? lane_lo : 0; l < lane_hi; ++l) {
    float* row = dst + l * plane;
    for (int p = 0; p < NR / 2; ++p) {
      uint64_t two;  // positions 2p, 2p + 1 of channel l
      __builtin_memcpy(&two, values + p * 2 * kLanes + 2 * l, 8);
      __builtin_memcpy(row + 2 * p, &two, 8);
      // keep this copy scalar (the empty asm stops the vectorizer): as
      // vector code it becomes shuffles on the port the popcounts need
      __asm__ volatile("");
    }
    if (NR % 2) row[NR - 1] = values[(kPairs - 1) * 2 * kLanes + 2 * l];
  }
}

// One 8-channel x NR-position tile: per k-row, XOR the 8 weight words with
// each position's (broadcast) activation word and add the popcounts.
template <int NR>
MMBNN_AVX512 void conv_tile(const ConvArgs& a, const Task& task, int64_t group,
                            int64_t ox0, const int64_t* class_offsets) {
  const int64_t gw = a.groups * a.words;
  const uint64_t* base = a.act +
      ((task.n * a.padded_h + task.oy * a.stride_h) * a.padded_w +
       ox0 * a.stride_w) * gw + group * a.words;
  const int64_t step = a.stride_w * gw;
  const uint64_t* weight = block_bits(a, task.block);
  // one pointer per position: the k-row offset then goes into the address
  // (base + index * 8), leaving the vector ports to xor/popcount/add
  const uint64_t* src[NR];
  __m512i acc[NR];
#pragma GCC unroll 16
  for (int j = 0; j < NR; ++j) {
    src[j] = base + j * step;
    acc[j] = _mm512_setzero_si512();
  }
  const int64_t* tap_offset = a.tap_offset;
  for (int64_t k = 0; k < a.krows; ++k) {
    const __m512i w = _mm512_loadu_si512(weight + k * kLanes);
    const int64_t offset = tap_offset[k];
#pragma GCC unroll 16
    for (int j = 0; j < NR; ++j) {
      const __m512i v =
          _mm512_set1_epi64(static_cast<long long>(src[j][offset]));
      acc[j] = _mm512_add_epi64(
          acc[j], _mm512_popcnt_epi64(_mm512_xor_si512(w, v)));
    }
  }
  store_tile<NR>(a, task, group, ox0, class_offsets, acc);
}

using TileFn = void (*)(const ConvArgs&, const Task&, int64_t, int64_t,
                       const int64_t*);
constexpr TileFn kTiles[kMaxTile + 1] = {
    nullptr,       conv_tile<1>, conv_tile<2>, conv_tile<3>, conv_tile<4>,
    conv_tile<5>, conv_tile<6>, conv_tile<7>, conv_tile<8>};

// offsets[(r * col_classes + c) * 8 + l] = bits - (weight sums of the taps
// that are padded for row class r and column class c), lane l of `block`:
// the dot product of an output of those classes is offset - 2 * popcount.
MMBNN_AVX512 void class_offsets(const ConvArgs& a, int64_t block,
                                int64_t* offsets) {
  const int64_t* sums = block_tap_sums(a, block);
  for (int64_t r = 0; r < a.row_classes; ++r)
    for (int64_t c = 0; c < a.col_classes; ++c) {
      const int64_t range[4] = {
          a.row_class_range[2 * r], a.row_class_range[2 * r + 1],
          a.col_class_range[2 * c], a.col_class_range[2 * c + 1]};
      __m512i offset = _mm512_set1_epi64(a.bits);
      for (int64_t ky = 0; ky < a.kernel_h; ++ky)
        for (int64_t kx = 0; kx < a.kernel_w; ++kx)
          if (is_padded_tap(range, ky, kx))
            offset = _mm512_sub_epi64(
                offset,
                _mm512_loadu_si512(sums + (ky * a.kernel_w + kx) * kLanes));
      _mm512_storeu_si512(offsets + (r * a.col_classes + c) * kLanes, offset);
    }
}

}  // namespace

MMBNN_AVX512 void pack_rows_avx512(const PackArgs& a, int64_t begin,
                                   int64_t end) {
  for (int64_t row = begin; row < end; ++row) {
    if (!clear_row_padding(a, row)) continue;
    const int64_t n = row / a.padded_h, y = row % a.padded_h - a.pad_h;
    for (int64_t g = 0; g < a.groups; ++g)
      for (int64_t w = 0; w < a.words; ++w) pack_word(a, n, y, g, w);
  }
}

MMBNN_AVX512 void conv_rows_avx512(const ConvArgs& a, int64_t begin,
                                   int64_t end) {
  const int64_t width = tile_width(a.out_w, kMaxTile);
  // per-class padding offsets of the current block, in 64-byte rows
  std::vector<int64_t> offsets(a.row_classes * a.col_classes * kLanes + 8);
  int64_t* table = reinterpret_cast<int64_t*>(
      (reinterpret_cast<uintptr_t>(offsets.data()) + 63) & ~uintptr_t{63});
  int64_t table_block = -1;
  Task task = decode_task(a, begin);
  for (int64_t t = begin; t < end; ++t, next_task(a, &task)) {
    if (task.block != table_block) {
      class_offsets(a, task.block, table);
      table_block = task.block;
    }
    const int64_t* row_table =
        table + a.row_class[task.oy] * a.col_classes * kLanes;
    int64_t first, last;
    block_groups(a, task.block, &first, &last);
    for (int64_t g = first; g <= last; ++g)
      for (int64_t ox = 0; ox < a.out_w; ox += width)
        kTiles[min64(width, a.out_w - ox)](a, task, g, ox, row_table);
    finish_task(a, task);
  }
}

}  // namespace xnor
}  // namespace mmbnn

#else  // not x86-64 GCC/Clang: never dispatched to

namespace mmbnn {
namespace xnor {
void pack_rows_avx512(const PackArgs& a, int64_t begin, int64_t end) {
  pack_rows_scalar(a, begin, end);
}
void conv_rows_avx512(const ConvArgs& a, int64_t begin, int64_t end) {
  conv_rows_scalar(a, begin, end);
}
}  // namespace xnor
}  // namespace mmbnn

#endif
