// Naive SGEMM: C = alpha * A * B + beta * C, row-major, A is MxK, B is KxN, C is MxN.
// One thread per element of C reads a row of A and a column of B straight from global
// memory (no reuse), accumulating with an explicit fused multiply-add.
extern "C" __global__ void gemm_naive(const float* __restrict__ A, const float* __restrict__ B,
                                      float* __restrict__ C, int M, int N, int K, float alpha,
                                      float beta)
{
    int row = blockIdx.y * blockDim.y + threadIdx.y;
    int col = blockIdx.x * blockDim.x + threadIdx.x;
    if (row < M && col < N) {
        float acc = 0.0f;
        for (int k = 0; k < K; ++k) {
            acc = fmaf(A[row * K + k], B[k * N + col], acc);
        }
        C[row * N + col] = fmaf(alpha, acc, beta * C[row * N + col]);
    }
}
