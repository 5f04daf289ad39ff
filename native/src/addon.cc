// The N-API surface of the native kernels. Every array argument is a Float32Array (for the wasm backend, a view
// of its heap: the kernels read and write the backend's own memory, nothing is copied); sizes come as one
// Int32Array. The instruction set is chosen once, at load, by cpuid: AVX-512, else AVX2 with FMA, else the
// portable build. RFL_NATIVE_ISA=avx2|portable forces a lower one (for tests and benchmarks).
#include <node_api.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "aes_ctr.h"
#include "kernels.h"

namespace {

struct Table {
  const char* (*isa)();
  void (*gemm)(int, int, int, const float*, long, long, const float*, long, long, float*, long, bool, int);
  void (*conv2d)(const rfl::ConvDims&, const float*, const float*, const float*, rfl::Act, float, float*, int);
  void (*conv2dBackpropInput)(const rfl::ConvDims&, const float*, const float*, float*, int);
  void (*conv2dBackpropFilter)(const rfl::ConvDims&, const float*, const float*, float*, int);
  void (*maxPool)(const rfl::PoolDims&, const float*, float*);
  void (*maxPoolGrad)(const rfl::PoolDims&, const float*, const float*, float*);
  void (*biasAct)(float*, long, int, const float*, rfl::Act, float);
  void (*addRows)(const float*, long, int, const float*, float*);
  void (*sumRows)(const float*, long, int, float*);
  void (*softmaxCrossEntropy)(const float*, const float*, int, int, float*, float*);
  void (*sgdMomentum)(float*, float*, const float*, long, float, float);
};

#define RFL_TABLE(NS)                                                                                                          \
  Table {                                                                                                                      \
    rfl::NS::isa, rfl::NS::gemm, rfl::NS::conv2d, rfl::NS::conv2dBackpropInput, rfl::NS::conv2dBackpropFilter, rfl::NS::maxPool, \
        rfl::NS::maxPoolGrad, rfl::NS::biasAct, rfl::NS::addRows, rfl::NS::sumRows, rfl::NS::softmaxCrossEntropy, rfl::NS::sgdMomentum \
  }

Table pickTable() {
  const char* forced = std::getenv("RFL_NATIVE_ISA");
  const std::string f = forced != nullptr ? forced : "";
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw") &&
                      __builtin_cpu_supports("avx512dq");
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (f != "avx2" && f != "portable" && avx512) return RFL_TABLE(avx512);
  if (f != "portable" && avx2) return RFL_TABLE(avx2);
#endif
  return RFL_TABLE(portable);
}

const Table K = pickTable();
// Per JavaScript thread: the pool's worker threads share this library, and each keeps its own count.
thread_local int threads = 1;

#define CHECK(call)                                                 \
  do {                                                              \
    if ((call) != napi_ok) {                                        \
      napi_throw_error(env, "ERR_RFL_NATIVE", "N-API call failed"); \
      return nullptr;                                               \
    }                                                               \
  } while (0)

/** Throws a TypeError naming the argument and returns false unless `v` is a Float32Array (or null where allowed). */
bool floats(napi_env env, napi_value v, const char* name, float** out, size_t* length, bool nullable = false) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (nullable && (t == napi_null || t == napi_undefined)) {
    *out = nullptr;
    if (length != nullptr) *length = 0;
    return true;
  }
  bool is = false;
  napi_is_typedarray(env, v, &is);
  napi_typedarray_type type;
  size_t n = 0;
  void* data = nullptr;
  if (is) napi_get_typedarray_info(env, v, &type, &n, &data, nullptr, nullptr);
  if (!is || type != napi_float32_array) {
    napi_throw_type_error(env, "ERR_RFL_NATIVE_ARG", (std::string(name) + ": expected a Float32Array").c_str());
    return false;
  }
  *out = static_cast<float*>(data);
  if (length != nullptr) *length = n;
  return true;
}

bool ints(napi_env env, napi_value v, const char* name, const int32_t** out, size_t want) {
  bool is = false;
  napi_is_typedarray(env, v, &is);
  napi_typedarray_type type;
  size_t n = 0;
  void* data = nullptr;
  if (is) napi_get_typedarray_info(env, v, &type, &n, &data, nullptr, nullptr);
  if (!is || type != napi_int32_array || n < want) {
    napi_throw_type_error(env, "ERR_RFL_NATIVE_ARG", (std::string(name) + ": expected an Int32Array of " + std::to_string(want)).c_str());
    return false;
  }
  *out = static_cast<const int32_t*>(data);
  return true;
}

bool enough(napi_env env, size_t have, long need, const char* name) {
  if (need < 0 || have < static_cast<size_t>(need)) {
    napi_throw_range_error(env, "ERR_RFL_NATIVE_ARG", (std::string(name) + ": array too short for the sizes given").c_str());
    return false;
  }
  return true;
}

/** A Float32Array of at least `need` elements (null allowed where `nullable`), or a thrown error naming it. */
bool sized(napi_env env, napi_value v, const char* name, long need, float** out, bool nullable = false) {
  size_t n = 0;
  if (!floats(env, v, name, out, &n, nullable)) return false;
  return *out == nullptr || enough(env, n, need, name);
}

template <size_t N>
bool args(napi_env env, napi_callback_info info, napi_value (&argv)[N]) {
  size_t argc = N;
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc < N) {
    napi_throw_type_error(env, "ERR_RFL_NATIVE_ARG", ("expected " + std::to_string(N) + " arguments").c_str());
    return false;
  }
  return true;
}

double number(napi_env env, napi_value v) {
  double d = 0;
  napi_get_value_double(env, v, &d);
  return d;
}

rfl::ConvDims convDims(const int32_t* s) { return {s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], s[8], s[9], s[10], s[11], s[12], s[13], s[14]}; }
rfl::PoolDims poolDims(const int32_t* s) { return {s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], s[8], s[9], s[10], s[11]}; }

// matMul(dims[B_a, B_b, M, N, K, transA, transB, act], a, b, bias|null, alpha, y): y[b] = act(op(a[b])·op(b[b]) + bias).
napi_value MatMul(napi_env env, napi_callback_info info) {
  napi_value a[6];
  const int32_t* s;
  if (!args(env, info, a) || !ints(env, a[0], "dims", &s, 8)) return nullptr;
  const int ba = s[0], bb = s[1], M = s[2], N = s[3], Kd = s[4];
  const bool ta = s[5] != 0, tb = s[6] != 0;
  const auto act = static_cast<rfl::Act>(s[7]);
  const int batch = ba > bb ? ba : bb;
  float *A, *B, *bias, *Y;
  if (!sized(env, a[1], "a", (long)ba * M * Kd, &A) || !sized(env, a[2], "b", (long)bb * Kd * N, &B) || !sized(env, a[3], "bias", N, &bias, true) ||
      !sized(env, a[5], "y", (long)batch * M * N, &Y))
    return nullptr;
  const float alpha = static_cast<float>(number(env, a[4]));
  for (int i = 0; i < batch; i++) {
    const float* Ai = A + (ba == 1 ? 0 : (long)i * M * Kd);
    const float* Bi = B + (bb == 1 ? 0 : (long)i * Kd * N);
    float* Yi = Y + (long)i * M * N;
    // op(a) is [M, K]: a stored [M, K] (rows of K) or, transposed, [K, M].
    K.gemm(M, N, Kd, Ai, ta ? 1 : Kd, ta ? M : 1, Bi, tb ? 1 : N, tb ? Kd : 1, Yi, N, false, threads);
    if (bias != nullptr || act != rfl::Act::Linear) K.biasAct(Yi, M, N, bias, act, alpha);
  }
  return nullptr;
}

long convIn(const rfl::ConvDims& d) { return (long)d.B * d.H * d.W * d.Cin; }
long convOut(const rfl::ConvDims& d) { return (long)d.B * d.OH * d.OW * d.Cout; }
long convFilter(const rfl::ConvDims& d) { return (long)d.KH * d.KW * d.Cin * d.Cout; }
long poolIn(const rfl::PoolDims& d) { return (long)d.B * d.H * d.W * d.C; }
long poolOut(const rfl::PoolDims& d) { return (long)d.B * d.OH * d.OW * d.C; }

// conv2d(dims[15 + act], x, w, bias|null, alpha, y)
napi_value Conv2D(napi_env env, napi_callback_info info) {
  napi_value a[6];
  const int32_t* s;
  if (!args(env, info, a) || !ints(env, a[0], "dims", &s, 16)) return nullptr;
  const rfl::ConvDims d = convDims(s);
  float *x, *w, *bias, *y;
  if (!sized(env, a[1], "x", convIn(d), &x) || !sized(env, a[2], "filter", convFilter(d), &w) || !sized(env, a[3], "bias", d.Cout, &bias, true) ||
      !sized(env, a[5], "y", convOut(d), &y))
    return nullptr;
  K.conv2d(d, x, w, bias, static_cast<rfl::Act>(s[15]), static_cast<float>(number(env, a[4])), y, threads);
  return nullptr;
}

// conv2dBackpropInput(dims[15], dy, w, dx)
napi_value Conv2DBackpropInput(napi_env env, napi_callback_info info) {
  napi_value a[4];
  const int32_t* s;
  if (!args(env, info, a) || !ints(env, a[0], "dims", &s, 15)) return nullptr;
  const rfl::ConvDims d = convDims(s);
  float *dy, *w, *dx;
  if (!sized(env, a[1], "dy", convOut(d), &dy) || !sized(env, a[2], "filter", convFilter(d), &w) || !sized(env, a[3], "dx", convIn(d), &dx)) return nullptr;
  K.conv2dBackpropInput(d, dy, w, dx, threads);
  return nullptr;
}

// conv2dBackpropFilter(dims[15], x, dy, dw)
napi_value Conv2DBackpropFilter(napi_env env, napi_callback_info info) {
  napi_value a[4];
  const int32_t* s;
  if (!args(env, info, a) || !ints(env, a[0], "dims", &s, 15)) return nullptr;
  const rfl::ConvDims d = convDims(s);
  float *x, *dy, *dw;
  if (!sized(env, a[1], "x", convIn(d), &x) || !sized(env, a[2], "dy", convOut(d), &dy) || !sized(env, a[3], "dw", convFilter(d), &dw)) return nullptr;
  K.conv2dBackpropFilter(d, x, dy, dw, threads);
  return nullptr;
}

// maxPool(dims[12], x, y)
napi_value MaxPool(napi_env env, napi_callback_info info) {
  napi_value a[3];
  const int32_t* s;
  if (!args(env, info, a) || !ints(env, a[0], "dims", &s, 12)) return nullptr;
  const rfl::PoolDims d = poolDims(s);
  float *x, *y;
  if (!sized(env, a[1], "x", poolIn(d), &x) || !sized(env, a[2], "y", poolOut(d), &y)) return nullptr;
  K.maxPool(d, x, y);
  return nullptr;
}

// maxPoolGrad(dims[12], x, dy, dx)
napi_value MaxPoolGrad(napi_env env, napi_callback_info info) {
  napi_value a[4];
  const int32_t* s;
  if (!args(env, info, a) || !ints(env, a[0], "dims", &s, 12)) return nullptr;
  const rfl::PoolDims d = poolDims(s);
  float *x, *dy, *dx;
  if (!sized(env, a[1], "x", poolIn(d), &x) || !sized(env, a[2], "dy", poolOut(d), &dy) || !sized(env, a[3], "dx", poolIn(d), &dx)) return nullptr;
  K.maxPoolGrad(d, x, dy, dx);
  return nullptr;
}

// addRows(a, b, y): y = a + b, b of length n broadcast over the rows of a (a.length / n of them).
napi_value AddRows(napi_env env, napi_callback_info info) {
  napi_value a[3];
  if (!args(env, info, a)) return nullptr;
  float *x, *b, *y;
  size_t nx, nb, ny;
  if (!floats(env, a[0], "a", &x, &nx) || !floats(env, a[1], "b", &b, &nb) || !floats(env, a[2], "y", &y, &ny)) return nullptr;
  if (nb == 0 || nx % nb != 0 || !enough(env, ny, (long)nx, "y")) {
    napi_throw_range_error(env, "ERR_RFL_NATIVE_ARG", "addRows: a's length must be a multiple of b's");
    return nullptr;
  }
  K.addRows(x, (long)(nx / nb), (int)nb, b, y);
  return nullptr;
}

// sumRows(x, y): y[j] = Σ_r x[r·n + j], n = y.length.
napi_value SumRows(napi_env env, napi_callback_info info) {
  napi_value a[2];
  if (!args(env, info, a)) return nullptr;
  float *x, *y;
  size_t nx, ny;
  if (!floats(env, a[0], "x", &x, &nx) || !floats(env, a[1], "y", &y, &ny)) return nullptr;
  if (ny == 0 || nx % ny != 0) {
    napi_throw_range_error(env, "ERR_RFL_NATIVE_ARG", "sumRows: x's length must be a multiple of y's");
    return nullptr;
  }
  K.sumRows(x, (long)(nx / ny), (int)ny, y);
  return nullptr;
}

// softmaxCrossEntropy(logits, labels, loss, grad|null): per row, loss = −Σ t·log softmax(z); grad = softmax(z)·Σt − t.
napi_value SoftmaxCrossEntropy(napi_env env, napi_callback_info info) {
  napi_value a[4];
  if (!args(env, info, a)) return nullptr;
  float *z, *t, *loss, *grad;
  size_t nz, nt, nl, ng;
  if (!floats(env, a[0], "logits", &z, &nz) || !floats(env, a[1], "labels", &t, &nt) || !floats(env, a[2], "loss", &loss, &nl) || !floats(env, a[3], "grad", &grad, &ng, true))
    return nullptr;
  if (nl == 0 || nz % nl != 0 || nt != nz || (grad != nullptr && ng < nz)) {
    napi_throw_range_error(env, "ERR_RFL_NATIVE_ARG", "softmaxCrossEntropy: logits and labels must be [rows, n] with rows = loss.length");
    return nullptr;
  }
  K.softmaxCrossEntropy(z, t, (int)nl, (int)(nz / nl), loss, grad);
  return nullptr;
}

// sgdMomentum(w, v, g, lr, mu): in place, v ← μ·v + g; w ← w − lr·v.
napi_value SgdMomentum(napi_env env, napi_callback_info info) {
  napi_value a[5];
  if (!args(env, info, a)) return nullptr;
  float *w, *v, *g;
  size_t nw, nv, ng;
  if (!floats(env, a[0], "w", &w, &nw) || !floats(env, a[1], "v", &v, &nv) || !floats(env, a[2], "g", &g, &ng)) return nullptr;
  if (nv != nw || ng != nw) {
    napi_throw_range_error(env, "ERR_RFL_NATIVE_ARG", "sgdMomentum: w, v and g must have the same length");
    return nullptr;
  }
  K.sgdMomentum(w, v, g, (long)nw, static_cast<float>(number(env, a[3])), static_cast<float>(number(env, a[4])));
  return nullptr;
}

napi_value Isa(napi_env env, napi_callback_info) {
  napi_value v;
  CHECK(napi_create_string_utf8(env, K.isa(), NAPI_AUTO_LENGTH, &v));
  return v;
}

// setThreads(n): intra-op threads for this thread's kernels from now on (1 = none); returns the previous count.
napi_value SetThreads(napi_env env, napi_callback_info info) {
  napi_value a[1];
  if (!args(env, info, a)) return nullptr;
  const double n = number(env, a[0]);
  if (!(n >= 1 && n <= 256) || n != static_cast<int>(n)) {
    napi_throw_range_error(env, "ERR_RFL_NATIVE_ARG", "setThreads: expected an integer in [1, 256]");
    return nullptr;
  }
  napi_value prev;
  CHECK(napi_create_int32(env, threads, &prev));
  threads = static_cast<int>(n);
  return prev;
}


// Whether the mask PRG runs here (AES-NI present): aesCtrAvailable() -> boolean.
napi_value AesCtrAvailable(napi_env env, napi_callback_info) {
  napi_value r;
  CHECK(napi_get_boolean(env, rfl::aesCtrAvailable(), &r));
  return r;
}

/** A typed array of the given type, or a thrown TypeError naming it. */
bool typed(napi_env env, napi_value v, napi_typedarray_type want, const char* name, const char* what, void** out, size_t* n) {
  bool is = false;
  napi_is_typedarray(env, v, &is);
  napi_typedarray_type type;
  if (is) napi_get_typedarray_info(env, v, &type, n, out, nullptr, nullptr);
  if (!is || type != want) {
    napi_throw_type_error(env, "ERR_RFL_NATIVE_ARG", (std::string(name) + ": expected " + what).c_str());
    return false;
  }
  return true;
}

// aesCtrMasks(target: Uint32Array, keys: Uint8Array (32 bytes a term), modes: Int32Array (+1, -1 or 0 a term)):
// for each term in order, target ± PRG(key) mod 2^32 (mode 0: target = PRG(key)); shared/secagg/prg.ts.
napi_value AesCtrMasks(napi_env env, napi_callback_info info) {
  napi_value a[3];
  if (!args(env, info, a)) return nullptr;
  void *t, *k, *m;
  size_t words = 0, keyBytes = 0, terms = 0;
  if (!typed(env, a[0], napi_uint32_array, "target", "a Uint32Array", &t, &words) || !typed(env, a[1], napi_uint8_array, "keys", "a Uint8Array", &k, &keyBytes) ||
      !typed(env, a[2], napi_int32_array, "modes", "an Int32Array", &m, &terms))
    return nullptr;
  if (!rfl::aesCtrAvailable()) {
    napi_throw_error(env, "ERR_RFL_NATIVE_AES", "aesCtrMasks: this CPU has no AES-NI");
    return nullptr;
  }
  if (keyBytes != 32 * terms) {
    napi_throw_range_error(env, "ERR_RFL_NATIVE_ARG", "keys: expected 32 bytes for each mode");
    return nullptr;
  }
  const auto* modes = static_cast<const int32_t*>(m);
  for (size_t i = 0; i < terms; i++) {
    if (modes[i] < -1 || modes[i] > 1) {
      napi_throw_range_error(env, "ERR_RFL_NATIVE_ARG", "modes: expected +1, -1 or 0");
      return nullptr;
    }
  }
  for (size_t i = 0; i < terms; i++) rfl::aesCtrMask(static_cast<uint32_t*>(t), words, static_cast<const uint8_t*>(k) + 32 * i, modes[i]);
  return nullptr;
}

napi_value Init(napi_env env, napi_value exports) {
  const napi_property_descriptor props[] = {
      {"isa", nullptr, Isa, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"setThreads", nullptr, SetThreads, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"matMul", nullptr, MatMul, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"conv2d", nullptr, Conv2D, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"conv2dBackpropInput", nullptr, Conv2DBackpropInput, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"conv2dBackpropFilter", nullptr, Conv2DBackpropFilter, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"maxPool", nullptr, MaxPool, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"maxPoolGrad", nullptr, MaxPoolGrad, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"addRows", nullptr, AddRows, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"sumRows", nullptr, SumRows, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"softmaxCrossEntropy", nullptr, SoftmaxCrossEntropy, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"sgdMomentum", nullptr, SgdMomentum, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"aesCtrAvailable", nullptr, AesCtrAvailable, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"aesCtrMasks", nullptr, AesCtrMasks, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

}  // namespace

NAPI_MODULE_INIT() { return Init(env, exports); }
