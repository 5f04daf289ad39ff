// The kernels every instruction-set build provides. kernels.cc is compiled once per instruction set (see
// binding.gyp), each time with RFL_ISA naming the namespace, so the three builds link side by side and
// addon.cc picks one at load time by cpuid.
#pragma once
#include <cstdint>

namespace rfl {

/** One NHWC convolution's sizes (tfjs's Conv2DInfo, flattened). */
struct ConvDims {
  int B, H, W, Cin, Cout, OH, OW, KH, KW, sh, sw, dh, dw, pt, pl;
};

/** One NHWC pooling's sizes. */
struct PoolDims {
  int B, H, W, C, OH, OW, KH, KW, sh, sw, pt, pl;
};

/** Elementwise epilogue after a product: none, ReLU, ReLU6, leaky ReLU (alpha). */
enum class Act : int { Linear = 0, Relu = 1, Relu6 = 2, LeakyRelu = 3 };

#define RFL_DECLARE_KERNELS(NS)                                                                                                          \
  namespace NS {                                                                                                                         \
  /* C[M,N] (row stride ldc) = A·B (+ C when accumulate); A(i,k) at A[i*rsa + k*csa], B(k,j) at B[k*rsb + j*csb]. */                    \
  void gemm(int M, int N, int K, const float* A, long rsa, long csa, const float* B, long rsb, long csb, float* C, long ldc, bool accumulate, \
            int threads);                                                                                                                \
  void conv2d(const ConvDims& d, const float* x, const float* w, const float* bias, Act act, float alpha, float* y, int threads);         \
  void conv2dBackpropInput(const ConvDims& d, const float* dy, const float* w, float* dx, int threads);                                   \
  void conv2dBackpropFilter(const ConvDims& d, const float* x, const float* dy, float* dw, int threads);                                  \
  void maxPool(const PoolDims& d, const float* x, float* y);                                                                             \
  void maxPoolGrad(const PoolDims& d, const float* x, const float* dy, float* dx);                                                       \
  void biasAct(float* y, long rows, int n, const float* bias, Act act, float alpha);                                                     \
  void addRows(const float* a, long rows, int n, const float* b, float* y);                                                              \
  void sumRows(const float* x, long rows, int n, float* y);                                                                              \
  void softmaxCrossEntropy(const float* logits, const float* labels, int rows, int n, float* loss, float* grad);                         \
  void sgdMomentum(float* w, float* v, const float* g, long n, float lr, float mu);                                                      \
  const char* isa();                                                                                                                     \
  }

RFL_DECLARE_KERNELS(avx512)
RFL_DECLARE_KERNELS(avx2)
RFL_DECLARE_KERNELS(portable)

}  // namespace rfl
