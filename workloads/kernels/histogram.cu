// 256-bin histogram of n bytes packed four to a word. Each block counts into a private
// shared-memory histogram with shared atomics, then merges it into the global histogram
// with one global atomic per non-empty bin.
#define BINS 256

extern "C" __global__ void histogram256(const unsigned* __restrict__ words, unsigned* hist, int n_words)
{
    __shared__ unsigned local[BINS];
    for (int b = threadIdx.x; b < BINS; b += blockDim.x) {
        local[b] = 0u;
    }
    __syncthreads();
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n_words; i += gridDim.x * blockDim.x) {
        unsigned w = words[i];
        atomicAdd(&local[w & 0xffu], 1u);
        atomicAdd(&local[(w >> 8) & 0xffu], 1u);
        atomicAdd(&local[(w >> 16) & 0xffu], 1u);
        atomicAdd(&local[w >> 24], 1u);
    }
    __syncthreads();
    for (int b = threadIdx.x; b < BINS; b += blockDim.x) {
        unsigned c = local[b];
        if (c != 0u) {
            atomicAdd(&hist[b], c);
        }
    }
}
