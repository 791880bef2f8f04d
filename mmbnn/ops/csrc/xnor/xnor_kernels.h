// Copyright (c) mmbnn contributors. All rights reserved.
//
// Packed XNOR-popcount binary convolution: data layouts and the per-ISA entry
// points. This header is torch-free on purpose: the AVX2 / AVX-512 sources
// include no torch header, and only their functions marked with a `target`
// attribute use the wider instruction sets, so no inline function shared
// with the rest of the program is ever compiled for them.
//
// Bit encoding: a set bit is -1, a clear bit is +1, so for two words
// dot(a, b) = bits - 2 * popcount(a ^ b).
//
// Packed activation (uint64): (N, H + 2 * pad_h, W + 2 * pad_w, groups, words)
//   with words = ceil(C_group / 64); channel c of a group is bit c % 64 of
//   word c / 64; bits past C_group and every padded position are 0 (+1).
// Packed weight (int64): (ceil(O / 8), taps * words + taps, 8) where
//   taps = kh * kw. Row t * words + w of block b holds word w of tap t of the
//   eight output channels 8b..8b+7 (lane = channel % 8); the last `taps` rows
//   hold each tap's sum of weights, sum_c W[o, c, tap] (padded lanes are 0).
//
// Zero padding is exact through a correction: the kernel counts every tap,
// padded ones included (they read +1 and so add their weight sum to the dot
// product), then subtracts the weight sums of the padded taps of the
// border positions: dot = bits - 2 * popcount - sum_{padded taps} tap_sum.
#pragma once

#include <cstdint>

namespace mmbnn {
namespace xnor {

constexpr int64_t kLanes = 8;  // output channels per weight block

struct PackArgs {
  const float* x;          // (N, C, H, W), contiguous
  const float* threshold;  // (C,); x - threshold >= 0 reads +1
  uint64_t* act;           // packed activation, see above
  int64_t batch, channels, height, width;
  int64_t pad_h, pad_w, padded_h, padded_w;
  int64_t groups, group_channels, words;
};

struct ConvArgs {
  const uint64_t* act;        // packed activation
  const uint64_t* weight;     // packed weight
  const int64_t* tap_offset;  // (taps * words,) word offset of each k-row
  const int32_t* row_range;   // (out_h, 2): in-bounds ky in [lo, hi)
  const int32_t* col_range;   // (out_w, 2): in-bounds kx in [lo, hi)
  // the same, numbered: rows (columns) with equal ranges share a class
  const int32_t* row_class;   // (out_h,)
  const int32_t* col_class;   // (out_w,)
  const int32_t* row_class_range;  // (row_classes, 2)
  const int32_t* col_class_range;  // (col_classes, 2)
  int64_t row_classes, col_classes;
  const float* scale;         // (O,) or nullptr
  const float* bias;          // (O,) or nullptr
  // fused epilogue, after the bias: y += residual, then (when act_slope)
  // y = PReLU(y - act_shift_in, act_slope) + act_shift_out
  // (N, R, out_h, out_w) or nullptr; R divides O and channel oc reads
  // residual channel oc % R (R < O: the input repeated along channels)
  const float* residual;
  int64_t residual_channels;
  const float* act_shift_in;  // (O,) or nullptr
  const float* act_slope;     // (O,) or nullptr (no activation)
  const float* act_shift_out; // (O,) or nullptr
  float* out;                 // (N, O, out_h, out_w)
  int64_t batch, groups, words, out_channels, group_out_channels, blocks;
  int64_t padded_h, padded_w, out_h, out_w, stride_h, stride_w;
  int64_t kernel_h, kernel_w;
  int64_t krows;              // taps * words: bit rows per weight block
  int64_t block_stride;       // rows per weight block (krows + taps)
  int64_t bits;               // taps * C_group: the dot product's length
};

// Packs rows [begin, end) of the N * padded_h padded rows.
using PackFn = void (*)(const PackArgs&, int64_t, int64_t);
// Computes tasks [begin, end) of N * ceil(O / 8) * out_h (n, block, row).
using ConvFn = void (*)(const ConvArgs&, int64_t, int64_t);

void pack_rows_scalar(const PackArgs& args, int64_t begin, int64_t end);
void conv_rows_scalar(const ConvArgs& args, int64_t begin, int64_t end);
// The SIMD entry points exist on every build; on a non-x86 build they are
// never selected (see simd_supported in xnor_ext.cpp).
void pack_rows_avx2(const PackArgs& args, int64_t begin, int64_t end);
void conv_rows_avx2(const ConvArgs& args, int64_t begin, int64_t end);
void pack_rows_avx512(const PackArgs& args, int64_t begin, int64_t end);
void conv_rows_avx512(const ConvArgs& args, int64_t begin, int64_t end);

// ---- helpers shared by all paths (baseline instruction set) ----

inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

// Offset of padded position (n, y, x), group g, word 0, in words.
inline int64_t act_index(const PackArgs& a, int64_t n, int64_t y, int64_t x) {
  return ((n * a.padded_h + y) * a.padded_w + x) * a.groups * a.words;
}

// Zeroes the padding of padded row `row` (= n * padded_h + y); returns
// whether the row holds input pixels (then columns [pad_w, pad_w + W) are
// left for the caller to fill).
inline bool clear_row_padding(const PackArgs& a, int64_t row) {
  const int64_t n = row / a.padded_h, y = row % a.padded_h;
  const int64_t gw = a.groups * a.words;
  uint64_t* dst = a.act + act_index(a, n, y, 0);
  if (y < a.pad_h || y >= a.pad_h + a.height) {
    for (int64_t i = 0; i < a.padded_w * gw; ++i) dst[i] = 0;
    return false;
  }
  for (int64_t i = 0; i < a.pad_w * gw; ++i) dst[i] = 0;
  uint64_t* right = dst + (a.pad_w + a.width) * gw;
  for (int64_t i = 0; i < a.pad_w * gw; ++i) right[i] = 0;
  return true;
}

// Width of the tiles an output row is cut into: at most max_tile, as even
// as possible (14 -> 7 + 7 rather than 8 + 6).
inline int64_t tile_width(int64_t out_w, int64_t max_tile) {
  const int64_t tiles = (out_w + max_tile - 1) / max_tile;
  return (out_w + tiles - 1) / tiles;
}

// A task: output row oy of weight block `block` of image n. Tasks are
// numbered ((n * blocks) + block) * out_h + oy.
struct Task {
  int64_t n, block, oy;
};
inline Task decode_task(const ConvArgs& a, int64_t t) {
  Task task;
  task.oy = t % a.out_h;
  t /= a.out_h;
  task.block = t % a.blocks;
  task.n = t / a.blocks;
  return task;
}
inline void next_task(const ConvArgs& a, Task* task) {
  if (++task->oy < a.out_h) return;
  task->oy = 0;
  if (++task->block < a.blocks) return;
  task->block = 0;
  ++task->n;
}

// The bit rows and the tap-sum rows (8 lanes each) of a weight block.
inline const uint64_t* block_bits(const ConvArgs& a, int64_t block) {
  return a.weight + block * a.block_stride * kLanes;
}
inline const int64_t* block_tap_sums(const ConvArgs& a, int64_t block) {
  return reinterpret_cast<const int64_t*>(block_bits(a, block) +
                                          a.krows * kLanes);
}

// Whether output (oy, ox) has padded taps; then `range` gets the in-bounds
// tap rectangle {ky_lo, ky_hi, kx_lo, kx_hi}.
inline bool on_border(const ConvArgs& a, int64_t oy, int64_t ox,
                      int64_t* range) {
  range[0] = a.row_range[2 * oy];
  range[1] = a.row_range[2 * oy + 1];
  range[2] = a.col_range[2 * ox];
  range[3] = a.col_range[2 * ox + 1];
  return range[0] != 0 || range[1] != a.kernel_h || range[2] != 0 ||
         range[3] != a.kernel_w;
}

inline bool is_padded_tap(const int64_t* range, int64_t ky, int64_t kx) {
  return ky < range[0] || ky >= range[1] || kx < range[2] || kx >= range[3];
}

// offsets[j * 8 + l] = bits - (weight sums of the padded taps of output
// (oy, ox0 + j)) for lane l of the block: the dot product is then
// offsets - 2 * popcount.
inline void tile_offsets(const ConvArgs& a, int64_t block, int64_t oy,
                         int64_t ox0, int64_t nr, int64_t* offsets) {
  const int64_t* sums = block_tap_sums(a, block);
  for (int64_t j = 0; j < nr; ++j) {
    int64_t* offset = offsets + j * kLanes;
    int64_t range[4];
    for (int64_t l = 0; l < kLanes; ++l) offset[l] = a.bits;
    if (!on_border(a, oy, ox0 + j, range)) continue;
    for (int64_t ky = 0; ky < a.kernel_h; ++ky)
      for (int64_t kx = 0; kx < a.kernel_w; ++kx)
        if (is_padded_tap(range, ky, kx))
          for (int64_t l = 0; l < kLanes; ++l)
            offset[l] -= sums[(ky * a.kernel_w + kx) * kLanes + l];
  }
}

// The fused epilogue on output row task.oy of the block's channels, already
// scaled and biased: + residual, then RPReLU. One rounding per operation,
// in torch's order (`y + r`, `- shift_in`, `x > 0 ? x : w * x`,
// `+ shift_out`), while the row is still in cache. Called once per task,
// after all its tiles.
template <bool kResidual, bool kAct, bool kShiftIn, bool kShiftOut>
inline void finish_task_impl(const ConvArgs& a, const Task& task) {
  const int64_t oc0 = task.block * kLanes;
  const int64_t oc1 = min64(oc0 + kLanes, a.out_channels);
  const int64_t width = a.out_w;
  const int64_t rc = a.residual_channels;
  for (int64_t oc = oc0; oc < oc1; ++oc) {
    float* __restrict__ dst =
        a.out + ((task.n * a.out_channels + oc) * a.out_h + task.oy) * width;
    const float* __restrict__ res =
        kResidual ? a.residual + ((task.n * rc + oc % rc) * a.out_h +
                                  task.oy) * width
                  : nullptr;
    const float shift_in = kShiftIn ? a.act_shift_in[oc] : 0.0f;
    const float slope = kAct ? a.act_slope[oc] : 0.0f;
    const float shift_out = kShiftOut ? a.act_shift_out[oc] : 0.0f;
    // one pass, the roundings of torch's separate operations
    for (int64_t j = 0; j < width; ++j) {
      float y = dst[j];
      if (kResidual) y = y + res[j];
      if (kAct) {
        if (kShiftIn) y = y - shift_in;
        y = y > 0.0f ? y : slope * y;
        if (kShiftOut) y = y + shift_out;
      }
      dst[j] = y;
    }
  }
}

inline void finish_task(const ConvArgs& a, const Task& task) {
  using Fn = void (*)(const ConvArgs&, const Task&);
  // [residual][act][shift_in][shift_out]; the shifts only with act
  static constexpr Fn kFns[2][2][2][2] = {
      {{{nullptr, nullptr}, {nullptr, nullptr}},
       {{finish_task_impl<false, true, false, false>,
         finish_task_impl<false, true, false, true>},
        {finish_task_impl<false, true, true, false>,
         finish_task_impl<false, true, true, true>}}},
      {{{finish_task_impl<true, false, false, false>, nullptr},
        {nullptr, nullptr}},
       {{finish_task_impl<true, true, false, false>,
         finish_task_impl<true, true, false, true>},
        {finish_task_impl<true, true, true, false>,
         finish_task_impl<true, true, true, true>}}}};
  const bool act = a.act_slope != nullptr;
  const Fn fn = kFns[a.residual != nullptr][act][act && a.act_shift_in]
                    [act && a.act_shift_out];
  if (fn) fn(a, task);
}

// Writes an 8-lane x nr tile of popcount sums (tile[j * 8 + l] = lane l at
// position ox0 + j) for the lanes of group g: dot product, then scale, bias.
inline void store_tile(const ConvArgs& a, const Task& task, int64_t group,
                       int64_t ox0, int64_t nr, const int64_t* tile) {
  const int64_t oc0 = task.block * kLanes;
  int64_t offsets[16 * kLanes];  // nr <= 16
  tile_offsets(a, task.block, task.oy, ox0, nr, offsets);
  for (int64_t l = 0; l < kLanes; ++l) {
    const int64_t oc = oc0 + l;
    if (oc >= a.out_channels || oc / a.group_out_channels != group) continue;
    float* dst =
        a.out + ((task.n * a.out_channels + oc) * a.out_h + task.oy) * a.out_w;
    for (int64_t j = 0; j < nr; ++j) {
      const int64_t dot =
          offsets[j * kLanes + l] - 2 * tile[j * kLanes + l];
      float y = static_cast<float>(dot);
      // two roundings, no fma (built with -ffp-contract=off): same as
      // torch's `d * scale + bias`
      if (a.scale) y = y * a.scale[oc];
      if (a.bias) y = y + a.bias[oc];
      dst[ox0 + j] = y;
    }
  }
}

// First and last group of the output channels of a weight block.
inline void block_groups(const ConvArgs& a, int64_t block, int64_t* first,
                         int64_t* last) {
  const int64_t oc0 = block * kLanes;
  const int64_t oc1 = min64(oc0 + kLanes, a.out_channels) - 1;
  *first = oc0 / a.group_out_channels;
  *last = oc1 / a.group_out_channels;
}

}  // namespace xnor
}  // namespace mmbnn
