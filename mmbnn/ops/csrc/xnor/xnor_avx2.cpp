// Copyright (c) mmbnn contributors. All rights reserved.
//
// AVX2 path: no vector popcount, so bytes are counted with a 16-entry
// nibble table (vpshufb) into byte accumulators that are widened with
// vpsadbw before they can overflow. Only these functions carry the target
// attribute; the dispatcher calls them only on CPUs that report AVX2.
#include "xnor_kernels.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define MMBNN_AVX2 __attribute__((target("avx2")))

namespace mmbnn {
namespace xnor {
namespace {

constexpr int kMaxTile = 4;        // output positions per tile
constexpr int64_t kByteRun = 31;   // k-rows a byte counter holds (31 * 8 < 256)

MMBNN_AVX2 inline __m256i popcount_bytes(__m256i v, __m256i table,
                                         __m256i nibble) {
  const __m256i lo = _mm256_and_si256(v, nibble);
  const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), nibble);
  return _mm256_add_epi8(_mm256_shuffle_epi8(table, lo),
                         _mm256_shuffle_epi8(table, hi));
}

// Packs channel word (g, w) of input row (n, y), 8 pixels at a time.
MMBNN_AVX2 void pack_word(const PackArgs& a, int64_t n, int64_t y, int64_t g,
                          int64_t w) {
  const int64_t c0 = g * a.group_channels + w * 64;
  const int64_t count = min64(64, a.group_channels - w * 64);
  const int64_t gw = a.groups * a.words;
  uint64_t* dst = a.act + act_index(a, n, y + a.pad_h, a.pad_w) + g * a.words + w;
  const float* src0 = a.x + ((n * a.channels + c0) * a.height + y) * a.width;
  const int64_t plane = a.height * a.width;
  const __m256 zero = _mm256_setzero_ps();
  for (int64_t x0 = 0; x0 < a.width; x0 += 8) {
    const int64_t m = min64(8, a.width - x0);
    __m256i lo = _mm256_setzero_si256(), hi = _mm256_setzero_si256();
    for (int64_t i = 0; i < count; ++i) {
      const float* src = src0 + i * plane + x0;
      __m256 v;
      if (m == 8) {
        v = _mm256_loadu_ps(src);
      } else {
        alignas(32) float buf[8] = {0};
        for (int64_t j = 0; j < m; ++j) buf[j] = src[j];
        v = _mm256_load_ps(buf);
      }
      const __m256 d = _mm256_sub_ps(v, _mm256_set1_ps(a.threshold[c0 + i]));
      // all-ones lanes where !(x - t >= 0), widened to 64-bit lanes
      const __m256i neg =
          _mm256_castps_si256(_mm256_cmp_ps(d, zero, _CMP_NGE_UQ));
      const __m256i bit = _mm256_set1_epi64x(static_cast<long long>(1ULL << i));
      lo = _mm256_or_si256(
          lo, _mm256_and_si256(
                  _mm256_cvtepi32_epi64(_mm256_castsi256_si128(neg)), bit));
      hi = _mm256_or_si256(
          hi, _mm256_and_si256(
                  _mm256_cvtepi32_epi64(_mm256_extracti128_si256(neg, 1)), bit));
    }
    alignas(32) uint64_t words[8];
    _mm256_store_si256(reinterpret_cast<__m256i*>(words), lo);
    _mm256_store_si256(reinterpret_cast<__m256i*>(words + 4), hi);
    for (int64_t j = 0; j < m; ++j) dst[(x0 + j) * gw] = words[j];
  }
}

template <int NR>
MMBNN_AVX2 void conv_tile(const ConvArgs& a, const Task& task, int64_t group,
                          int64_t ox0) {
  const __m256i table = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3,
                                         2, 3, 3, 4, 0, 1, 1, 2, 1, 2, 2, 3,
                                         1, 2, 2, 3, 2, 3, 3, 4);
  const __m256i nibble = _mm256_set1_epi8(0x0f);
  const __m256i zero = _mm256_setzero_si256();
  const int64_t gw = a.groups * a.words;
  const uint64_t* base = a.act +
      ((task.n * a.padded_h + task.oy * a.stride_h) * a.padded_w +
       ox0 * a.stride_w) * gw + group * a.words;
  const int64_t step = a.stride_w * gw;
  const uint64_t* weight = block_bits(a, task.block);
  __m256i total[2 * NR];
#pragma GCC unroll 16
  for (int i = 0; i < 2 * NR; ++i) total[i] = zero;
  for (int64_t k0 = 0; k0 < a.krows; k0 += kByteRun) {
    const int64_t k1 = min64(k0 + kByteRun, a.krows);
    __m256i bytes[2 * NR];
#pragma GCC unroll 16
    for (int i = 0; i < 2 * NR; ++i) bytes[i] = zero;
    for (int64_t k = k0; k < k1; ++k) {
      const __m256i* w = reinterpret_cast<const __m256i*>(weight + k * kLanes);
      const __m256i w0 = _mm256_loadu_si256(w), w1 = _mm256_loadu_si256(w + 1);
      const uint64_t* src = base + a.tap_offset[k];
#pragma GCC unroll 16
      for (int j = 0; j < NR; ++j) {
        const __m256i v =
            _mm256_set1_epi64x(static_cast<long long>(src[j * step]));
        bytes[2 * j] = _mm256_add_epi8(
            bytes[2 * j], popcount_bytes(_mm256_xor_si256(w0, v), table, nibble));
        bytes[2 * j + 1] = _mm256_add_epi8(
            bytes[2 * j + 1],
            popcount_bytes(_mm256_xor_si256(w1, v), table, nibble));
      }
    }
#pragma GCC unroll 16
    for (int i = 0; i < 2 * NR; ++i)
      total[i] = _mm256_add_epi64(total[i], _mm256_sad_epu8(bytes[i], zero));
  }
  alignas(32) int64_t tile[NR * kLanes];
#pragma GCC unroll 16
  for (int i = 0; i < 2 * NR; ++i)
    _mm256_store_si256(reinterpret_cast<__m256i*>(tile + 4 * i), total[i]);
  store_tile(a, task, group, ox0, NR, tile);
}

using TileFn = void (*)(const ConvArgs&, const Task&, int64_t, int64_t);
constexpr TileFn kTiles[kMaxTile + 1] = {nullptr, conv_tile<1>, conv_tile<2>,
                                         conv_tile<3>, conv_tile<4>};

}  // namespace

MMBNN_AVX2 void pack_rows_avx2(const PackArgs& a, int64_t begin, int64_t end) {
  for (int64_t row = begin; row < end; ++row) {
    if (!clear_row_padding(a, row)) continue;
    const int64_t n = row / a.padded_h, y = row % a.padded_h - a.pad_h;
    for (int64_t g = 0; g < a.groups; ++g)
      for (int64_t w = 0; w < a.words; ++w) pack_word(a, n, y, g, w);
  }
}

MMBNN_AVX2 void conv_rows_avx2(const ConvArgs& a, int64_t begin, int64_t end) {
  const int64_t width = tile_width(a.out_w, kMaxTile);
  Task task = decode_task(a, begin);
  for (int64_t t = begin; t < end; ++t, next_task(a, &task)) {
    int64_t first, last;
    block_groups(a, task.block, &first, &last);
    for (int64_t g = first; g <= last; ++g)
      for (int64_t ox = 0; ox < a.out_w; ox += width)
        kTiles[min64(width, a.out_w - ox)](a, task, g, ox);
    finish_task(a, task);
  }
}

}  // namespace xnor
}  // namespace mmbnn

#else  // not x86-64 GCC/Clang: never dispatched to

namespace mmbnn {
namespace xnor {
void pack_rows_avx2(const PackArgs& a, int64_t begin, int64_t end) {
  pack_rows_scalar(a, begin, end);
}
void conv_rows_avx2(const ConvArgs& a, int64_t begin, int64_t end) {
  conv_rows_scalar(a, begin, end);
}
}  // namespace xnor
}  // namespace mmbnn

#endif
