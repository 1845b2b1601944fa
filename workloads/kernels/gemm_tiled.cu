// Shared-memory tiled SGEMM: C = alpha * A * B + beta * C, row-major, A is MxK, B is KxN.
// Each 16x16 block stages one tile of A and one of B in shared memory per step of K, so
// every global element is read once per block; edges are zero-padded.
#define TILE 16

extern "C" __global__ void gemm_tiled(const float* __restrict__ A, const float* __restrict__ B,
                                      float* __restrict__ C, int M, int N, int K, float alpha,
                                      float beta)
{
    __shared__ float As[TILE][TILE];
    __shared__ float Bs[TILE][TILE + 1];  // +1 column: no bank conflicts on the column read
    int tx = threadIdx.x;
    int ty = threadIdx.y;
    int row = blockIdx.y * TILE + ty;
    int col = blockIdx.x * TILE + tx;
    float acc = 0.0f;
    for (int t = 0; t < K; t += TILE) {
        As[ty][tx] = (row < M && t + tx < K) ? A[row * K + t + tx] : 0.0f;
        Bs[ty][tx] = (t + ty < K && col < N) ? B[(t + ty) * N + col] : 0.0f;
        __syncthreads();
#pragma unroll
        for (int k = 0; k < TILE; ++k) {
            acc = fmaf(As[ty][k], Bs[k][tx], acc);
        }
        __syncthreads();
    }
    if (row < M && col < N) {
        C[row * N + col] = fmaf(alpha, acc, beta * C[row * N + col]);
    }
}
