// Copyright (c) mmbnn contributors. All rights reserved.
//
// Torch bindings of the packed XNOR-popcount binary convolution: argument
// checks, weight packing, run-time SIMD dispatch and the parallel loops.
#include <ATen/Parallel.h>
#include <torch/extension.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cmath>
#include <limits>
#include <cstdlib>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "xnor_kernels.h"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace mmbnn {
namespace xnor {
namespace {

// SIMD paths, in the order of the Python names ('scalar', 'avx2',
// 'avx512_vpopcntdq').
enum SimdPath : int64_t { kScalar = 0, kAvx2 = 1, kAvx512 = 2 };

// Work (k-rows x output positions x 8-channel blocks) below which a call is
// not worth a parallel region.
constexpr int64_t kMinParallelWork = 32768;

bool simd_supported(int64_t path) {
  if (path == kScalar) return true;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  if (path == kAvx2) return __builtin_cpu_supports("avx2");
  if (path == kAvx512)
    return __builtin_cpu_supports("avx512f") &&
           __builtin_cpu_supports("avx512vl") &&
           __builtin_cpu_supports("avx512vpopcntdq");
#endif
  return false;
}

int64_t best_simd() {
  for (int64_t path : {kAvx512, kAvx2})
    if (simd_supported(path)) return path;
  return kScalar;
}

constexpr const char* kSimdEnv = "MMBNN_XNOR_SIMD";
constexpr const char* kSimdNames[] = {"scalar", "avx2", "avx512_vpopcntdq"};

// The path named by MMBNN_XNOR_SIMD (auto, scalar, avx2, avx512 or
// avx512_vpopcntdq), read on every call (getenv is cheap, and tests switch
// paths with it); unset or auto: the widest this CPU supports.
int64_t resolve_simd() {
  const char* env = std::getenv(kSimdEnv);
  std::string value = env ? env : "";
  const auto blank = [](char c) { return std::isspace(static_cast<unsigned char>(c)); };
  value.erase(value.begin(), std::find_if_not(value.begin(), value.end(), blank));
  value.erase(std::find_if_not(value.rbegin(), value.rend(), blank).base(),
              value.end());
  std::string lower = value;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](char c) {
    return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  });
  if (lower.empty() || lower == "auto") return best_simd();
  int64_t path = -1;
  if (lower == "scalar") path = kScalar;
  if (lower == "avx2") path = kAvx2;
  if (lower == "avx512" || lower == "avx512_vpopcntdq") path = kAvx512;
  TORCH_CHECK_VALUE(path >= 0, kSimdEnv, "='", value, "' is not supported; "
                    "allowed values: auto, scalar, avx2, avx512_vpopcntdq, "
                    "avx512");
  if (!simd_supported(path)) {
    std::string supported;
    for (int64_t p = kScalar; p <= kAvx512; ++p)
      if (simd_supported(p))
        supported += (supported.empty() ? "" : ", ") + std::string(kSimdNames[p]);
    TORCH_CHECK(false, kSimdEnv, "='", value, "': this CPU does not support ",
                kSimdNames[path], "; supported: ", supported);
  }
  return path;
}

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Runs first(0, n1) then second(0, n2), split over torch's intra-op
// threads in one parallel region (a barrier between the two phases, one
// fork/join per call) when `parallel`; serially otherwise or when called
// from inside a parallel region.
template <typename First, typename Second>
void run_two_phases(int64_t n1, const First& first, int64_t n2,
                    const Second& second, bool parallel) {
#ifdef _OPENMP
  at::internal::lazy_init_num_threads();  // as at::parallel_for does
  if (parallel && at::get_num_threads() > 1 && !at::in_parallel_region()) {
#pragma omp parallel
    {
      const int64_t threads = omp_get_num_threads();
      const int64_t tid = omp_get_thread_num();
      const int64_t chunk1 = ceil_div(n1, threads);
      const int64_t begin1 = std::min(n1, tid * chunk1);
      if (begin1 < n1) first(begin1, std::min(n1, begin1 + chunk1));
#pragma omp barrier
      const int64_t chunk2 = ceil_div(n2, threads);
      const int64_t begin2 = std::min(n2, tid * chunk2);
      if (begin2 < n2) second(begin2, std::min(n2, begin2 + chunk2));
    }
    return;
  }
#endif
  first(0, n1);
  second(0, n2);
}

void check_optional(const c10::optional<torch::Tensor>& t, const char* name,
                    int64_t numel) {
  if (!t.has_value()) return;
  TORCH_CHECK_VALUE(t->device().is_cpu() && t->scalar_type() == torch::kFloat,
                    name, " must be a float32 CPU tensor, got ", t->dtype(),
                    " on ", t->device());
  TORCH_CHECK_VALUE(t->numel() == numel, name, " must have ", numel,
                    " elements, got shape ", t->sizes());
}

// The in-bounds kernel index range [lo, hi) of every output coordinate
// (lo == hi when every tap falls in the padding), as (out, 2).
std::vector<int32_t> tap_ranges(int64_t out, int64_t in, int64_t kernel,
                                int64_t stride, int64_t pad,
                                int64_t dilation) {
  std::vector<int32_t> ranges(2 * out, 0);
  for (int64_t o = 0; o < out; ++o) {
    int64_t lo = -1, hi = 0;
    for (int64_t k = 0; k < kernel; ++k) {
      const int64_t i = o * stride - pad + k * dilation;
      if (i >= 0 && i < in) {
        if (lo < 0) lo = k;
        hi = k + 1;
      }
    }
    ranges[2 * o] = static_cast<int32_t>(lo < 0 ? 0 : lo);
    ranges[2 * o + 1] = static_cast<int32_t>(hi);
  }
  return ranges;
}

// Numbers the distinct (lo, hi) pairs of `ranges` (2 per coordinate):
// class id per coordinate, and the pair of each class.
void number_ranges(const std::vector<int32_t>& ranges,
                   std::vector<int32_t>* ids, std::vector<int32_t>* classes) {
  const size_t count = ranges.size() / 2;
  ids->resize(count);
  for (size_t i = 0; i < count; ++i) {
    size_t id = 0;
    while (id < classes->size() / 2 &&
           ((*classes)[2 * id] != ranges[2 * i] ||
            (*classes)[2 * id + 1] != ranges[2 * i + 1]))
      ++id;
    if (id == classes->size() / 2) {
      classes->push_back(ranges[2 * i]);
      classes->push_back(ranges[2 * i + 1]);
    }
    (*ids)[i] = static_cast<int32_t>(id);
  }
}

torch::Tensor pack_weight(const torch::Tensor& sign_weight) {
  TORCH_CHECK_VALUE(sign_weight.dim() == 4 && sign_weight.device().is_cpu() &&
                        sign_weight.is_floating_point(),
                    "sign_weight must be a 4-D floating-point CPU tensor "
                    "(O, C/groups, kh, kw), got ", sign_weight.dim(),
                    "-D ", sign_weight.dtype(), " on ", sign_weight.device());
  const torch::Tensor w = sign_weight.detach().to(torch::kFloat).contiguous();
  TORCH_CHECK_VALUE(w.abs().eq(1).all().item<bool>(),
                    "sign_weight must hold exactly +1 or -1 values");
  const int64_t out = w.size(0), cg = w.size(1), kh = w.size(2),
                kw = w.size(3);
  TORCH_CHECK_VALUE(out > 0 && cg > 0 && kh > 0 && kw > 0,
                    "sign_weight must not be empty, got shape ", w.sizes());
  const int64_t words = ceil_div(cg, 64), taps = kh * kw;
  const int64_t rows = taps * words + taps;
  torch::Tensor packed =
      torch::zeros({ceil_div(out, kLanes), rows, kLanes}, torch::kLong);
  uint64_t* dst = reinterpret_cast<uint64_t*>(packed.data_ptr<int64_t>());
  const float* src = w.data_ptr<float>();
  for (int64_t o = 0; o < out; ++o) {
    uint64_t* block = dst + (o / kLanes) * rows * kLanes + o % kLanes;
    for (int64_t c = 0; c < cg; ++c)
      for (int64_t t = 0; t < taps; ++t) {
        const bool negative = src[(o * cg + c) * taps + t] < 0;
        if (negative)
          block[(t * words + c / 64) * kLanes] |= 1ULL << (c % 64);
        // tap sums, stored as int64 two's complement
        block[(taps * words + t) * kLanes] += negative ? ~0ULL : 1ULL;
      }
  }
  return packed;
}

torch::Tensor binary_conv2d(const torch::Tensor& x_in,
                            const torch::Tensor& packed, int64_t in_channels,
                            int64_t out_channels, int64_t kernel_h,
                            int64_t kernel_w, int64_t stride_h,
                            int64_t stride_w, int64_t pad_h, int64_t pad_w,
                            int64_t dilation_h, int64_t dilation_w,
                            int64_t groups,
                            const c10::optional<torch::Tensor>& threshold,
                            const c10::optional<torch::Tensor>& scale,
                            const c10::optional<torch::Tensor>& bias,
                            const c10::optional<torch::Tensor>& residual,
                            const c10::optional<torch::Tensor>& act_shift_in,
                            const c10::optional<torch::Tensor>& act_slope,
                            const c10::optional<torch::Tensor>& act_shift_out,
                            int64_t simd) {
  TORCH_CHECK_VALUE(x_in.dim() == 4 && x_in.device().is_cpu() &&
                        x_in.scalar_type() == torch::kFloat,
                    "x must be a 4-D float32 CPU tensor (N, C, H, W), got ",
                    x_in.dim(), "-D ", x_in.dtype(), " on ", x_in.device());
  TORCH_CHECK_VALUE(x_in.size(1) == in_channels, "x has ", x_in.size(1),
                    " channels but in_channels=", in_channels);
  TORCH_CHECK_VALUE(groups > 0 && in_channels % groups == 0 &&
                        out_channels % groups == 0,
                    "groups=", groups, " must divide in_channels=",
                    in_channels, " and out_channels=", out_channels);
  TORCH_CHECK_VALUE(kernel_h > 0 && kernel_w > 0, "kernel_size must be "
                    "positive, got (", kernel_h, ", ", kernel_w, ")");
  TORCH_CHECK_VALUE(stride_h > 0 && stride_w > 0, "stride must be positive, "
                    "got (", stride_h, ", ", stride_w, ")");
  TORCH_CHECK_VALUE(dilation_h > 0 && dilation_w > 0, "dilation must be "
                    "positive, got (", dilation_h, ", ", dilation_w, ")");
  TORCH_CHECK_VALUE(pad_h >= 0 && pad_w >= 0, "padding must be non-negative, "
                    "got (", pad_h, ", ", pad_w, ")");
  if (simd < 0) simd = resolve_simd();
  TORCH_CHECK_VALUE(simd <= kAvx512 && simd_supported(simd), "SIMD path ",
                    simd, " is not supported by this CPU");
  const int64_t cg = in_channels / groups, og = out_channels / groups;
  const int64_t words = ceil_div(cg, 64), taps = kernel_h * kernel_w;
  const int64_t blocks = ceil_div(out_channels, kLanes);
  TORCH_CHECK_VALUE(packed.device().is_cpu() &&
                        packed.scalar_type() == torch::kLong &&
                        packed.is_contiguous() &&
                        packed.sizes() == torch::IntArrayRef(
                            {blocks, taps * words + taps, kLanes}),
                    "packed_weight must be a contiguous int64 CPU tensor of "
                    "shape (", blocks, ", ", taps * words + taps, ", ", kLanes,
                    ") from pack_weight for out_channels=", out_channels,
                    ", in_channels/groups=", cg, ", kernel_size=(", kernel_h,
                    ", ", kernel_w, "); got ", packed.dtype(), " ",
                    packed.sizes());
  TORCH_CHECK_VALUE(taps * cg < (int64_t{1} << 30), "in_channels/groups * "
                    "kernel_h * kernel_w = ", taps * cg, " is too large for "
                    "the kernel's 32-bit dot products");
  check_optional(threshold, "threshold", in_channels);
  check_optional(scale, "scale", out_channels);
  check_optional(bias, "bias", out_channels);
  check_optional(act_shift_in, "act_shift_in", out_channels);
  check_optional(act_slope, "act_slope", out_channels);
  check_optional(act_shift_out, "act_shift_out", out_channels);
  TORCH_CHECK_VALUE(act_slope.has_value() ||
                        (!act_shift_in.has_value() && !act_shift_out.has_value()),
                    "act_shift_in / act_shift_out need act_slope");

  const torch::Tensor x = x_in.contiguous();
  const int64_t batch = x.size(0), height = x.size(2), width = x.size(3);
  const int64_t padded_h = height + 2 * pad_h, padded_w = width + 2 * pad_w;
  const int64_t out_h = (padded_h - dilation_h * (kernel_h - 1) - 1) / stride_h + 1;
  const int64_t out_w = (padded_w - dilation_w * (kernel_w - 1) - 1) / stride_w + 1;
  TORCH_CHECK_VALUE(padded_h >= dilation_h * (kernel_h - 1) + 1 &&
                        padded_w >= dilation_w * (kernel_w - 1) + 1,
                    "the padded input (", padded_h, ", ", padded_w,
                    ") is smaller than the dilated kernel");
  torch::Tensor out =
      torch::empty({batch, out_channels, out_h, out_w}, x.options());
  torch::Tensor residual_c;
  if (residual.has_value()) {
    const int64_t rc = residual->dim() == 4 ? residual->size(1) : 0;
    TORCH_CHECK_VALUE(residual->device().is_cpu() &&
                          residual->scalar_type() == torch::kFloat &&
                          residual->dim() == 4 &&
                          residual->size(0) == batch && rc > 0 &&
                          out_channels % rc == 0 &&
                          residual->size(2) == out_h &&
                          residual->size(3) == out_w,
                      "residual must be a float32 CPU tensor of the output's "
                      "shape ", out.sizes(), " (or with a divisor of its "
                      "channels: repeated along channels), got ",
                      residual->dtype(), " ", residual->sizes());
    residual_c = residual->contiguous();
  }
  if (out.numel() == 0) return out;

  const PackFn pack_fn = simd == kAvx512 ? pack_rows_avx512
                         : simd == kAvx2 ? pack_rows_avx2
                                         : pack_rows_scalar;
  const ConvFn conv_fn = simd == kAvx512 ? conv_rows_avx512
                         : simd == kAvx2 ? conv_rows_avx2
                                         : conv_rows_scalar;

  // 1. binarize and pack the input, padding included (run in step 4)
  const torch::Tensor thr =
      threshold.has_value() ? threshold->contiguous()
                            : torch::zeros({in_channels}, x.options());
  torch::Tensor act = torch::empty(
      {batch * padded_h * padded_w * groups * words}, torch::kLong);
  PackArgs pa;
  pa.x = x.data_ptr<float>();
  pa.threshold = thr.data_ptr<float>();
  pa.act = reinterpret_cast<uint64_t*>(act.data_ptr<int64_t>());
  pa.batch = batch;
  pa.channels = in_channels;
  pa.height = height;
  pa.width = width;
  pa.pad_h = pad_h;
  pa.pad_w = pad_w;
  pa.padded_h = padded_h;
  pa.padded_w = padded_w;
  pa.groups = groups;
  pa.group_channels = cg;
  pa.words = words;

  // 2. per-k-row activation offsets, relative to a position's first word
  const int64_t gw = groups * words;
  std::vector<int64_t> tap_offset(taps * words);
  for (int64_t ky = 0; ky < kernel_h; ++ky)
    for (int64_t kx = 0; kx < kernel_w; ++kx)
      for (int64_t w = 0; w < words; ++w)
        tap_offset[(ky * kernel_w + kx) * words + w] =
            (ky * dilation_h * padded_w + kx * dilation_w) * gw + w;

  // 3. in-bounds tap ranges, for the padding correction at the borders
  const std::vector<int32_t> row_range =
      tap_ranges(out_h, height, kernel_h, stride_h, pad_h, dilation_h);
  const std::vector<int32_t> col_range =
      tap_ranges(out_w, width, kernel_w, stride_w, pad_w, dilation_w);
  const int64_t krows = taps * words;
  std::vector<int32_t> row_class, row_class_range, col_class, col_class_range;
  number_ranges(row_range, &row_class, &row_class_range);
  number_ranges(col_range, &col_class, &col_class_range);

  // 4. pack, then XOR-popcount over (n, weight block, output row) tasks
  const torch::Tensor scale_c =
      scale.has_value() ? scale->contiguous() : torch::Tensor();
  const torch::Tensor bias_c =
      bias.has_value() ? bias->contiguous() : torch::Tensor();
  ConvArgs ca;
  ca.act = pa.act;
  ca.weight = reinterpret_cast<const uint64_t*>(packed.data_ptr<int64_t>());
  ca.tap_offset = tap_offset.data();
  ca.row_range = row_range.data();
  ca.col_range = col_range.data();
  ca.row_class = row_class.data();
  ca.col_class = col_class.data();
  ca.row_class_range = row_class_range.data();
  ca.col_class_range = col_class_range.data();
  ca.row_classes = static_cast<int64_t>(row_class_range.size() / 2);
  ca.col_classes = static_cast<int64_t>(col_class_range.size() / 2);
  ca.scale = scale.has_value() ? scale_c.data_ptr<float>() : nullptr;
  ca.bias = bias.has_value() ? bias_c.data_ptr<float>() : nullptr;
  const auto optional_ptr = [](const c10::optional<torch::Tensor>& t,
                               torch::Tensor* keep) -> const float* {
    if (!t.has_value()) return nullptr;
    *keep = t->contiguous();
    return keep->data_ptr<float>();
  };
  torch::Tensor shift_in_c, slope_c, shift_out_c;
  ca.residual = residual.has_value() ? residual_c.data_ptr<float>() : nullptr;
  ca.residual_channels = residual.has_value() ? residual_c.size(1) : 0;
  ca.act_shift_in = optional_ptr(act_shift_in, &shift_in_c);
  ca.act_slope = optional_ptr(act_slope, &slope_c);
  ca.act_shift_out = optional_ptr(act_shift_out, &shift_out_c);
  ca.out = out.data_ptr<float>();
  ca.batch = batch;
  ca.groups = groups;
  ca.words = words;
  ca.out_channels = out_channels;
  ca.group_out_channels = og;
  ca.blocks = blocks;
  ca.padded_h = padded_h;
  ca.padded_w = padded_w;
  ca.out_h = out_h;
  ca.out_w = out_w;
  ca.stride_h = stride_h;
  ca.stride_w = stride_w;
  ca.kernel_h = kernel_h;
  ca.kernel_w = kernel_w;
  ca.krows = krows;
  ca.block_stride = krows + taps;
  ca.bits = taps * cg;
  const int64_t tasks = batch * blocks * out_h;
  run_two_phases(
      batch * padded_h,
      [&](int64_t begin, int64_t end) { pack_fn(pa, begin, end); }, tasks,
      [&](int64_t begin, int64_t end) { conv_fn(ca, begin, end); },
      tasks * krows * out_w >= kMinParallelWork);
  return out;
}

// Output size of a pooling window along one axis, as torch computes it.
int64_t pooled_size(int64_t in, int64_t kernel, int64_t stride, int64_t pad,
                    bool ceil_mode) {
  const int64_t span = in + 2 * pad - kernel;
  int64_t out = (ceil_mode ? ceil_div(span, stride) : span / stride) + 1;
  // the last window must start inside the input or its left padding
  if (ceil_mode && (out - 1) * stride >= in + pad) --out;
  return out;
}

// Max pooling of a NaN-free float32 NCHW tensor (dilation 1), as torch's
// F.max_pool2d computes it (padding reads as -inf), one plane per task:
// torch's CPU NCHW kernel is several times slower. Returns the output and
// whether a pooled row held NaN (this kernel does not propagate NaN: the
// caller then asks torch).
std::tuple<torch::Tensor, bool> max_pool2d(const torch::Tensor& x_in, int64_t kernel_h,
                         int64_t kernel_w, int64_t stride_h, int64_t stride_w,
                         int64_t pad_h, int64_t pad_w, bool ceil_mode) {
  TORCH_CHECK_VALUE(x_in.dim() == 4 && x_in.device().is_cpu() &&
                        x_in.scalar_type() == torch::kFloat,
                    "x must be a 4-D float32 CPU tensor (N, C, H, W), got ",
                    x_in.dim(), "-D ", x_in.dtype(), " on ", x_in.device());
  TORCH_CHECK_VALUE(kernel_h > 0 && kernel_w > 0 && stride_h > 0 &&
                        stride_w > 0,
                    "kernel_size and stride must be positive");
  TORCH_CHECK_VALUE(pad_h >= 0 && pad_w >= 0 && 2 * pad_h <= kernel_h &&
                        2 * pad_w <= kernel_w,
                    "padding must be non-negative and at most half the "
                    "kernel size, got (", pad_h, ", ", pad_w, ")");
  const torch::Tensor x = x_in.contiguous();
  const int64_t planes = x.size(0) * x.size(1);
  const int64_t height = x.size(2), width = x.size(3);
  const int64_t out_h = pooled_size(height, kernel_h, stride_h, pad_h, ceil_mode);
  const int64_t out_w = pooled_size(width, kernel_w, stride_w, pad_w, ceil_mode);
  TORCH_CHECK_VALUE(out_h > 0 && out_w > 0, "the input (", height, ", ",
                    width, ") is smaller than the pooling window");
  torch::Tensor out =
      torch::empty({x.size(0), x.size(1), out_h, out_w}, x.options());
  const float* src = x.data_ptr<float>();
  float* dst = out.data_ptr<float>();
  // separable: the column maxima of a window row (contiguous, vectorized,
  // branch-free), then the maxima across each window's columns
  const auto take = [](float m, float v) { return v > m ? v : m; };
  std::atomic<bool> saw_nan{false};
  at::parallel_for(0, planes, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> column(width);
    int nan = 0;
    for (int64_t p = begin; p < end; ++p) {
      const float* in = src + p * height * width;
      float* o = dst + p * out_h * out_w;
      for (int64_t oy = 0; oy < out_h; ++oy) {
        const int64_t y0 = std::max<int64_t>(oy * stride_h - pad_h, 0);
        const int64_t y1 = std::min(oy * stride_h - pad_h + kernel_h, height);
        std::copy(in + y0 * width, in + (y0 + 1) * width, column.begin());
        for (int64_t xx = 0; xx < width; ++xx) nan |= column[xx] != column[xx];
        for (int64_t y = y0 + 1; y < y1; ++y) {
          const float* row = in + y * width;
          float* c = column.data();
          for (int64_t xx = 0; xx < width; ++xx) {
            c[xx] = take(c[xx], row[xx]);
            nan |= row[xx] != row[xx];
          }
        }
        for (int64_t ox = 0; ox < out_w; ++ox) {
          const int64_t x0 = std::max<int64_t>(ox * stride_w - pad_w, 0);
          const int64_t x1 = std::min(ox * stride_w - pad_w + kernel_w, width);
          float m = column[x0];
          for (int64_t xx = x0 + 1; xx < x1; ++xx) m = take(m, column[xx]);
          o[oy * out_w + ox] = m;
        }
      }
    }
    if (nan) saw_nan = true;
  });
  return std::make_tuple(out, saw_nan.load());
}

// Average RoIAlign of a float32 NCHW feature map, the same arithmetic as
// mmcv's CPU kernel (detectron2's RoIAlign: bilinear samples on a
// roi_bin_grid per bin, `aligned` half-pixel offset, samples outside
// [-1, size] read 0), RoIs split over torch's threads, channels innermost
// (vectorized; per channel the same operations in the same order, so the
// same values). rois: (K, 5) rows
// (batch index, x1, y1, x2, y2) in input-image coordinates.
torch::Tensor roi_align(const torch::Tensor& input_in,
                        const torch::Tensor& rois_in, int64_t pooled_height,
                        int64_t pooled_width, double spatial_scale_d,
                        int64_t sampling_ratio, bool aligned) {
  TORCH_CHECK_VALUE(input_in.dim() == 4 && input_in.device().is_cpu() &&
                        input_in.scalar_type() == torch::kFloat,
                    "input must be a 4-D float32 CPU tensor (N, C, H, W)");
  TORCH_CHECK_VALUE(rois_in.dim() == 2 && rois_in.size(1) == 5 &&
                        rois_in.device().is_cpu() &&
                        rois_in.scalar_type() == torch::kFloat,
                    "rois must be a float32 CPU tensor of shape (K, 5)");
  TORCH_CHECK_VALUE(pooled_height > 0 && pooled_width > 0,
                    "output_size must be positive");
  const torch::Tensor input = input_in.contiguous();
  const torch::Tensor rois = rois_in.contiguous();
  const int64_t num_rois = rois.size(0), channels = input.size(1);
  const int height = static_cast<int>(input.size(2));
  const int width = static_cast<int>(input.size(3));
  const int ph_n = static_cast<int>(pooled_height);
  const int pw_n = static_cast<int>(pooled_width);
  torch::Tensor output =
      torch::zeros({num_rois, channels, pooled_height, pooled_width},
                   input.options());
  if (num_rois == 0 || channels == 0) return output;
  using T = float;
  const T spatial_scale = static_cast<T>(spatial_scale_d);
  const T* box = rois.data_ptr<float>();
  T* out = output.data_ptr<float>();
  const int64_t batch = input.size(0);
  struct Sample {
    int pos1, pos2, pos3, pos4;
    T w1, w2, w3, w4;
  };
  std::atomic<bool> bad_roi{false}, bad_index{false};
  const int64_t plane = static_cast<int64_t>(height) * width;
  const torch::Tensor nhwc_t = input.permute({0, 2, 3, 1}).contiguous();
  const float* nhwc = nhwc_t.data_ptr<float>();
  at::parallel_for(0, num_rois, 1, [&](int64_t begin, int64_t end) {
    std::vector<Sample> samples;
    std::vector<T> sums(channels);
    for (int64_t n = begin; n < end; ++n) {
      const T* r = box + n * 5;
      const int64_t b = static_cast<int64_t>(r[0]);
      if (b < 0 || b >= batch) {
        bad_index = true;
        continue;
      }
      const T offset = aligned ? (T)0.5 : (T)0.0;
      const T start_w = r[1] * spatial_scale - offset;
      const T start_h = r[2] * spatial_scale - offset;
      const T end_w = r[3] * spatial_scale - offset;
      const T end_h = r[4] * spatial_scale - offset;
      T roi_w = end_w - start_w, roi_h = end_h - start_h;
      if (aligned) {
        if (!(roi_w >= 0 && roi_h >= 0)) {
          bad_roi = true;
          continue;
        }
      } else {
        roi_w = std::max(roi_w, (T)1.);
        roi_h = std::max(roi_h, (T)1.);
      }
      const T bin_h = static_cast<T>(roi_h) / static_cast<T>(ph_n);
      const T bin_w = static_cast<T>(roi_w) / static_cast<T>(pw_n);
      const int grid_h = sampling_ratio > 0
                             ? static_cast<int>(sampling_ratio)
                             : static_cast<int>(ceilf(roi_h / ph_n));
      const int grid_w = sampling_ratio > 0
                             ? static_cast<int>(sampling_ratio)
                             : static_cast<int>(ceilf(roi_w / pw_n));
      const T count = std::max(grid_h * grid_w, 1);
      // bilinear positions and weights, shared by every channel
      samples.resize(static_cast<size_t>(grid_h) * grid_w * ph_n * pw_n);
      size_t k = 0;
      for (int ph = 0; ph < ph_n; ++ph)
        for (int pw = 0; pw < pw_n; ++pw)
          for (int iy = 0; iy < grid_h; ++iy) {
            const T yy = start_h + ph * bin_h +
                         static_cast<T>(iy + .5f) * bin_h /
                             static_cast<T>(grid_h);
            for (int ix = 0; ix < grid_w; ++ix, ++k) {
              const T xx = start_w + pw * bin_w +
                           static_cast<T>(ix + .5f) * bin_w /
                               static_cast<T>(grid_w);
              T y = yy, x = xx;
              Sample& sm = samples[k];
              if (y < -1.0 || y > height || x < -1.0 || x > width) {
                sm = Sample{0, 0, 0, 0, 0, 0, 0, 0};
                continue;
              }
              if (y <= 0) y = 0;
              if (x <= 0) x = 0;
              int y_low = static_cast<int>(y), x_low = static_cast<int>(x);
              int y_high, x_high;
              if (y_low >= height - 1) {
                y_high = y_low = height - 1;
                y = (T)y_low;
              } else {
                y_high = y_low + 1;
              }
              if (x_low >= width - 1) {
                x_high = x_low = width - 1;
                x = (T)x_low;
              } else {
                x_high = x_low + 1;
              }
              const T ly = y - y_low, lx = x - x_low;
              const T hy = 1. - ly, hx = 1. - lx;
              sm = Sample{y_low * width + x_low, y_low * width + x_high,
                          y_high * width + x_low, y_high * width + x_high,
                          hy * hx, hy * lx, ly * hx, ly * lx};
            }
          }
      // channels innermost (NHWC copy): each bilinear tap is a contiguous
      // channel vector; per channel the same sums in the same order
      const float* base = nhwc + b * plane * channels;
      const Sample* sm = samples.data();
      for (int bin = 0; bin < ph_n * pw_n; ++bin) {
        T* acc = sums.data();
        for (int64_t c = 0; c < channels; ++c) acc[c] = 0.;
        for (int i = 0; i < grid_h * grid_w; ++i, ++sm) {
          const T w1 = sm->w1, w2 = sm->w2, w3 = sm->w3, w4 = sm->w4;
          const T* __restrict__ v1 = base + sm->pos1 * channels;
          const T* __restrict__ v2 = base + sm->pos2 * channels;
          const T* __restrict__ v3 = base + sm->pos3 * channels;
          const T* __restrict__ v4 = base + sm->pos4 * channels;
          for (int64_t c = 0; c < channels; ++c)
            acc[c] += w1 * v1[c] + w2 * v2[c] + w3 * v3[c] + w4 * v4[c];
        }
        T* dst = out + n * channels * ph_n * pw_n + bin;
        for (int64_t c = 0; c < channels; ++c)
          dst[c * ph_n * pw_n] = acc[c] / count;
      }
    }
  });
  TORCH_CHECK_VALUE(!bad_index.load(), "rois[:, 0] must be batch indices in "
                    "[0, ", batch, ")");
  TORCH_CHECK_VALUE(!bad_roi.load(), "with aligned=True, RoIs must have "
                    "non-negative width and height");
  return output;
}

// RPReLU in one pass over a float32 NCHW tensor: per channel
// t = x - shift_in; t = t > 0 ? t : slope * t; y = t + shift_out, the
// roundings of torch's `prelu(x - shift_in, slope) + shift_out` (three
// passes there). shift_in / shift_out may be undefined (PReLU).
torch::Tensor rprelu(const torch::Tensor& x_in,
                     const c10::optional<torch::Tensor>& shift_in,
                     const torch::Tensor& slope,
                     const c10::optional<torch::Tensor>& shift_out) {
  TORCH_CHECK_VALUE(x_in.dim() == 4 && x_in.device().is_cpu() &&
                        x_in.scalar_type() == torch::kFloat,
                    "x must be a 4-D float32 CPU tensor (N, C, H, W)");
  const int64_t channels = x_in.size(1);
  check_optional(shift_in, "shift_in", channels);
  check_optional(shift_out, "shift_out", channels);
  check_optional(c10::optional<torch::Tensor>(slope), "slope", channels);
  const torch::Tensor x = x_in.contiguous();
  const torch::Tensor si = shift_in.has_value() ? shift_in->contiguous()
                                                : torch::Tensor();
  const torch::Tensor so = shift_out.has_value() ? shift_out->contiguous()
                                                 : torch::Tensor();
  const torch::Tensor sl = slope.contiguous();
  torch::Tensor out = torch::empty_like(x);
  const int64_t planes = x.size(0) * channels;
  const int64_t plane = x.size(2) * x.size(3);
  const float* src = x.data_ptr<float>();
  float* dst = out.data_ptr<float>();
  const float* a = si.defined() ? si.data_ptr<float>() : nullptr;
  const float* w = sl.data_ptr<float>();
  const float* b = so.defined() ? so.data_ptr<float>() : nullptr;
  at::parallel_for(0, planes, 1, [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) {
      const int64_t c = p % channels;
      const float shift = a ? a[c] : 0.0f, k = w[c], add = b ? b[c] : 0.0f;
      const float* __restrict__ in = src + p * plane;
      float* __restrict__ o = dst + p * plane;
      for (int64_t i = 0; i < plane; ++i) {
        float t = a ? in[i] - shift : in[i];
        t = t > 0.0f ? t : k * t;
        o[i] = b ? t + add : t;
      }
    }
  });
  return out;
}

}  // namespace
}  // namespace xnor
}  // namespace mmbnn

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  namespace py = pybind11;
  using namespace mmbnn::xnor;
  m.doc() = "Packed XNOR-popcount binary convolution (mmbnn.ops.xnor)";
  m.def("simd_supported", &simd_supported, py::arg("path"),
        "Whether this CPU can run SIMD path 0 (scalar), 1 (avx2) or 2 "
        "(avx512_vpopcntdq).");
  m.def("best_simd", &best_simd, "The widest SIMD path this CPU supports.");
  m.def("resolve_simd", &resolve_simd,
        "The SIMD path binary_conv2d runs: MMBNN_XNOR_SIMD or the widest.");
  m.def("pack_weight", &pack_weight, py::arg("sign_weight"));
  m.def("binary_conv2d", &binary_conv2d, py::arg("x"), py::arg("packed"),
        py::arg("in_channels"), py::arg("out_channels"), py::arg("kernel_h"),
        py::arg("kernel_w"), py::arg("stride_h"), py::arg("stride_w"),
        py::arg("pad_h"), py::arg("pad_w"), py::arg("dilation_h"),
        py::arg("dilation_w"), py::arg("groups"), py::arg("threshold"),
        py::arg("scale"), py::arg("bias"), py::arg("residual") = py::none(),
        py::arg("act_shift_in") = py::none(), py::arg("act_slope") = py::none(),
        py::arg("act_shift_out") = py::none(), py::arg("simd") = -1,
        py::call_guard<py::gil_scoped_release>());
  m.def("rprelu", &rprelu, py::arg("x"), py::arg("shift_in"),
        py::arg("slope"), py::arg("shift_out"),
        py::call_guard<py::gil_scoped_release>());
  m.def("roi_align", &roi_align, py::arg("input"), py::arg("rois"),
        py::arg("pooled_height"), py::arg("pooled_width"),
        py::arg("spatial_scale"), py::arg("sampling_ratio"),
        py::arg("aligned"), py::call_guard<py::gil_scoped_release>());
  m.def("max_pool2d", &max_pool2d, py::arg("x"), py::arg("kernel_h"),
        py::arg("kernel_w"), py::arg("stride_h"), py::arg("stride_w"),
        py::arg("pad_h"), py::arg("pad_w"), py::arg("ceil_mode"),
        py::call_guard<py::gil_scoped_release>());
}
