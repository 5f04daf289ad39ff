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
#include <cstdint>
#include <cstring>
#include <new>
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

/** Allocates on 64-byte boundaries, so packed panels never split a vector load across two cache lines. */
template <typename T>
struct CacheAligned {
  using value_type = T;
  CacheAligned() = default;
  template <typename U>
  CacheAligned(const CacheAligned<U>&) {}
  T* allocate(std::size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t(64))); }
  void deallocate(T* p, std::size_t) { ::operator delete(p, std::align_val_t(64)); }
  template <typename U>
  bool operator==(const CacheAligned<U>&) const { return true; }
  template <typename U>
  bool operator!=(const CacheAligned<U>&) const { return false; }
};
/** A float buffer for packed operands and scratch. */
using Buffer = std::vector<float, CacheAligned<float>>;

// Blocking of the matrix product (floats): a KC×(NB·VW) panel of B and an MR×KC panel of A stay in L1, an
// MC×KC block of A in L2. Measured on cnn-mnist's shapes, where K and N are small; larger ones lose little.
constexpr int KC = 256;
constexpr int NC = 2048;
constexpr int MC_TARGET = 144;
// Largest register tile height: MR·NB accumulators + NB B vectors + one broadcast fit the vector registers
// (32 on AVX-512, 16 elsewhere), and never more than 12 rows.
constexpr int REG_COUNT = VW == 16 ? 32 : 16;
constexpr int mrMax(int nb) { return std::min(12, (REG_COUNT - nb - 1) / nb); }

/** MR rows × NB·VW columns of C (+)= A panel · B panel over kc; `mr`, `nr` clip the tile at the matrix edge. */
template <int MR, int NB>
inline void microKernel(int kc, const float* __restrict ap, const float* __restrict bp, float* c, long ldc, int mr, int nr, bool add) {
  constexpr int PW = NB * VW;
  vf r[MR][NB];
  for (int i = 0; i < MR; i++)
    for (int v = 0; v < NB; v++) r[i][v] = vf{};
  for (int k = 0; k < kc; k++) {
    vf b[NB];
    for (int v = 0; v < NB; v++) b[v] = load(bp + (long)k * PW + v * VW);
    const float* a = ap + (long)k * MR;
    for (int i = 0; i < MR; i++) {
      const vf ai = splat(a[i]);
      for (int v = 0; v < NB; v++) r[i][v] += ai * b[v];
    }
  }
  if (nr == PW) {
    for (int i = 0; i < mr; i++) {
      float* ci = c + i * ldc;
      for (int v = 0; v < NB; v++) store(ci + v * VW, add ? load(ci + v * VW) + r[i][v] : r[i][v]);
    }
  } else {
    float t[PW];
    for (int i = 0; i < mr; i++) {
      for (int v = 0; v < NB; v++) store(t + v * VW, r[i][v]);
      float* ci = c + i * ldc;
      if (add)
        for (int j = 0; j < nr; j++) ci[j] += t[j];
      else
        for (int j = 0; j < nr; j++) ci[j] = t[j];
    }
  }
}

/** Packs rows [0, kc) × columns [0, nc) of B into panels `pw` floats wide, zero-padded past nc. */
void packB(int kc, int nc, int pw, const float* B, long rsb, long csb, float* out) {
  const int panels = (nc + pw - 1) / pw;
  for (int p = 0; p < panels; p++) {
    const int j0 = p * pw;
    const int w = std::min(pw, nc - j0);
    float* o = out + (long)p * kc * pw;
    if (csb == 1 && w == pw) {
      for (int k = 0; k < kc; k++) std::memcpy(o + (long)k * pw, B + k * rsb + j0, pw * sizeof(float));
    } else {
      for (int k = 0; k < kc; k++) {
        const float* src = B + k * rsb + j0 * csb;
        float* dst = o + (long)k * pw;
        int j = 0;
        for (; j < w; j++) dst[j] = src[j * csb];
        for (; j < pw; j++) dst[j] = 0.f;
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

Buffer& scratch(int slot) {
  thread_local Buffer buffers[3];
  return buffers[slot];
}

template <int MR, int NB>
void gemmMR(int M, int N, int K, const float* A, long rsa, long csa, const float* B, long rsb, long csb, float* C, long ldc, bool accumulate, int threads) {
  constexpr int PW = NB * VW;
  const int MC = MR * std::max(1, MC_TARGET / MR);
  Buffer& bpack = scratch(0);
  for (int jc = 0; jc < N; jc += NC) {
    const int nc = std::min(NC, N - jc);
    const int npanels = (nc + PW - 1) / PW;
    for (int pc = 0; pc < K; pc += KC) {
      const int kc = std::min(KC, K - pc);
      bpack.resize((size_t)npanels * kc * PW);
      packB(kc, nc, PW, B + pc * rsb + jc * csb, rsb, csb, bpack.data());
      const bool add = accumulate || pc > 0;
      const int blocks = (M + MC - 1) / MC;
      const float* bp = bpack.data();
      // Threads only where each gets real work; 2 MFLOP per block and thread at least.
      const double flops = 2.0 * M * nc * kc;
      const int t = flops < 2e6 * threads ? 1 : threads;
      parallelFor(blocks, t, [&](long b0, long b1) {
        Buffer& apack = scratch(1);
        apack.resize((size_t)MC * kc);
        for (long b = b0; b < b1; b++) {
          const int ic = (int)b * MC;
          const int mc = std::min(MC, M - ic);
          packA<MR>(mc, kc, A + ic * rsa + pc * csa, rsa, csa, apack.data());
          for (int jp = 0; jp < npanels; jp++) {
            const int nr = std::min(PW, nc - jp * PW);
            for (int ip = 0; ip * MR < mc; ip++) {
              const int mr = std::min(MR, mc - ip * MR);
              microKernel<MR, NB>(kc, apack.data() + (long)ip * kc * MR, bp + (long)jp * kc * PW, C + (long)(ic + ip * MR) * ldc + jc + jp * PW, ldc, mr, nr, add);
            }
          }
        }
      });
    }
  }
}

/** Tile height for M rows: M itself when small, else the height in [max − 4, max] that pads the fewest rows. */
int pickMR(int M, int max) {
  if (M <= max) return M;
  int best = max, waste = 1 << 30;
  for (int mr = max; mr >= max - 4; mr--) {
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

// Rows of the column matrix per chunk (backprop input with few channels), about 256 Ki floats (1 MiB, L2-sized).
constexpr long CHUNK_FLOATS = 1L << 18;

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
    for (int kh = 0; kh < d.KH; kh++, in += d.KW * d.Cin) {
      const int ih = oh * d.sh - d.pt + kh * d.dh;
      if (ih < 0 || ih >= d.H) continue;
      const int iw0 = ow * d.sw - d.pl;
      float* row = xb + (long)ih * d.W * d.Cin;
      if (d.dw == 1) {
        // Undilated: the window's columns kw0..kw1 are one contiguous run in both cols and dx.
        const int kw0 = std::max(0, -iw0), kw1 = std::min(d.KW, d.W - iw0);
        if (kw1 <= kw0) continue;
        float* o = row + (long)(iw0 + kw0) * d.Cin;
        const float* src = in + kw0 * d.Cin;
        const int n = (kw1 - kw0) * d.Cin;
        for (int c = 0; c < n; c++) o[c] += src[c];
        continue;
      }
      for (int kw = 0; kw < d.KW; kw++) {
        const int iw = iw0 + kw * d.dw;
        if (iw < 0 || iw >= d.W) continue;
        float* o = row + (long)iw * d.Cin;
        const float* src = in + kw * d.Cin;
        for (int c = 0; c < d.Cin; c++) o[c] += src[c];
      }
    }
  }
}

bool isPointwise(const ConvDims& d) {
  return d.KH == 1 && d.KW == 1 && d.sh == 1 && d.sw == 1 && d.pt == 0 && d.pl == 0 && d.OH == d.H && d.OW == d.W;
}


// ---- Implicit-GEMM convolutions -------------------------------------------------------------------------------
// The forward convolution and the filter gradient read the input where it lies (after one zero-padded copy when
// the convolution pads), instead of building an im2col matrix and packing it: on cnn-mnist's layers the two extra
// passes over P×K floats cost more than the products. Vectors run along the output channels; a tile is MR output
// pixels (forward) or MR filter rows (filter gradient) by NV vectors of channels.

/** Tile rows for NV vectors of channels: MR·NV accumulators + NV operands + one broadcast must fit the registers. */
// One vector of channels (cnn-mnist's 10 and 20... 16) takes up to 14 rows, so K = 25 splits into two tiles.
constexpr int tileRows(int nv) { return std::min(nv == 1 ? 14 : 12, (REG_COUNT - nv - 1) / nv); }

/** x with the convolution's padding made explicit: [B, Hp, Wp, C], zero borders; `x` itself when nothing pads. */
const float* padded(const ConvDims& d, const float* x, int& Hp, int& Wp, Buffer& buf) {
  const int needH = (d.OH - 1) * d.sh + (d.KH - 1) * d.dh + 1;
  const int needW = (d.OW - 1) * d.sw + (d.KW - 1) * d.dw + 1;
  Hp = std::max(d.H + d.pt, needH);
  Wp = std::max(d.W + d.pl, needW);
  if (d.pt == 0 && d.pl == 0 && Hp == d.H && Wp == d.W) return x;
  buf.assign((size_t)d.B * Hp * Wp * d.Cin, 0.f);
  for (int b = 0; b < d.B; b++)
    for (int i = 0; i < d.H; i++)
      std::memcpy(buf.data() + (((long)b * Hp + i + d.pt) * Wp + d.pl) * d.Cin, x + ((long)b * d.H + i) * d.W * d.Cin, sizeof(float) * d.W * d.Cin);
  return buf.data();
}

/** Rows of `src` ([rows, n]) copied with each row zero-padded to `ld` (a multiple of VW). */
const float* paddedRows(const float* src, long rows, int n, int ld, Buffer& buf) {
  if (ld == n && (reinterpret_cast<std::uintptr_t>(src) & 63) == 0) return src;
  buf.assign((size_t)rows * ld, 0.f);
  for (long r = 0; r < rows; r++) std::memcpy(buf.data() + r * ld, src + r * n, sizeof(float) * n);
  return buf.data();
}

/** Offset of filter row k = (kh, kw, ci) from a pixel's window corner in the padded input. */
inline long filterOffset(const ConvDims& d, int Wp, int k) {
  const int ci = k % d.Cin, kw = (k / d.Cin) % d.KW, kh = k / (d.Cin * d.KW);
  return ((long)kh * d.dh * Wp + (long)kw * d.dw) * d.Cin + ci;
}

/** Offset of output pixel p = (b, oh, ow)'s window corner in the padded input. */
inline long pixelOffset(const ConvDims& d, int Hp, int Wp, long p) {
  const long plane = (long)d.OH * d.OW;
  const long b = p / plane;
  const int rem = (int)(p % plane), oh = rem / d.OW, ow = rem % d.OW;
  return ((b * Hp + (long)oh * d.sh) * Wp + (long)ow * d.sw) * d.Cin;
}

/** Walks output pixels in order, giving each one's window-corner offset without a division per pixel. */
struct PixelWalk {
  long off;
  int ow, oh;
  const int OW, OH;
  const long stepW, stepH, stepB;
  PixelWalk(const ConvDims& d, int Hp, int Wp, long p)
      : off(pixelOffset(d, Hp, Wp, p)),
        ow((int)(p % ((long)d.OH * d.OW)) % d.OW),
        oh((int)(p % ((long)d.OH * d.OW)) / d.OW),
        OW(d.OW),
        OH(d.OH),
        stepW((long)d.sw * d.Cin),
        stepH((long)d.sh * Wp * d.Cin),
        stepB((long)(Hp - d.OH * d.sh) * Wp * d.Cin) {}
  void next() {
    off += stepW;
    if (++ow < OW) return;
    // Back to the row start, down one output row; past the last row, on to the next image.
    off += stepH - (long)OW * stepW;
    ow = 0;
    if (++oh < OH) return;
    off += stepB;
    oh = 0;
  }
};

/**
 * y[p, co0 + ·] for pixels [p0, p1) and NV vectors of output channels from co0: y = Σ_k xp[pixel(p) + off(k)]·w[k, ·].
 * `w` is [K, ldw] with zero-padded rows; `koff` holds off(k). A last partial tile repeats its last pixel (computed,
 * not stored).
 */
template <int NV>
void convTiles(const ConvDims& d, int Hp, int Wp, const float* xp, const float* w, int ldw, const long* koff, int K, float* y, int co0, long p0, long p1) {
  constexpr int MR = tileRows(NV);
  const int ncols = std::min(NV * VW, d.Cout - co0);
  for (long pt = p0; pt < p1; pt += MR) {
    const int mr = (int)std::min<long>(MR, p1 - pt);
    const float* base[MR];
    PixelWalk walk(d, Hp, Wp, pt);
    for (int i = 0; i < MR; i++) {
      base[i] = xp + walk.off;
      if (i + 1 < mr) walk.next();
    }
    vf acc[MR][NV];
    for (int i = 0; i < MR; i++)
      for (int v = 0; v < NV; v++) acc[i][v] = vf{};
    for (int k = 0; k < K; k++) {
      const float* wk = w + (long)k * ldw + co0;
      vf wv[NV];
      for (int v = 0; v < NV; v++) wv[v] = load(wk + v * VW);
      const long o = koff[k];
      for (int i = 0; i < MR; i++) {
        const vf a = splat(base[i][o]);
        for (int v = 0; v < NV; v++) acc[i][v] += a * wv[v];
      }
    }
    for (int i = 0; i < mr; i++) {
      float* out = y + (pt + i) * d.Cout + co0;
      // A whole-vector store past this pixel's channels lands on later pixels of this range, which are written
      // after it (pixels in order; the caller does partial column blocks first): exact copies only at the end.
      if (ncols == NV * VW || out + NV * VW <= y + p1 * d.Cout) {
        for (int v = 0; v < NV; v++) store(out + v * VW, acc[i][v]);
      } else {
        float t[NV * VW];
        for (int v = 0; v < NV; v++) store(t + v * VW, acc[i][v]);
        std::memcpy(out, t, sizeof(float) * ncols);
      }
    }
  }
}

/** The forward convolution (NHWC, any stride, dilation and padding), implicit GEMM, split over pixels across threads. */
void convImplicit(const ConvDims& d, const float* x, const float* w, float* y, int threads) {
  const int K = d.KH * d.KW * d.Cin;
  const int ldw = (d.Cout + VW - 1) / VW * VW;
  thread_local Buffer xbuf, wbuf;
  thread_local std::vector<long> koff;
  int Hp, Wp;
  const float* xp = padded(d, x, Hp, Wp, xbuf);
  const float* wp = paddedRows(w, K, d.Cout, ldw, wbuf);
  koff.resize(K);
  for (int k = 0; k < K; k++) koff[k] = filterOffset(d, Wp, k);
  const long P = (long)d.B * d.OH * d.OW;
  const long* ko = koff.data();
  const double flops = 2.0 * P * K * d.Cout;
  const int t = flops < 4e6 * threads ? 1 : threads;
  // Blocks of 168 pixels (a multiple of every tile height) for the threads to share.
  const long blocks = (P + 167) / 168;
  parallelFor((int)blocks, t, [&](long b0, long b1) {
    const long q0 = b0 * 168, q1 = std::min(P, b1 * 168);
    // Column blocks of up to 4 vectors, the last (partial) one first: see the store in convTiles.
    std::vector<int> starts, widths;
    for (int co0 = 0; co0 < d.Cout;) {
      const int left = (d.Cout - co0 + VW - 1) / VW;
      const int nv = left >= 4 ? 4 : left;
      starts.push_back(co0), widths.push_back(nv);
      co0 += nv * VW;
    }
    for (int j = (int)starts.size() - 1; j >= 0; j--) {
      switch (widths[j]) {
        case 4: convTiles<4>(d, Hp, Wp, xp, wp, ldw, ko, K, y, starts[j], q0, q1); break;
        case 3: convTiles<3>(d, Hp, Wp, xp, wp, ldw, ko, K, y, starts[j], q0, q1); break;
        case 2: convTiles<2>(d, Hp, Wp, xp, wp, ldw, ko, K, y, starts[j], q0, q1); break;
        default: convTiles<1>(d, Hp, Wp, xp, wp, ldw, ko, K, y, starts[j], q0, q1); break;
      }
    }
  });
}

/**
 * dw[k, co0 + ·] for filter rows [k0, k1) = Σ_p xp[pixel(p) + off(k)]·dy[p, ·], summed over pixels in chunks of 256
 * (registers), the chunks added in order into dw (zeroed by the caller): a fixed order, and short float sums.
 */
template <int NV>
void filterTiles(const ConvDims& d, int Hp, int Wp, const float* xp, const float* dy, int ldy, const long* koff, float* dw, int co0, int k0, int k1) {
  constexpr int MR = tileRows(NV);
  const int ncols = std::min(NV * VW, d.Cout - co0);
  const long P = (long)d.B * d.OH * d.OW;
  for (int kt = k0; kt < k1; kt += MR) {
    const int mr = std::min(MR, k1 - kt);
    long off[MR];
    for (int i = 0; i < MR; i++) off[i] = koff[kt + std::min(i, mr - 1)];
    float tot[MR][NV * VW];
    std::memset(tot, 0, sizeof tot);
    for (long c0 = 0; c0 < P; c0 += 256) {
      const long c1 = std::min(P, c0 + 256);
      vf acc[MR][NV];
      for (int i = 0; i < MR; i++)
        for (int v = 0; v < NV; v++) acc[i][v] = vf{};
      PixelWalk walk(d, Hp, Wp, c0);
      for (long p = c0; p < c1; p++, walk.next()) {
        const float* px = xp + walk.off;
        const float* g = dy + p * ldy + co0;
        vf gv[NV];
        for (int v = 0; v < NV; v++) gv[v] = load(g + v * VW);
        for (int i = 0; i < MR; i++) {
          const vf a = splat(px[off[i]]);
          for (int v = 0; v < NV; v++) acc[i][v] += a * gv[v];
        }
      }
      for (int i = 0; i < MR; i++)
        for (int v = 0; v < NV; v++) store(tot[i] + v * VW, load(tot[i] + v * VW) + acc[i][v]);
    }
    for (int i = 0; i < mr; i++) std::memcpy(dw + (long)(kt + i) * d.Cout + co0, tot[i], sizeof(float) * ncols);
  }
}

/**
 * The filter gradient of a one-channel input with at most one vector of output channels and a KH×KW window
 * known at compile time (a first layer on grey images): all KH·KW filter rows stay in registers while the
 * pixels stream past once, and each pixel's window is read through KH row pointers with constant offsets
 * instead of a table of offsets. Pixel chunks of 256, summed in order, as in filterTiles.
 */
template <int KH, int KW>
void filterOneChannel(const ConvDims& d, int Hp, int Wp, const float* xp, const float* dy, int ldy, float* dw) {
  const long P = (long)d.B * d.OH * d.OW;
  float tot[KH * KW][VW];
  std::memset(tot, 0, sizeof tot);
  for (long c0 = 0; c0 < P; c0 += 256) {
    const long c1 = std::min(P, c0 + 256);
    vf acc[KH][KW];
    for (int i = 0; i < KH; i++)
      for (int j = 0; j < KW; j++) acc[i][j] = vf{};
    PixelWalk walk(d, Hp, Wp, c0);
    for (long p = c0; p < c1; p++, walk.next()) {
      const vf g = load(dy + p * ldy);
      const float* px = xp + walk.off;
      for (int i = 0; i < KH; i++) {
        const float* row = px + (long)i * d.dh * Wp;
        for (int j = 0; j < KW; j++) acc[i][j] += splat(row[j]) * g;
      }
    }
    for (int i = 0; i < KH; i++)
      for (int j = 0; j < KW; j++) store(tot[i * KW + j], load(tot[i * KW + j]) + acc[i][j]);
  }
  for (int k = 0; k < KH * KW; k++) std::memcpy(dw + (long)k * d.Cout, tot[k], sizeof(float) * d.Cout);
}

/** The filter gradient, implicit GEMM; threads split the filter rows (each output summed by one thread, in one order). */
void filterImplicit(const ConvDims& d, const float* x, const float* dy, float* dw, int threads) {
  const int K = d.KH * d.KW * d.Cin;
  const int ldy = (d.Cout + VW - 1) / VW * VW;
  thread_local Buffer xbuf, ybuf;
  thread_local std::vector<long> koff;
  int Hp, Wp;
  const float* xp = padded(d, x, Hp, Wp, xbuf);
  const long P = (long)d.B * d.OH * d.OW;
  const float* g = paddedRows(dy, P, d.Cout, ldy, ybuf);
  if (d.Cin == 1 && d.Cout <= VW && d.dw == 1 && threads == 1) {
    // All filter rows in registers: 25 + 2 vectors fit AVX-512's 32 registers, 9 + 2 fit 16.
    if (d.KH == 3 && d.KW == 3) return filterOneChannel<3, 3>(d, Hp, Wp, xp, g, ldy, dw);
    if (VW == 16 && d.KH == 5 && d.KW == 5) return filterOneChannel<5, 5>(d, Hp, Wp, xp, g, ldy, dw);
  }
  koff.resize(K);
  for (int k = 0; k < K; k++) koff[k] = filterOffset(d, Wp, k);
  const long* ko = koff.data();
  const double flops = 2.0 * P * K * d.Cout;
  const int t = flops < 4e6 * threads ? 1 : threads;
  // Row blocks for the threads to share: one tile height when there are few rows, else 12·14 (whole tiles of both heights).
  const int rowsPer = K <= 28 ? K : 168;
  const int blocks = (K + rowsPer - 1) / rowsPer;
  parallelFor(blocks, t, [&](long b0, long b1) {
    const int k0 = (int)b0 * rowsPer, k1 = std::min(K, (int)b1 * rowsPer);
    for (int co0 = 0; co0 < d.Cout;) {
      const int left = (d.Cout - co0 + VW - 1) / VW;
      if (left >= 2) {
        filterTiles<2>(d, Hp, Wp, xp, g, ldy, ko, dw, co0, k0, k1);
        co0 += 2 * VW;
      } else {
        filterTiles<1>(d, Hp, Wp, xp, g, ldy, ko, dw, co0, k0, k1);
        co0 += VW;
      }
    }
  });
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
  // Panels two vectors wide where N fills them (twice the multiply-adds per load of A), else one.
  if (N >= 2 * VW) {
    switch (pickMR(M, mrMax(2))) {
#define RFL_CASE(R) \
  case R:           \
    return gemmMR<R, 2>(M, N, K, A, rsa, csa, B, rsb, csb, C, ldc, accumulate, threads);
      RFL_CASE(1) RFL_CASE(2) RFL_CASE(3) RFL_CASE(4) RFL_CASE(5) RFL_CASE(6) RFL_CASE(7) RFL_CASE(8) RFL_CASE(9) RFL_CASE(10) RFL_CASE(11) RFL_CASE(12)
#undef RFL_CASE
    }
  }
  switch (pickMR(M, mrMax(1))) {
#define RFL_CASE(R) \
  case R:           \
    return gemmMR<R, 1>(M, N, K, A, rsa, csa, B, rsb, csb, C, ldc, accumulate, threads);
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
  if (isPointwise(d)) {
    gemm((int)P, d.Cout, d.Cin, x, d.Cin, 1, w, d.Cout, 1, y, d.Cout, false, threads);
  } else {
    convImplicit(d, x, w, y, threads);
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
  if (d.Cin == 1 && d.sw == 1) {
    // One input channel (a first layer on grey images, the input gradient of every attack): the product
    // transposed, colsᵀ[k, p] = Σ_co w[k, co]·dy[p, co], whose rows add into dx as contiguous runs of OW values.
    std::memset(dx, 0, sizeof(float) * d.B * d.H * d.W);
    const long rowsOut = (long)d.B * d.OH;
    const long chunkRows = std::max(1L, CHUNK_FLOATS / ((long)K * d.OW));
    Buffer& cols = scratch(2);
    cols.resize((size_t)std::min(chunkRows, rowsOut) * d.OW * K);
    for (long r0 = 0; r0 < rowsOut; r0 += chunkRows) {
      const long rows = std::min(chunkRows, rowsOut - r0);
      const long pc = rows * d.OW;
      gemm(K, (int)pc, d.Cout, w, d.Cout, 1, dy + r0 * d.OW * d.Cout, 1, d.Cout, cols.data(), pc, false, threads);
      for (long r = 0; r < rows; r++) {
        const int b = (int)((r0 + r) / d.OH), oh = (int)((r0 + r) % d.OH);
        for (int k = 0; k < K; k++) {
          const int kh = k / d.KW, kw = k % d.KW;
          const int ih = oh * d.sh - d.pt + kh * d.dh;
          if (ih < 0 || ih >= d.H) continue;
          const int iw0 = kw * d.dw - d.pl;
          const int lo = std::max(0, -iw0), hi = std::min(d.OW, d.W - iw0);
          float* o = dx + ((long)b * d.H + ih) * d.W + iw0;
          const float* c = cols.data() + (long)k * pc + r * d.OW;
          for (int ow = lo; ow < hi; ow++) o[ow] += c[ow];
        }
      }
    }
    return;
  }
  // dx = col2im(dy · wᵀ): a product with K = KH·KW·Cin columns, then a scatter-add. (The other forms: a forward
  // convolution of the zero-padded dy with the flipped filter does (H·W)/(OH·OW) times the work, 2.25× on
  // cnn-mnist's second layer, and measured 2.1× slower there; scattering dy through the filter with vectors along
  // the input channels measured 1.25× slower.)
  std::memset(dx, 0, sizeof(float) * d.B * d.H * d.W * d.Cin);
  const long chunk = std::max(1L, CHUNK_FLOATS / K);
  Buffer& cols = scratch(2);
  cols.resize((size_t)std::min(chunk, P) * K);
  for (long p0 = 0; p0 < P; p0 += chunk) {
    const long rows = std::min(chunk, P - p0);
    gemm((int)rows, K, d.Cout, dy + p0 * d.Cout, d.Cout, 1, w, 1, d.Cout, cols.data(), K, false, threads);
    col2imAdd(d, cols.data(), p0, rows, dx);
  }
}

void conv2dBackpropFilter(const ConvDims& d, const float* x, const float* dy, float* dw, int threads) {
  if (isPointwise(d)) {
    gemm(d.Cin, d.Cout, (int)((long)d.B * d.OH * d.OW), x, 1, d.Cin, dy, d.Cout, 1, dw, d.Cout, false, threads);
    return;
  }
  filterImplicit(d, x, dy, dw, threads);
}

/** The common 2×2, stride-2, unpadded pool: each output row from two input rows, channels innermost. */
bool isPool2x2(const PoolDims& d) { return d.KH == 2 && d.KW == 2 && d.sh == 2 && d.sw == 2 && d.pt == 0 && d.pl == 0 && 2 * d.OH <= d.H && 2 * d.OW <= d.W; }

void maxPool(const PoolDims& d, const float* x, float* y) {
  if (isPool2x2(d)) {
    const long row = (long)d.W * d.C;
    for (int b = 0; b < d.B; b++)
      for (int oh = 0; oh < d.OH; oh++) {
        const float* r0 = x + ((long)b * d.H + 2 * oh) * row;
        const float* r1 = r0 + row;
        float* out = y + (((long)b * d.OH + oh) * d.OW) * d.C;
        for (int ow = 0; ow < d.OW; ow++, out += d.C) {
          const float *a = r0 + 2L * ow * d.C, *c = r1 + 2L * ow * d.C;
          for (int ch = 0; ch < d.C; ch++) {
            // In the cpu backend's order (a, b, c, d), keeping the first of equal values.
            float m = a[ch];
            m = a[ch + d.C] > m ? a[ch + d.C] : m;
            m = c[ch] > m ? c[ch] : m;
            m = c[ch + d.C] > m ? c[ch + d.C] : m;
            out[ch] = m;
          }
        }
      }
    return;
  }
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
  if (isPool2x2(d)) {
    // Windows do not overlap: every input position gets its window's gradient or zero, written once.
    const long row = (long)d.W * d.C;
    for (int b = 0; b < d.B; b++) {
      for (int oh = 0; oh < d.OH; oh++) {
        const long r0 = ((long)b * d.H + 2 * oh) * row;
        const float* g = dy + (((long)b * d.OH + oh) * d.OW) * d.C;
        for (int ow = 0; ow < d.OW; ow++, g += d.C) {
          const long a = r0 + 2L * ow * d.C;
          for (int ch = 0; ch < d.C; ch++) {
            const long pa = a + ch, pb = pa + d.C, pc = pa + row, pd = pc + d.C;
            int best = 0;
            float m = x[pa];
            if (x[pb] > m) m = x[pb], best = 1;
            if (x[pc] > m) m = x[pc], best = 2;
            if (x[pd] > m) best = 3;
            dx[pa] = best == 0 ? g[ch] : 0.f;
            dx[pb] = best == 1 ? g[ch] : 0.f;
            dx[pc] = best == 2 ? g[ch] : 0.f;
            dx[pd] = best == 3 ? g[ch] : 0.f;
          }
        }
      }
      // Rows and columns past the last whole window (odd sizes) get no gradient.
      for (int r = 2 * d.OH; r < d.H; r++) std::memset(dx + ((long)b * d.H + r) * row, 0, sizeof(float) * row);
      if (2 * d.OW < d.W)
        for (int r = 0; r < 2 * d.OH; r++) std::memset(dx + ((long)b * d.H + r) * row + 2L * d.OW * d.C, 0, sizeof(float) * (d.W - 2 * d.OW) * d.C);
    }
    return;
  }
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

void sgdMomentum(float* w, float* v, const float* g, long n, float lr, float mu) {
  // PyTorch's rule, as shared/train/sgd.ts writes it with tfjs ops: v ← μ·v + g; w ← w − lr·v (μ = 0: w ← w − lr·g).
  if (mu == 0.f) {
    for (long i = 0; i < n; i++) w[i] -= lr * g[i];
    return;
  }
  for (long i = 0; i < n; i++) {
    v[i] = mu * v[i] + g[i];
    w[i] -= lr * v[i];
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
