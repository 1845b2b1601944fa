// Gaussian elimination without pivoting (Rodinia style) of the n x n system A x = b,
// row-major. For each step t the host launches gauss_fan1 (multipliers of column t, one
// thread per row below t) and gauss_fan2 (update of the trailing rows and of b, a 2-D
// grid): 2 (n - 1) launches in all.
extern "C" __global__ void gauss_fan1(const float* __restrict__ a, float* __restrict__ m, int n, int t)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n - 1 - t) {
        return;
    }
    int row = t + 1 + i;
    m[row * n + t] = a[row * n + t] / a[t * n + t];
}

extern "C" __global__ void gauss_fan2(float* a, float* b, const float* __restrict__ m, int n, int t)
{
    int x = blockIdx.y * blockDim.y + threadIdx.y;
    int y = blockIdx.x * blockDim.x + threadIdx.x;
    if (x >= n - 1 - t || y >= n - t) {
        return;
    }
    int row = t + 1 + x;
    int col = t + y;
    float mult = m[row * n + t];
    a[row * n + col] = fmaf(-mult, a[t * n + col], a[row * n + col]);
    if (y == 0) {
        b[row] = fmaf(-mult, b[t], b[row]);
    }
}
