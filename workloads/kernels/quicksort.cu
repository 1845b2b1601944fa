// Host-driven GPU quicksort of unsigned keys. Each pass partitions every open segment
// around the median of its first, middle and last key: qs_partition gives each block a
// chunk of up to 1024 keys of one segment and walks it twice, 128 keys at a time --
// first counting the keys below and above the pivot with __ballot_sync/__popc, then,
// after reserving room in the segment with one global atomicAdd per side, scattering
// them into a scratch buffer at slots handed out by warp-aggregated shared atomics.
// qs_writeback copies both sides back and fills the middle with the pivot. The host
// reads the side counts, splits the segments and repeats; segments of at most 96 keys
// are finished by qs_small_sort, one thread per segment (insertion sort).
#define QS_THREADS 128
#define QS_CHUNK 1024

__device__ __forceinline__ unsigned median3(unsigned a, unsigned b, unsigned c)
{
    return max(min(a, b), min(max(a, b), c));
}

// Returns this lane's slot among the lanes of its warp whose flag is set, after the
// warp's leader reserved popc(flags) slots from *counter.
__device__ __forceinline__ unsigned warp_reserve(bool flag, unsigned* counter)
{
    unsigned lane = threadIdx.x & 31u;
    unsigned mask = __ballot_sync(0xffffffffu, flag);
    int leader = mask != 0u ? __ffs(mask) - 1 : 0;
    unsigned base = 0;
    if (mask != 0u && lane == (unsigned)leader) {
        base = atomicAdd(counter, (unsigned)__popc(mask));
    }
    base = __shfl_sync(0xffffffffu, base, leader);
    return base + __popc(mask & ((1u << lane) - 1u));
}

extern "C" __global__ void qs_partition(const unsigned* __restrict__ keys, unsigned* __restrict__ tmp,
                                        const int* __restrict__ seg_start,
                                        const int* __restrict__ seg_len, unsigned* seg_lt,
                                        unsigned* seg_gt, unsigned* __restrict__ seg_pivot,
                                        const int* __restrict__ blk_seg,
                                        const int* __restrict__ blk_first)
{
    __shared__ unsigned block_lt;
    __shared__ unsigned block_gt;
    __shared__ unsigned base_lt;
    __shared__ unsigned base_gt;
    int seg = blk_seg[blockIdx.x];
    int start = seg_start[seg];
    int len = seg_len[seg];
    int first = blk_first[blockIdx.x];
    int end = min(len, first + QS_CHUNK);
    unsigned pivot = median3(keys[start], keys[start + len / 2], keys[start + len - 1]);
    unsigned lane = threadIdx.x & 31u;
    if (threadIdx.x == 0) {
        block_lt = 0u;
        block_gt = 0u;
        if (first == 0) {
            seg_pivot[seg] = pivot;
        }
    }
    __syncthreads();

    // Count. The trip count is the same for every thread, so warps stay converged.
    for (int base = first; base < end; base += QS_THREADS) {
        int idx = base + threadIdx.x;
        unsigned key = idx < end ? keys[start + idx] : pivot;
        unsigned lt = __ballot_sync(0xffffffffu, key < pivot);
        unsigned gt = __ballot_sync(0xffffffffu, key > pivot);
        if (lane == 0u) {
            atomicAdd(&block_lt, (unsigned)__popc(lt));
            atomicAdd(&block_gt, (unsigned)__popc(gt));
        }
    }
    __syncthreads();
    if (threadIdx.x == 0) {
        base_lt = atomicAdd(&seg_lt[seg], block_lt);
        base_gt = atomicAdd(&seg_gt[seg], block_gt);
        block_lt = 0u;
        block_gt = 0u;
    }
    __syncthreads();

    // Scatter.
    for (int base = first; base < end; base += QS_THREADS) {
        int idx = base + threadIdx.x;
        unsigned key = idx < end ? keys[start + idx] : pivot;
        unsigned s_lt = warp_reserve(key < pivot, &block_lt);
        unsigned s_gt = warp_reserve(key > pivot, &block_gt);
        if (key < pivot) {
            tmp[start + base_lt + s_lt] = key;
        } else if (key > pivot) {
            tmp[start + len - 1 - (base_gt + s_gt)] = key;
        }
    }
}

extern "C" __global__ void qs_writeback(unsigned* __restrict__ keys, const unsigned* __restrict__ tmp,
                                        const int* __restrict__ seg_start,
                                        const int* __restrict__ seg_len,
                                        const unsigned* __restrict__ seg_lt,
                                        const unsigned* __restrict__ seg_gt,
                                        const unsigned* __restrict__ seg_pivot,
                                        const int* __restrict__ blk_seg,
                                        const int* __restrict__ blk_first)
{
    int seg = blk_seg[blockIdx.x];
    int start = seg_start[seg];
    int len = seg_len[seg];
    int lt = (int)seg_lt[seg];
    int hi = len - (int)seg_gt[seg];
    unsigned pivot = seg_pivot[seg];
    int end = min(len, blk_first[blockIdx.x] + QS_CHUNK);
    for (int idx = blk_first[blockIdx.x] + threadIdx.x; idx < end; idx += QS_THREADS) {
        keys[start + idx] = (idx < lt || idx >= hi) ? tmp[start + idx] : pivot;
    }
}

extern "C" __global__ void qs_small_sort(unsigned* keys, const int* __restrict__ seg_start,
                                         const int* __restrict__ seg_len, int segments)
{
    int s = blockIdx.x * blockDim.x + threadIdx.x;
    if (s >= segments) {
        return;
    }
    unsigned* a = keys + seg_start[s];
    int len = seg_len[s];
    for (int i = 1; i < len; ++i) {
        unsigned v = a[i];
        int j = i - 1;
        while (j >= 0 && a[j] > v) {
            a[j + 1] = a[j];
            --j;
        }
        a[j + 1] = v;
    }
}
