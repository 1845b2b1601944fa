// Bitonic sort of n = 2^p unsigned keys, ascending. Stages whose partner distance j is
// below the 1024-element chunk run in shared memory: bitonic_sort_shared performs all
// stages up to size min(n, 1024), bitonic_merge_shared the small-j tail of one merge
// size k; bitonic_merge_global performs one large-j stage with one thread per pair.
#define CHUNK 1024

__device__ __forceinline__ void compare_swap(unsigned& a, unsigned& b, bool ascending)
{
    if ((a > b) == ascending) {
        unsigned t = a;
        a = b;
        b = t;
    }
}

extern "C" __global__ void bitonic_sort_shared(unsigned* keys, int n)
{
    __shared__ unsigned s[CHUNK];
    int chunk = min(n, CHUNK);
    int base = blockIdx.x * chunk;
    int tid = threadIdx.x;
    s[tid] = keys[base + tid];
    s[tid + chunk / 2] = keys[base + tid + chunk / 2];
    for (int k = 2; k <= chunk; k <<= 1) {
        for (int j = k >> 1; j > 0; j >>= 1) {
            __syncthreads();
            int i = 2 * j * (tid / j) + (tid % j);
            compare_swap(s[i], s[i + j], ((base + i) & k) == 0);
        }
    }
    __syncthreads();
    keys[base + tid] = s[tid];
    keys[base + tid + chunk / 2] = s[tid + chunk / 2];
}

extern "C" __global__ void bitonic_merge_shared(unsigned* keys, int k)
{
    __shared__ unsigned s[CHUNK];
    int base = blockIdx.x * CHUNK;
    int tid = threadIdx.x;
    s[tid] = keys[base + tid];
    s[tid + CHUNK / 2] = keys[base + tid + CHUNK / 2];
    for (int j = CHUNK / 2; j > 0; j >>= 1) {
        __syncthreads();
        int i = 2 * j * (tid / j) + (tid % j);
        compare_swap(s[i], s[i + j], ((base + i) & k) == 0);
    }
    __syncthreads();
    keys[base + tid] = s[tid];
    keys[base + tid + CHUNK / 2] = s[tid + CHUNK / 2];
}

extern "C" __global__ void bitonic_merge_global(unsigned* keys, int n, int k, int j)
{
    int p = blockIdx.x * blockDim.x + threadIdx.x;
    if (p >= n / 2) {
        return;
    }
    int i = 2 * j * (p / j) + (p % j);
    unsigned a = keys[i];
    unsigned b = keys[i + j];
    bool ascending = (i & k) == 0;
    if ((a > b) == ascending) {
        keys[i] = b;
        keys[i + j] = a;
    }
}
