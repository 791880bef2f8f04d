// Copyright (c) mmbnn contributors. All rights reserved.
//
// Portable path: plain C++ with a SWAR popcount, no instruction-set
// assumption beyond the compiler's baseline.
#include "xnor_kernels.h"

namespace mmbnn {
namespace xnor {
namespace {

constexpr int64_t kScalarTile = 4;  // output positions per tile

inline uint64_t popcount64(uint64_t v) {
  v = v - ((v >> 1) & 0x5555555555555555ULL);
  v = (v & 0x3333333333333333ULL) + ((v >> 2) & 0x3333333333333333ULL);
  v = (v + (v >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
  return (v * 0x0101010101010101ULL) >> 56;
}

// Packs channel word (g, w) of every pixel of input row (n, y).
void pack_word(const PackArgs& a, int64_t n, int64_t y, int64_t g, int64_t w) {
  const int64_t c0 = g * a.group_channels + w * 64;
  const int64_t count = min64(64, a.group_channels - w * 64);
  const int64_t gw = a.groups * a.words;
  uint64_t* dst = a.act + act_index(a, n, y + a.pad_h, a.pad_w) + g * a.words + w;
  for (int64_t x = 0; x < a.width; ++x) dst[x * gw] = 0;
  for (int64_t i = 0; i < count; ++i) {
    const float* src = a.x + ((n * a.channels + c0 + i) * a.height + y) * a.width;
    const float t = a.threshold[c0 + i];
    for (int64_t x = 0; x < a.width; ++x) {
      // exactly the training layer's test: (x - t) >= 0 reads +1
      const uint64_t negative = (src[x] - t >= 0.0f) ? 0 : 1;
      dst[x * gw] |= negative << i;
    }
  }
}

void conv_tile(const ConvArgs& a, const Task& task, int64_t group, int64_t ox0,
               int64_t nr) {
  int64_t tile[kScalarTile * kLanes] = {0};
  const int64_t gw = a.groups * a.words;
  const uint64_t* base = a.act +
      ((task.n * a.padded_h + task.oy * a.stride_h) * a.padded_w +
       ox0 * a.stride_w) * gw + group * a.words;
  const int64_t step = a.stride_w * gw;
  const uint64_t* weight = block_bits(a, task.block);
  for (int64_t k = 0; k < a.krows; ++k) {
    const uint64_t* w = weight + k * kLanes;
    const uint64_t* src = base + a.tap_offset[k];
    for (int64_t j = 0; j < nr; ++j) {
      const uint64_t v = src[j * step];
      for (int64_t l = 0; l < kLanes; ++l)
        tile[j * kLanes + l] += popcount64(v ^ w[l]);
    }
  }
  store_tile(a, task, group, ox0, nr, tile);
}

}  // namespace

void pack_rows_scalar(const PackArgs& a, int64_t begin, int64_t end) {
  for (int64_t row = begin; row < end; ++row) {
    if (!clear_row_padding(a, row)) continue;
    const int64_t n = row / a.padded_h, y = row % a.padded_h - a.pad_h;
    for (int64_t g = 0; g < a.groups; ++g)
      for (int64_t w = 0; w < a.words; ++w) pack_word(a, n, y, g, w);
  }
}

void conv_rows_scalar(const ConvArgs& a, int64_t begin, int64_t end) {
  const int64_t width = tile_width(a.out_w, kScalarTile);
  Task task = decode_task(a, begin);
  for (int64_t t = begin; t < end; ++t, next_task(a, &task)) {
    int64_t first, last;
    block_groups(a, task.block, &first, &last);
    for (int64_t g = first; g <= last; ++g)
      for (int64_t ox = 0; ox < a.out_w; ox += width)
        conv_tile(a, task, g, ox, min64(width, a.out_w - ox));
    finish_task(a, task);
  }
}

}  // namespace xnor
}  // namespace mmbnn
