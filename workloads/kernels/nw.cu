// Needleman-Wunsch global sequence alignment (Rodinia style). The (n+1) x (n+1) score
// matrix (row and column 0 preset by the host to -penalty * index) is filled in 16x16
// tiles along anti-diagonals of tiles: nw_upper for the upper-left half (launch d has
// d + 1 tiles), nw_lower for the lower-right half. Inside a tile, 16 threads sweep the
// cell anti-diagonals with a barrier between steps, so active lanes grow and shrink.
#define BS 16
#define ALPHABET 24

__device__ __forceinline__ int max3(int a, int b, int c)
{
    return max(a, max(b, c));
}

__device__ void nw_tile(int* score, const int* __restrict__ seq1, const int* __restrict__ seq2,
                        const int* __restrict__ sub, int n, int bx, int by, int penalty)
{
    __shared__ int t[BS + 1][BS + 1];
    __shared__ int ref[BS][BS];
    int tx = threadIdx.x;
    int w = n + 1;
    int r0 = by * BS;
    int c0 = bx * BS;
    int residue2 = seq2[c0 + tx];
    for (int i = 0; i < BS; ++i) {
        ref[i][tx] = sub[seq1[r0 + i] * ALPHABET + residue2];
    }
    if (tx == 0) {
        t[0][0] = score[r0 * w + c0];
    }
    t[0][tx + 1] = score[r0 * w + c0 + tx + 1];
    t[tx + 1][0] = score[(r0 + tx + 1) * w + c0];
    __syncthreads();
    for (int d = 0; d < BS; ++d) {
        if (tx <= d) {
            int i = tx + 1;
            int j = d - tx + 1;
            t[i][j] = max3(t[i - 1][j - 1] + ref[i - 1][j - 1], t[i - 1][j] - penalty,
                           t[i][j - 1] - penalty);
        }
        __syncthreads();
    }
    for (int d = BS - 2; d >= 0; --d) {
        if (tx <= d) {
            int i = tx + BS - d;
            int j = BS - tx;
            t[i][j] = max3(t[i - 1][j - 1] + ref[i - 1][j - 1], t[i - 1][j] - penalty,
                           t[i][j - 1] - penalty);
        }
        __syncthreads();
    }
    for (int i = 0; i < BS; ++i) {
        score[(r0 + i + 1) * w + c0 + tx + 1] = t[i + 1][tx + 1];
    }
}

extern "C" __global__ void nw_upper(int* score, const int* __restrict__ seq1,
                                    const int* __restrict__ seq2, const int* __restrict__ sub,
                                    int n, int diag, int penalty)
{
    int bx = blockIdx.x;
    nw_tile(score, seq1, seq2, sub, n, bx, diag - bx, penalty);
}

extern "C" __global__ void nw_lower(int* score, const int* __restrict__ seq1,
                                    const int* __restrict__ seq2, const int* __restrict__ sub,
                                    int n, int diag, int penalty)
{
    int tiles = n / BS;
    int bx = diag + blockIdx.x;
    nw_tile(score, seq1, seq2, sub, n, bx, tiles - 1 - blockIdx.x, penalty);
}
