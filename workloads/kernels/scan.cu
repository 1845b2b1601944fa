// Exclusive prefix sum of n unsigned integers (wrapping), work-efficient (Blelloch):
// scan_blocks scans 512-element chunks in shared memory (up-sweep, down-sweep) and
// writes each chunk's total; the host scans the totals with the same kernels
// (recursively) and scan_add_offsets adds each chunk's offset.
#define SCAN_THREADS 256
#define SCAN_ELEMS (2 * SCAN_THREADS)

extern "C" __global__ void scan_blocks(const unsigned* __restrict__ in, unsigned* __restrict__ out,
                                       unsigned* __restrict__ block_sums, int n)
{
    __shared__ unsigned s[SCAN_ELEMS];
    int tid = threadIdx.x;
    int i0 = blockIdx.x * SCAN_ELEMS + tid;
    int i1 = i0 + SCAN_THREADS;
    s[tid] = i0 < n ? in[i0] : 0u;
    s[tid + SCAN_THREADS] = i1 < n ? in[i1] : 0u;

    int offset = 1;
    for (int d = SCAN_ELEMS >> 1; d > 0; d >>= 1) {
        __syncthreads();
        if (tid < d) {
            int ai = offset * (2 * tid + 1) - 1;
            int bi = offset * (2 * tid + 2) - 1;
            s[bi] += s[ai];
        }
        offset <<= 1;
    }
    __syncthreads();
    if (tid == 0) {
        block_sums[blockIdx.x] = s[SCAN_ELEMS - 1];
        s[SCAN_ELEMS - 1] = 0u;
    }
    for (int d = 1; d < SCAN_ELEMS; d <<= 1) {
        offset >>= 1;
        __syncthreads();
        if (tid < d) {
            int ai = offset * (2 * tid + 1) - 1;
            int bi = offset * (2 * tid + 2) - 1;
            unsigned t = s[ai];
            s[ai] = s[bi];
            s[bi] += t;
        }
    }
    __syncthreads();
    if (i0 < n) {
        out[i0] = s[tid];
    }
    if (i1 < n) {
        out[i1] = s[tid + SCAN_THREADS];
    }
}

extern "C" __global__ void scan_add_offsets(unsigned* __restrict__ out,
                                            const unsigned* __restrict__ offsets, int n)
{
    unsigned off = offsets[blockIdx.x];
    int i0 = blockIdx.x * SCAN_ELEMS + threadIdx.x;
    int i1 = i0 + SCAN_THREADS;
    if (i0 < n) {
        out[i0] += off;
    }
    if (i1 < n) {
        out[i1] += off;
    }
}
