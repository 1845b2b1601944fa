// Shared-memory tree reduction: each block sums blockDim.x (a power of two, <= 1024)
// elements of `in` into out[blockIdx.x]; a grid-stride loop first folds the input.
extern "C" __global__ void reduce_sum(const unsigned int* __restrict__ in,
                                      unsigned int* __restrict__ out, unsigned int n) {
    extern __shared__ unsigned int sdata[];
    unsigned int tid = threadIdx.x;
    unsigned int sum = 0;
    for (unsigned int i = blockIdx.x * blockDim.x + tid; i < n; i += blockDim.x * gridDim.x) {
        sum += in[i];
    }
    sdata[tid] = sum;
    __syncthreads();
    for (unsigned int s = blockDim.x / 2; s > 0; s >>= 1) {
        if (tid < s) {
            sdata[tid] += sdata[tid + s];
        }
        __syncthreads();
    }
    if (tid == 0) {
        out[blockIdx.x] = sdata[0];
    }
}
