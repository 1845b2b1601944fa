// Sum of n floats in two launches of one kernel: each block reduces a grid-strided share
// of the input through a shared-memory tree down to one warp, which finishes with warp
// shuffles; the second launch (one block) reduces the per-block partial sums.
#define BLOCK 256

__device__ __forceinline__ float warp_sum(float v)
{
#pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1) {
        v += __shfl_down_sync(0xffffffffu, v, offset);
    }
    return v;
}

extern "C" __global__ void reduce_sum(const float* __restrict__ in, float* __restrict__ out, int n)
{
    __shared__ float s[BLOCK];
    int tid = threadIdx.x;
    float v = 0.0f;
    for (int i = blockIdx.x * BLOCK + tid; i < n; i += gridDim.x * BLOCK) {
        v += in[i];
    }
    s[tid] = v;
    __syncthreads();
    for (int stride = BLOCK / 2; stride >= 32; stride >>= 1) {
        if (tid < stride) {
            s[tid] += s[tid + stride];
        }
        __syncthreads();
    }
    if (tid < 32) {
        v = warp_sum(s[tid]);
        if (tid == 0) {
            out[blockIdx.x] = v;
        }
    }
}
