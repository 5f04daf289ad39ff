// The CPU kernels, written once over GCC vector extensions and compiled once per instruction set: RFL_ISA names
// the namespace and RFL_VW the vector width in floats (16 for AVX-512, 8 for AVX2+FMA, 4 for the portable
// SSE2/NEON-sized build). binding.gyp passes the matching -m flags and -ffp-contract=fast, so `acc += a * b`
// becomes one fused multiply-add where the target has one.
//
// Everything here is row-major float32, NHWC for images, and single-threaded unless `threads` > 1. With
// several threads, work is split by output rows only, in a fixed partition, and every output element is
// summed in the same order as with one: a fixed thread count gives the same bits every run, and so does any
// other thread count.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <thread>
#include <vector>

#include "kernels.h"

#ifndef RFL_ISA
#error "RFL_ISA must name the instruction-set namespace"
#endif
#ifndef RFL_VW
#error "RFL_VW must give the vector width in floats"
#endif

namespace rfl {
namespace RFL_ISA {

namespace {

constexpr int VW = RFL_VW;
typedef float vf __attribute__((vector_size(VW * sizeof(float))));

inline vf load(const float* p) {
  vf v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void store(float* p, vf v) { std::memcpy(p, &v, sizeof v); }
inline vf splat(float s) { return vf{} + s; }

// Blocking of the matrix product (floats): a KC×VW panel of B and an MR×KC panel of A stay in L1, an
// MC×KC block of A in L2. Measured on cnn-mnist's shapes, where K and N are small; larger ones lose little.
constexpr int KC = 256;
constexpr int NC = 2048;
constexpr int MC_TARGET = 144;
// Largest register tile height: MR accumulators + one B vector + one broadcast fit 16 vector registers.
constexpr int MR_MAX = 12;

/** MR rows × VW columns of C += A panel · B panel over kc; `mr`, `nr` clip the tile at the matrix edge. */
template <int MR>
inline void microKernel(int kc, const float* __restrict ap, const float* __restrict bp, float* c, long ldc, int mr, int nr, bool add) {
  vf r[MR];
  for (int i = 0; i < MR; i++) r[i] = vf{};
  for (int k = 0; k < kc; k++) {
    const vf b = load(bp + (long)k * VW);
    const float* a = ap + (long)k * MR;
    for (int i = 0; i < MR; i++) r[i] += splat(a[i]) * b;
  }
  if (nr == VW) {
    for (int i = 0; i < mr; i++) {
      float* ci = c + i * ldc;
      store(ci, add ? load(ci) + r[i] : r[i]);
    }
  } else {
    float t[VW];
    for (int i = 0; i < mr; i++) {
      store(t, r[i]);
      float* ci = c + i * ldc;
      if (add)
        for (int j = 0; j < nr; j++) ci[j] += t[j];
      else
        for (int j = 0; j < nr; j++) ci[j] = t[j];
    }
  }
}

/** Packs rows [0, kc) × columns [0, nc) of B into VW-wide panels, zero-padded past nc. */
void packB(int kc, int nc, const float* B, long rsb, long csb, float* out) {
  const int panels = (nc + VW - 1) / VW;
  for (int p = 0; p < panels; p++) {
    const int j0 = p * VW;
    const int w = std::min(VW, nc - j0);
    float* o = out + (long)p * kc * VW;
    if (csb == 1 && w == VW) {
      for (int k = 0; k < kc; k++) std::memcpy(o + (long)k * VW, B + k * rsb + j0, VW * sizeof(float));
    } else {
      for (int k = 0; k < kc; k++) {
        const float* src = B + k * rsb + j0 * csb;
        float* dst = o + (long)k * VW;
        int j = 0;
        for (; j < w; j++) dst[j] = src[j * csb];
        for (; j < VW; j++) dst[j] = 0.f;
      }
    }
  }
}

/** Packs rows [0, mc) × columns [0, kc) of A into MR-tall panels, zero-padded past mc. */
template <int MR>
void packA(int mc, int kc, const float* A, long rsa, long csa, float* out) {
  const int panels = (mc + MR - 1) / MR;
  for (int p = 0; p < panels; p++) {
    const int i0 = p * MR;
    const int h = std::min(MR, mc - i0);
    float* o = out + (long)p * kc * MR;
    if (csa == 1) {
      // Row-major A: read each row contiguously, write with stride MR.
      for (int i = 0; i < h; i++) {
        const float* src = A + (i0 + i) * rsa;
        for (int k = 0; k < kc; k++) o[(long)k * MR + i] = src[k];
      }
    } else {
      for (int k = 0; k < kc; k++) {
        const float* src = A + k * csa + i0 * rsa;
        for (int i = 0; i < h; i++) o[(long)k * MR + i] = src[i * rsa];
      }
    }
    for (int i = h; i < MR; i++)
      for (int k = 0; k < kc; k++) o[(long)k * MR + i] = 0.f;
  }
}

/** Runs `body(first, last)` over [0, n) split into `threads` fixed contiguous ranges (the caller's thread takes the first). */
template <typename F>
void parallelFor(int n, int threads, F body) {
  threads = std::max(1, std::min(threads, n));
  if (threads == 1) {
    body(0, n);
    return;
  }
  std::vector<std::thread> pool;
  pool.reserve(threads - 1);
  for (int t = 1; t < threads; t++) pool.emplace_back([=, &body] { body((long)n * t / threads, (long)n * (t + 1) / threads); });
  body(0, n / threads);
  for (auto& th : pool) th.join();
}

std::vector<float>& scratch(int slot) {
  thread_local std::vector<float> buffers[3];
  return buffers[slot];
}

template <int MR>
void gemmMR(int M, int N, int K, const float* A, long rsa, long csa, const float* B, long rsb, long csb, float* C, long ldc, bool accumulate, int threads) {
  const int MC = MR * std::max(1, MC_TARGET / MR);
  std::vector<float>& bpack = scratch(0);
  for (int jc = 0; jc < N; jc += NC) {
    const int nc = std::min(NC, N - jc);
    const int npanels = (nc + VW - 1) / VW;
    for (int pc = 0; pc < K; pc += KC) {
      const int kc = std::min(KC, K - pc);
      bpack.resize((size_t)npanels * kc * VW);
      packB(kc, nc, B + pc * rsb + jc * csb, rsb, csb, bpack.data());
      const bool add = accumulate || pc > 0;
      const int blocks = (M + MC - 1) / MC;
      const float* bp = bpack.data();
      // Threads only where each gets real work; 2 MFLOP per block and thread at least.
      const double flops = 2.0 * M * nc * kc;
      const int t = flops < 2e6 * threads ? 1 : threads;
      parallelFor(blocks, t, [&](long b0, long b1) {
        std::vector<float>& apack = scratch(1);
        apack.resize((size_t)MC * kc);
        for (long b = b0; b < b1; b++) {
          const int ic = (int)b * MC;
          const int mc = std::min(MC, M - ic);
          packA<MR>(mc, kc, A + ic * rsa + pc * csa, rsa, csa, apack.data());
          for (int jp = 0; jp < npanels; jp++) {
            const int nr = std::min(VW, nc - jp * VW);
            for (int ip = 0; ip * MR < mc; ip++) {
              const int mr = std::min(MR, mc - ip * MR);
              microKernel<MR>(kc, apack.data() + (long)ip * kc * MR, bp + (long)jp * kc * VW, C + (long)(ic + ip * MR) * ldc + jc + jp * VW, ldc, mr, nr, add);
            }
          }
        }
      });
    }
  }
}

/** Tile height for M rows: M itself when small, else the height in [8, 12] that pads the fewest rows. */
int pickMR(int M) {
  if (M <= MR_MAX) return M;
  int best = MR_MAX, waste = 1 << 30;
  for (int mr = MR_MAX; mr >= 8; mr--) {
    const int w = (M + mr - 1) / mr * mr - M;
    if (w < waste) waste = w, best = mr;
  }
  return best;
}

inline float activate(float v, Act act, float alpha) {
  switch (act) {
    case Act::Relu:
      return v > 0.f ? v : 0.f;
    case Act::Relu6:
      return std::min(std::max(v, 0.f), 6.f);
    case Act::LeakyRelu:
      return v < 0.f ? alpha * v : v;
    default:
      return v;
  }
}

// Rows of an im2col matrix per chunk, so that a chunk of K columns holds about 256 Ki floats (1 MiB, L2-sized).
constexpr long CHUNK_FLOATS = 1L << 18;

/** Rows [p0, p0 + rows) of the im2col matrix of x: row p = (b, oh, ow), column (kh, kw, ci); zero outside x. */
void im2col(const ConvDims& d, const float* x, long p0, long rows, float* cols) {
  const int K = d.KH * d.KW * d.Cin;
  const long plane = (long)d.OH * d.OW;
  for (long r = 0; r < rows; r++) {
    const long p = p0 + r;
    const int b = (int)(p / plane);
    const int rem = (int)(p % plane);
    const int oh = rem / d.OW, ow = rem % d.OW;
    float* out = cols + r * K;
    const float* xb = x + (long)b * d.H * d.W * d.Cin;
    for (int kh = 0; kh < d.KH; kh++) {
      const int ih = oh * d.sh - d.pt + kh * d.dh;
      for (int kw = 0; kw < d.KW; kw++, out += d.Cin) {
        const int iw = ow * d.sw - d.pl + kw * d.dw;
        if (ih < 0 || ih >= d.H || iw < 0 || iw >= d.W) {
          std::memset(out, 0, d.Cin * sizeof(float));
        } else if (d.Cin == 1) {
          *out = xb[(long)ih * d.W + iw];
        } else {
          std::memcpy(out, xb + ((long)ih * d.W + iw) * d.Cin, d.Cin * sizeof(float));
        }
      }
    }
  }
}

/** dx += col2im(cols) for rows [p0, p0 + rows): the adjoint of im2col. */
void col2imAdd(const ConvDims& d, const float* cols, long p0, long rows, float* dx) {
  const int K = d.KH * d.KW * d.Cin;
  const long plane = (long)d.OH * d.OW;
  for (long r = 0; r < rows; r++) {
    const long p = p0 + r;
    const int b = (int)(p / plane);
    const int rem = (int)(p % plane);
    const int oh = rem / d.OW, ow = rem % d.OW;
    const float* in = cols + r * K;
    float* xb = dx + (long)b * d.H * d.W * d.Cin;
    for (int kh = 0; kh < d.KH; kh++) {
      const int ih = oh * d.sh - d.pt + kh * d.dh;
      for (int kw = 0; kw < d.KW; kw++, in += d.Cin) {
        const int iw = ow * d.sw - d.pl + kw * d.dw;
        if (ih < 0 || ih >= d.H || iw < 0 || iw >= d.W) continue;
        float* o = xb + ((long)ih * d.W + iw) * d.Cin;
        for (int c = 0; c < d.Cin; c++) o[c] += in[c];
      }
    }
  }
}

bool isPointwise(const ConvDims& d) {
  return d.KH == 1 && d.KW == 1 && d.sh == 1 && d.sw == 1 && d.pt == 0 && d.pl == 0 && d.OH == d.H && d.OW == d.W;
}

}  // namespace

const char* isa() { return RFL_ISA_NAME; }

void gemm(int M, int N, int K, const float* A, long rsa, long csa, const float* B, long rsb, long csb, float* C, long ldc, bool accumulate, int threads) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    if (!accumulate)
      for (int i = 0; i < M; i++) std::memset(C + i * ldc, 0, N * sizeof(float));
    return;
  }
  switch (pickMR(M)) {
#define RFL_CASE(R) \
  case R:           \
    return gemmMR<R>(M, N, K, A, rsa, csa, B, rsb, csb, C, ldc, accumulate, threads);
    RFL_CASE(1) RFL_CASE(2) RFL_CASE(3) RFL_CASE(4) RFL_CASE(5) RFL_CASE(6) RFL_CASE(7) RFL_CASE(8) RFL_CASE(9) RFL_CASE(10) RFL_CASE(11) RFL_CASE(12)
#undef RFL_CASE
  }
}

void biasAct(float* y, long rows, int n, const float* bias, Act act, float alpha) {
  for (long r = 0; r < rows; r++) {
    float* row = y + r * n;
    if (bias != nullptr)
      for (int j = 0; j < n; j++) row[j] += bias[j];
    if (act != Act::Linear)
      for (int j = 0; j < n; j++) row[j] = activate(row[j], act, alpha);
  }
}

void addRows(const float* a, long rows, int n, const float* b, float* y) {
  for (long r = 0; r < rows; r++)
    for (int j = 0; j < n; j++) y[r * n + j] = a[r * n + j] + b[j];
}

void sumRows(const float* x, long rows, int n, float* y) {
  // Double accumulators, in row order: the cpu backend sums in doubles too.
  std::vector<double> acc(n, 0.0);
  for (long r = 0; r < rows; r++)
    for (int j = 0; j < n; j++) acc[j] += x[r * n + j];
  for (int j = 0; j < n; j++) y[j] = (float)acc[j];
}

void conv2d(const ConvDims& d, const float* x, const float* w, const float* bias, Act act, float alpha, float* y, int threads) {
  const long P = (long)d.B * d.OH * d.OW;
  const int K = d.KH * d.KW * d.Cin;
  if (isPointwise(d)) {
    gemm((int)P, d.Cout, d.Cin, x, d.Cin, 1, w, d.Cout, 1, y, d.Cout, false, threads);
  } else {
    const long chunk = std::max(1L, CHUNK_FLOATS / K);
    std::vector<float>& cols = scratch(2);
    cols.resize((size_t)std::min(chunk, P) * K);
    for (long p0 = 0; p0 < P; p0 += chunk) {
      const long rows = std::min(chunk, P - p0);
      im2col(d, x, p0, rows, cols.data());
      gemm((int)rows, d.Cout, K, cols.data(), K, 1, w, d.Cout, 1, y + p0 * d.Cout, d.Cout, false, threads);
    }
  }
  if (bias != nullptr || act != Act::Linear) biasAct(y, P, d.Cout, bias, act, alpha);
}

void conv2dBackpropInput(const ConvDims& d, const float* dy, const float* w, float* dx, int threads) {
  const long P = (long)d.B * d.OH * d.OW;
  const int K = d.KH * d.KW * d.Cin;
  // w is [K, Cout]; the product needs wᵀ: element (co, k) at w[k·Cout + co].
  if (isPointwise(d)) {
    gemm((int)P, d.Cin, d.Cout, dy, d.Cout, 1, w, 1, d.Cout, dx, d.Cin, false, threads);
    return;
  }
  std::memset(dx, 0, sizeof(float) * d.B * d.H * d.W * d.Cin);
  const long chunk = std::max(1L, CHUNK_FLOATS / K);
  std::vector<float>& cols = scratch(2);
  cols.resize((size_t)std::min(chunk, P) * K);
  for (long p0 = 0; p0 < P; p0 += chunk) {
    const long rows = std::min(chunk, P - p0);
    gemm((int)rows, K, d.Cout, dy + p0 * d.Cout, d.Cout, 1, w, 1, d.Cout, cols.data(), K, false, threads);
    col2imAdd(d, cols.data(), p0, rows, dx);
  }
}

void conv2dBackpropFilter(const ConvDims& d, const float* x, const float* dy, float* dw, int threads) {
  const long P = (long)d.B * d.OH * d.OW;
  const int K = d.KH * d.KW * d.Cin;
  if (isPointwise(d)) {
    gemm(d.Cin, d.Cout, (int)P, x, 1, d.Cin, dy, d.Cout, 1, dw, d.Cout, false, threads);
    return;
  }
  const long chunk = std::max(1L, CHUNK_FLOATS / K);
  std::vector<float>& cols = scratch(2);
  cols.resize((size_t)std::min(chunk, P) * K);
  for (long p0 = 0; p0 < P; p0 += chunk) {
    const long rows = std::min(chunk, P - p0);
    im2col(d, x, p0, rows, cols.data());
    // dW[K, Cout] (+)= colsᵀ · dy: A(i = k, j = p) at cols[p·K + k].
    gemm(K, d.Cout, (int)rows, cols.data(), 1, K, dy + p0 * d.Cout, d.Cout, 1, dw, d.Cout, p0 > 0, threads);
  }
}

void maxPool(const PoolDims& d, const float* x, float* y) {
  long o = 0;
  for (int b = 0; b < d.B; b++) {
    const float* xb = x + (long)b * d.H * d.W * d.C;
    for (int oh = 0; oh < d.OH; oh++) {
      const int r0 = std::max(0, oh * d.sh - d.pt), r1 = std::min(d.H, oh * d.sh - d.pt + d.KH);
      for (int ow = 0; ow < d.OW; ow++, o += d.C) {
        const int c0 = std::max(0, ow * d.sw - d.pl), c1 = std::min(d.W, ow * d.sw - d.pl + d.KW);
        float* out = y + o;
        for (int ch = 0; ch < d.C; ch++) out[ch] = -INFINITY;
        for (int r = r0; r < r1; r++)
          for (int c = c0; c < c1; c++) {
            const float* px = xb + ((long)r * d.W + c) * d.C;
            for (int ch = 0; ch < d.C; ch++) out[ch] = px[ch] > out[ch] ? px[ch] : out[ch];
          }
      }
    }
  }
}

void maxPoolGrad(const PoolDims& d, const float* x, const float* dy, float* dx) {
  // Each output gradient goes to the first maximum of its window in row-major order (the cpu backend's rule
  // for ties); overlapping windows accumulate; padded positions never win.
  std::memset(dx, 0, sizeof(float) * d.B * d.H * d.W * d.C);
  long o = 0;
  for (int b = 0; b < d.B; b++) {
    const long xb = (long)b * d.H * d.W * d.C;
    for (int oh = 0; oh < d.OH; oh++) {
      const int r0 = std::max(0, oh * d.sh - d.pt), r1 = std::min(d.H, oh * d.sh - d.pt + d.KH);
      for (int ow = 0; ow < d.OW; ow++) {
        const int c0 = std::max(0, ow * d.sw - d.pl), c1 = std::min(d.W, ow * d.sw - d.pl + d.KW);
        for (int ch = 0; ch < d.C; ch++, o++) {
          long best = -1;
          float bestVal = -INFINITY;
          for (int r = r0; r < r1; r++)
            for (int c = c0; c < c1; c++) {
              const long p = xb + ((long)r * d.W + c) * d.C + ch;
              if (x[p] > bestVal || best < 0) bestVal = x[p], best = p;
            }
          if (best >= 0) dx[best] += dy[o];
        }
      }
    }
  }
}

void softmaxCrossEntropy(const float* logits, const float* labels, int rows, int n, float* loss, float* grad) {
  for (int r = 0; r < rows; r++) {
    const float* z = logits + (long)r * n;
    const float* t = labels + (long)r * n;
    float m = -INFINITY;
    for (int j = 0; j < n; j++) m = std::max(m, z[j]);
    double s = 0;
    for (int j = 0; j < n; j++) s += std::exp((double)z[j] - m);
    const double lse = m + std::log(s);
    double l = 0, tsum = 0;
    for (int j = 0; j < n; j++) l -= t[j] * ((double)z[j] - lse), tsum += t[j];
    loss[r] = (float)l;
    if (grad != nullptr)
      for (int j = 0; j < n; j++) grad[(long)r * n + j] = (float)(std::exp((double)z[j] - lse) * tsum - t[j]);
  }
}

}  // namespace RFL_ISA
}  // namespace rfl
