#include <cuda_bf16.h>

#include <algorithm>
#include <cstdint>

#include "kernels.cuh"

namespace strata::profiler::gpu {

namespace {

constexpr int kThreads = 256;

__device__ __forceinline__ float f(bf16 x) { return __bfloat162float(x); }
__device__ __forceinline__ bf16 b(float x) { return __float2bfloat16(x); }

unsigned blocks_for(long n) {
  const long b = (n + kThreads - 1) / kThreads;
  return static_cast<unsigned>(std::min<long>(std::max<long>(b, 1), 65535L * 32));
}

struct Add {
  __device__ float operator()(float a, float c) const { return a + c; }
};
struct Max {
  __device__ float operator()(float a, float c) const { return fmaxf(a, c); }
};

// `op` over the block (kThreads threads), `identity` for the idle lanes; every thread gets it.
template <class Op>
__device__ float block_reduce(float v, Op op, float identity) {
  __shared__ float shared[32];
  __shared__ float total;
  for (int o = 16; o > 0; o >>= 1) v = op(v, __shfl_xor_sync(0xffffffffu, v, o));
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  v = threadIdx.x < blockDim.x / 32 ? shared[threadIdx.x] : identity;
  if (warp == 0)
    for (int o = 16; o > 0; o >>= 1) v = op(v, __shfl_xor_sync(0xffffffffu, v, o));
  if (threadIdx.x == 0) total = v;
  __syncthreads();
  const float out = total;
  __syncthreads();
  return out;
}
__device__ float block_sum(float v) { return block_reduce(v, Add{}, 0.f); }

// The row's maximum and sum of exp(x - maximum), for softmax and cross-entropy.
__device__ float2 row_max_expsum(const bf16* row, int cols) {
  float m = -INFINITY;
  for (int i = threadIdx.x; i < cols; i += blockDim.x) m = fmaxf(m, f(row[i]));
  m = block_reduce(m, Max{}, -INFINITY);
  float s = 0.f;
  for (int i = threadIdx.x; i < cols; i += blockDim.x) s += __expf(f(row[i]) - m);
  return make_float2(m, block_sum(s));
}

__global__ void norm_fwd_k(const bf16* x, const bf16* w, bf16* y, float* stats, int cols, bool rms) {
  const long row = blockIdx.x;
  const bf16* xr = x + row * cols;
  float sum = 0.f, sq = 0.f;
  for (int i = threadIdx.x; i < cols; i += blockDim.x) {
    const float v = f(xr[i]);
    sum += v;
    sq += v * v;
  }
  sum = block_sum(sum);
  sq = block_sum(sq);
  const float mean = rms ? 0.f : sum / cols;
  const float inv = rsqrtf(sq / cols - mean * mean + 1e-5f);
  for (int i = threadIdx.x; i < cols; i += blockDim.x) y[row * cols + i] = b((f(xr[i]) - mean) * inv * f(w[i]));
  if (threadIdx.x == 0) {
    stats[2 * row] = mean;
    stats[2 * row + 1] = inv;
  }
}

__global__ void norm_bwd_k(const bf16* x, const bf16* w, const bf16* dy, const float* stats, bf16* dx, int cols,
                           bool rms) {
  const long row = blockIdx.x;
  const float mean = stats[2 * row], inv = stats[2 * row + 1];
  float a = 0.f, c = 0.f;
  for (int i = threadIdx.x; i < cols; i += blockDim.x) {
    const float xh = (f(x[row * cols + i]) - mean) * inv;
    const float g = f(dy[row * cols + i]) * f(w[i]);
    a += g;
    c += g * xh;
  }
  a = block_sum(a) / cols;
  c = block_sum(c) / cols;
  for (int i = threadIdx.x; i < cols; i += blockDim.x) {
    const float xh = (f(x[row * cols + i]) - mean) * inv;
    const float g = f(dy[row * cols + i]) * f(w[i]);
    dx[row * cols + i] = b(inv * (g - (rms ? 0.f : a) - xh * c));
  }
}

__device__ float gelu(float x) { return 0.5f * x * (1.f + tanhf(0.7978845608f * (x + 0.044715f * x * x * x))); }
__device__ float gelu_grad(float x) {
  const float t = tanhf(0.7978845608f * (x + 0.044715f * x * x * x));
  return 0.5f * (1.f + t) + 0.5f * x * (1.f - t * t) * 0.7978845608f * (1.f + 3.f * 0.044715f * x * x);
}

__global__ void gelu_fwd_k(const bf16* x, bf16* y, long n) {
  for (long i = blockIdx.x * long(blockDim.x) + threadIdx.x; i < n; i += long(gridDim.x) * blockDim.x) y[i] = b(gelu(f(x[i])));
}
__global__ void gelu_bwd_k(const bf16* x, const bf16* dy, bf16* dx, long n) {
  for (long i = blockIdx.x * long(blockDim.x) + threadIdx.x; i < n; i += long(gridDim.x) * blockDim.x)
    dx[i] = b(f(dy[i]) * gelu_grad(f(x[i])));
}

__global__ void swiglu_fwd_k(const bf16* in, bf16* y, long rows, int fw) {
  const long n = rows * fw;
  for (long i = blockIdx.x * long(blockDim.x) + threadIdx.x; i < n; i += long(gridDim.x) * blockDim.x) {
    const long r = i / fw, j = i % fw;
    const float g = f(in[r * 2 * fw + j]), u = f(in[r * 2 * fw + fw + j]);
    y[i] = b(g / (1.f + __expf(-g)) * u);
  }
}
__global__ void swiglu_bwd_k(const bf16* in, const bf16* dy, bf16* din, long rows, int fw) {
  const long n = rows * fw;
  for (long i = blockIdx.x * long(blockDim.x) + threadIdx.x; i < n; i += long(gridDim.x) * blockDim.x) {
    const long r = i / fw, j = i % fw;
    const float g = f(in[r * 2 * fw + j]), u = f(in[r * 2 * fw + fw + j]), d = f(dy[i]);
    const float sig = 1.f / (1.f + __expf(-g));
    din[r * 2 * fw + j] = b(d * u * sig * (1.f + g * (1.f - sig)));
    din[r * 2 * fw + fw + j] = b(d * g * sig);
  }
}

__device__ float uniform(std::uint64_t seed, long i) {
  std::uint64_t z = seed + 0x9E3779B97F4A7C15ull * static_cast<std::uint64_t>(i + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return static_cast<float>(z >> 40) * (1.f / 16777216.f);
}

__global__ void dropout_add_fwd_k(const bf16* x, const bf16* res, std::uint8_t* mask, bf16* y, long n, float p,
                                  std::uint64_t seed) {
  const float scale = p < 1.f ? 1.f / (1.f - p) : 0.f;
  for (long i = blockIdx.x * long(blockDim.x) + threadIdx.x; i < n; i += long(gridDim.x) * blockDim.x) {
    const bool keep = p <= 0.f || uniform(seed, i) >= p;
    if (p > 0.f) mask[i] = keep;
    y[i] = b(f(res[i]) + (keep ? f(x[i]) * scale : 0.f));
  }
}
__global__ void dropout_add_bwd_k(const bf16* dy, const std::uint8_t* mask, bf16* dx, long n, float p) {
  const float scale = p < 1.f ? 1.f / (1.f - p) : 0.f;
  for (long i = blockIdx.x * long(blockDim.x) + threadIdx.x; i < n; i += long(gridDim.x) * blockDim.x)
    dx[i] = b(p > 0.f && mask[i] == 0 ? 0.f : f(dy[i]) * scale);
}

__global__ void softmax_fwd_k(const bf16* x, bf16* y, int cols) {
  const long row = blockIdx.x;
  const bf16* xr = x + row * cols;
  const float2 ms = row_max_expsum(xr, cols);
  for (int i = threadIdx.x; i < cols; i += blockDim.x) y[row * cols + i] = b(__expf(f(xr[i]) - ms.x) / ms.y);
}
__global__ void softmax_bwd_k(const bf16* y, const bf16* dy, bf16* dx, int cols) {
  const long row = blockIdx.x;
  float dot = 0.f;
  for (int i = threadIdx.x; i < cols; i += blockDim.x) dot += f(y[row * cols + i]) * f(dy[row * cols + i]);
  dot = block_sum(dot);
  for (int i = threadIdx.x; i < cols; i += blockDim.x)
    dx[row * cols + i] = b(f(y[row * cols + i]) * (f(dy[row * cols + i]) - dot));
}

__global__ void ce_fwd_k(const bf16* logits, const int* labels, float* lse, float* loss, int vocab) {
  const long row = blockIdx.x;
  const bf16* lr = logits + row * vocab;
  const float2 ms = row_max_expsum(lr, vocab);
  if (threadIdx.x == 0) {
    lse[row] = ms.x + __logf(ms.y);
    const int label = labels[row];
    loss[row] = label >= 0 && label < vocab ? lse[row] - f(lr[label]) : 0.f;
  }
}
__global__ void ce_bwd_k(const bf16* logits, const int* labels, const float* lse, bf16* dlogits, int vocab) {
  const long row = blockIdx.x;
  const float l = lse[row];
  const int label = labels[row];
  for (int i = threadIdx.x; i < vocab; i += blockDim.x)
    dlogits[row * vocab + i] = b(__expf(f(logits[row * vocab + i]) - l) - (i == label ? 1.f : 0.f));
}

__global__ void adam_k(float* p, const float* g, float* m, float* v, bf16* out, long n) {
  const float b1 = 0.9f, b2 = 0.95f, lr = 1e-4f, eps = 1e-8f, wd = 0.1f;
  for (long i = blockIdx.x * long(blockDim.x) + threadIdx.x; i < n; i += long(gridDim.x) * blockDim.x) {
    const float gi = g[i];
    const float mi = b1 * m[i] + (1.f - b1) * gi;
    const float vi = b2 * v[i] + (1.f - b2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    const float pi = p[i] - lr * (mi / (sqrtf(vi) + eps) + wd * p[i]);
    p[i] = pi;
    out[i] = b(pi);
  }
}

__global__ void gather_k(const bf16* table, const int* ids, bf16* out, long rows, int width) {
  const long n = rows * width;
  for (long i = blockIdx.x * long(blockDim.x) + threadIdx.x; i < n; i += long(gridDim.x) * blockDim.x)
    out[i] = table[static_cast<long>(ids[i / width]) * width + i % width];
}
__global__ void scatter_add_k(const bf16* dout, const int* ids, float* dtable, long rows, int width) {
  const long n = rows * width;
  for (long i = blockIdx.x * long(blockDim.x) + threadIdx.x; i < n; i += long(gridDim.x) * blockDim.x)
    atomicAdd(&dtable[static_cast<long>(ids[i / width]) * width + i % width], f(dout[i]));
}

__global__ void rotary_k(bf16* x, long tokens, int heads, int dim) {
  const int half = dim / 2;
  const long n = tokens * heads * half;
  for (long i = blockIdx.x * long(blockDim.x) + threadIdx.x; i < n; i += long(gridDim.x) * blockDim.x) {
    const long t = i / (static_cast<long>(heads) * half);
    const int j = static_cast<int>(i % half);
    const long base = (i / half) * dim;
    const float angle = static_cast<float>(t) * __powf(10000.f, -2.f * j / dim);
    float sn, cs;
    __sincosf(angle, &sn, &cs);
    const float a = f(x[base + j]), c = f(x[base + j + half]);
    x[base + j] = b(a * cs - c * sn);
    x[base + j + half] = b(a * sn + c * cs);
  }
}

}  // namespace

void norm_forward(const bf16* x, const bf16* w, bf16* y, float* stats, long rows, int cols, bool rms, cudaStream_t s) {
  norm_fwd_k<<<static_cast<unsigned>(rows), kThreads, 0, s>>>(x, w, y, stats, cols, rms);
}
void norm_backward(const bf16* x, const bf16* w, const bf16* dy, const float* stats, bf16* dx, long rows, int cols,
                   bool rms, cudaStream_t s) {
  norm_bwd_k<<<static_cast<unsigned>(rows), kThreads, 0, s>>>(x, w, dy, stats, dx, cols, rms);
}
void gelu_forward(const bf16* x, bf16* y, long n, cudaStream_t s) { gelu_fwd_k<<<blocks_for(n), kThreads, 0, s>>>(x, y, n); }
void gelu_backward(const bf16* x, const bf16* dy, bf16* dx, long n, cudaStream_t s) {
  gelu_bwd_k<<<blocks_for(n), kThreads, 0, s>>>(x, dy, dx, n);
}
void swiglu_forward(const bf16* in, bf16* y, long rows, int fw, cudaStream_t s) {
  swiglu_fwd_k<<<blocks_for(rows * fw), kThreads, 0, s>>>(in, y, rows, fw);
}
void swiglu_backward(const bf16* in, const bf16* dy, bf16* din, long rows, int fw, cudaStream_t s) {
  swiglu_bwd_k<<<blocks_for(rows * fw), kThreads, 0, s>>>(in, dy, din, rows, fw);
}
void dropout_add_forward(const bf16* x, const bf16* residual, std::uint8_t* mask, bf16* y, long n, float p,
                         std::uint64_t seed, cudaStream_t s) {
  dropout_add_fwd_k<<<blocks_for(n), kThreads, 0, s>>>(x, residual, mask, y, n, p, seed);
}
void dropout_add_backward(const bf16* dy, const std::uint8_t* mask, bf16* dx, long n, float p, cudaStream_t s) {
  dropout_add_bwd_k<<<blocks_for(n), kThreads, 0, s>>>(dy, mask, dx, n, p);
}
void softmax_forward(const bf16* x, bf16* y, long rows, int cols, cudaStream_t s) {
  softmax_fwd_k<<<static_cast<unsigned>(rows), kThreads, 0, s>>>(x, y, cols);
}
void softmax_backward(const bf16* y, const bf16* dy, bf16* dx, long rows, int cols, cudaStream_t s) {
  softmax_bwd_k<<<static_cast<unsigned>(rows), kThreads, 0, s>>>(y, dy, dx, cols);
}
void cross_entropy_forward(const bf16* logits, const int* labels, float* lse, float* loss, long rows, int vocab,
                           cudaStream_t s) {
  ce_fwd_k<<<static_cast<unsigned>(rows), kThreads, 0, s>>>(logits, labels, lse, loss, vocab);
}
void cross_entropy_backward(const bf16* logits, const int* labels, const float* lse, bf16* dlogits, long rows,
                            int vocab, cudaStream_t s) {
  ce_bwd_k<<<static_cast<unsigned>(rows), kThreads, 0, s>>>(logits, labels, lse, dlogits, vocab);
}
void adam(float* p, const float* g, float* m, float* v, bf16* out, long n, cudaStream_t s) {
  adam_k<<<blocks_for(n), kThreads, 0, s>>>(p, g, m, v, out, n);
}
void gather_rows(const bf16* table, const int* ids, bf16* out, long rows, int width, cudaStream_t s) {
  gather_k<<<blocks_for(rows * width), kThreads, 0, s>>>(table, ids, out, rows, width);
}
void scatter_add_rows(const bf16* dout, const int* ids, float* dtable, long rows, int width, cudaStream_t s) {
  scatter_add_k<<<blocks_for(rows * width), kThreads, 0, s>>>(dout, ids, dtable, rows, width);
}
void rotary(bf16* x, long tokens, int heads, int dim, cudaStream_t s) {
  rotary_k<<<blocks_for(tokens * heads * (dim / 2)), kThreads, 0, s>>>(x, tokens, heads, dim);
}

}  // namespace strata::profiler::gpu
