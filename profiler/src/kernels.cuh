#pragma once
// The memory-bound kernels strata-profile runs at a plan's shapes: fused implementations in the
// style of Megatron-LM's (one kernel per op, bf16 in and out, fp32 math), so that their measured
// times stand for what strata's roofline charges as one kernel of the op's bytes.

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

namespace strata::profiler::gpu {

using bf16 = __nv_bfloat16;

/// LayerNorm (or RMSNorm) over `cols` per row; `stats` keeps mean and inverse deviation per row.
void norm_forward(const bf16* x, const bf16* w, bf16* y, float* stats, long rows, int cols, bool rms, cudaStream_t s);
void norm_backward(const bf16* x, const bf16* w, const bf16* dy, const float* stats, bf16* dx, long rows, int cols,
                   bool rms, cudaStream_t s);
/// GELU over n elements, and its backward.
void gelu_forward(const bf16* x, bf16* y, long n, cudaStream_t s);
void gelu_backward(const bf16* x, const bf16* dy, bf16* dx, long n, cudaStream_t s);
/// SwiGLU: y[r, j] = silu(in[r, j]) * in[r, f + j] for `rows` rows of width 2f, and its backward.
void swiglu_forward(const bf16* in, bf16* y, long rows, int f, cudaStream_t s);
void swiglu_backward(const bf16* in, const bf16* dy, bf16* din, long rows, int f, cudaStream_t s);
/// y = residual + dropout(x) with probability p (mask written), and its backward.
void dropout_add_forward(const bf16* x, const bf16* residual, std::uint8_t* mask, bf16* y, long n, float p,
                         std::uint64_t seed, cudaStream_t s);
void dropout_add_backward(const bf16* dy, const std::uint8_t* mask, bf16* dx, long n, float p, cudaStream_t s);
/// Row softmax (Megatron's unfused attention path), and its backward.
void softmax_forward(const bf16* x, bf16* y, long rows, int cols, cudaStream_t s);
void softmax_backward(const bf16* y, const bf16* dy, bf16* dx, long rows, int cols, cudaStream_t s);
/// Vocabulary-parallel cross-entropy over `vocab` logits per token (fp32 log-sum-exp kept).
void cross_entropy_forward(const bf16* logits, const int* labels, float* lse, float* loss, long rows, int vocab,
                           cudaStream_t s);
void cross_entropy_backward(const bf16* logits, const int* labels, const float* lse, bf16* dlogits, long rows,
                            int vocab, cudaStream_t s);
/// Adam on fp32 master weights and moments, writing the bf16 weights.
void adam(float* p, const float* g, float* m, float* v, bf16* out, long n, cudaStream_t s);
/// Row gather (embedding lookup, MoE permutation) and its scatter-add backward into fp32.
void gather_rows(const bf16* table, const int* ids, bf16* out, long rows, int width, cudaStream_t s);
void scatter_add_rows(const bf16* dout, const int* ids, float* dtable, long rows, int width, cudaStream_t s);
/// Rotary embedding applied in place to `tokens` x `heads` vectors of `dim`.
void rotary(bf16* x, long tokens, int heads, int dim, cudaStream_t s);

}  // namespace strata::profiler::gpu
