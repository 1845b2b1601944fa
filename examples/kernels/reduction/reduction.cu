// Block sums of n unsigned integers: each block of B threads adds 2*B elements with a
// shared-memory tree (B * 4 bytes of dynamic shared memory), writes its sum to
// partial[block] and adds it to *total atomically (integer addition: the result does
// not depend on the order).
extern "C" __global__ void block_sum(const unsigned int *in, unsigned int *partial,
                                     unsigned long long *total, unsigned int n)
{
    extern __shared__ unsigned int s[];
    unsigned int t = threadIdx.x;
    unsigned int i = blockIdx.x * blockDim.x * 2 + t;
    unsigned int v = 0;
    if (i < n) {
        v = in[i];
    }
    if (i + blockDim.x < n) {
        v += in[i + blockDim.x];
    }
    s[t] = v;
    __syncthreads();
    for (unsigned int k = blockDim.x / 2; k > 0; k >>= 1) {
        if (t < k) {
            s[t] += s[t + k];
        }
        __syncthreads();
    }
    if (t == 0) {
        partial[blockIdx.x] = s[0];
        atomicAdd(total, (unsigned long long)s[0]);
    }
}
