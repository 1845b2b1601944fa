// Blocked in-place LU decomposition (Doolittle, no pivoting) of an n x n row-major
// matrix, n a multiple of 16 (Rodinia style). For each diagonal block the host launches
// lud_diagonal (factor the 16x16 diagonal tile), lud_perimeter (the tiles right of it,
// U12 = L11^-1 A12, and below it, L21 = A21 U11^-1) and lud_internal (trailing update
// A22 -= L21 U12). Every element sees its updates in the order of the unblocked
// right-looking algorithm, one fused multiply-add each.
#define BS 16

extern "C" __global__ void lud_diagonal(float* a, int n, int o)
{
    __shared__ float s[BS][BS];
    int tx = threadIdx.x;
    for (int j = 0; j < BS; ++j) {
        s[tx][j] = a[(o + tx) * n + o + j];
    }
    __syncthreads();
    for (int k = 0; k < BS - 1; ++k) {
        if (tx > k) {
            float l = s[tx][k] / s[k][k];
            s[tx][k] = l;
            for (int j = k + 1; j < BS; ++j) {
                s[tx][j] = fmaf(-l, s[k][j], s[tx][j]);
            }
        }
        __syncthreads();
    }
    for (int j = 0; j < BS; ++j) {
        a[(o + tx) * n + o + j] = s[tx][j];
    }
}

extern "C" __global__ void lud_perimeter(float* a, int n, int o)
{
    __shared__ float dia[BS][BS];
    __shared__ float row[BS][BS];
    __shared__ float col[BS][BS];
    int tx = threadIdx.x;
    int c = o + (blockIdx.x + 1) * BS;
    if (tx < BS) {
        for (int i = 0; i < BS; ++i) {
            dia[i][tx] = a[(o + i) * n + o + tx];
            row[i][tx] = a[(o + i) * n + c + tx];
        }
    } else {
        int t = tx - BS;
        for (int j = 0; j < BS; ++j) {
            col[t][j] = a[(c + t) * n + o + j];
        }
    }
    __syncthreads();
    if (tx < BS) {
        // Column tx of U12: forward substitution with the unit lower triangle of L11.
        for (int k = 0; k < BS - 1; ++k) {
            float u = row[k][tx];
            for (int i = k + 1; i < BS; ++i) {
                row[i][tx] = fmaf(-dia[i][k], u, row[i][tx]);
            }
        }
    } else {
        // Row t of L21: solve x U11 = a21 from the left.
        int t = tx - BS;
        for (int k = 0; k < BS; ++k) {
            float l = col[t][k] / dia[k][k];
            col[t][k] = l;
            for (int j = k + 1; j < BS; ++j) {
                col[t][j] = fmaf(-l, dia[k][j], col[t][j]);
            }
        }
    }
    __syncthreads();
    if (tx < BS) {
        for (int i = 0; i < BS; ++i) {
            a[(o + i) * n + c + tx] = row[i][tx];
        }
    } else {
        int t = tx - BS;
        for (int j = 0; j < BS; ++j) {
            a[(c + t) * n + o + j] = col[t][j];
        }
    }
}

extern "C" __global__ void lud_internal(float* a, int n, int o)
{
    __shared__ float l[BS][BS];
    __shared__ float u[BS][BS];
    int tx = threadIdx.x;
    int ty = threadIdx.y;
    int r = o + (blockIdx.y + 1) * BS;
    int c = o + (blockIdx.x + 1) * BS;
    l[ty][tx] = a[(r + ty) * n + o + tx];
    u[ty][tx] = a[(o + ty) * n + c + tx];
    __syncthreads();
    float v = a[(r + ty) * n + c + tx];
    for (int k = 0; k < BS; ++k) {
        v = fmaf(-l[ty][k], u[k][tx], v);
    }
    a[(r + ty) * n + c + tx] = v;
}
