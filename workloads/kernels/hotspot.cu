// HotSpot thermal simulation (Rodinia style): one explicit time step of the 5-point
// stencil per launch on a rows x cols grid, with replicated edges. Each 16x16 block
// stages its tile plus a one-cell halo in shared memory (edge threads load the halo).
// The host ping-pongs two temperature buffers for several steps.
#define TB 16

extern "C" __global__ void hotspot_step(const float* __restrict__ temp,
                                        const float* __restrict__ power, float* __restrict__ out,
                                        int rows, int cols, float step_div_cap, float rx_inv,
                                        float ry_inv, float rz_inv, float amb)
{
    __shared__ float tile[TB + 2][TB + 2];
    int tx = threadIdx.x;
    int ty = threadIdx.y;
    int c = blockIdx.x * TB + tx;
    int r = blockIdx.y * TB + ty;
    int cc = min(c, cols - 1);
    int rc = min(r, rows - 1);
    tile[ty + 1][tx + 1] = temp[rc * cols + cc];
    if (ty == 0) {
        tile[0][tx + 1] = temp[max(rc - 1, 0) * cols + cc];
    }
    if (ty == TB - 1) {
        tile[TB + 1][tx + 1] = temp[min(rc + 1, rows - 1) * cols + cc];
    }
    if (tx == 0) {
        tile[ty + 1][0] = temp[rc * cols + max(cc - 1, 0)];
    }
    if (tx == TB - 1) {
        tile[ty + 1][TB + 1] = temp[rc * cols + min(cc + 1, cols - 1)];
    }
    __syncthreads();
    if (r < rows && c < cols) {
        float t = tile[ty + 1][tx + 1];
        float north = tile[ty][tx + 1];
        float south = tile[ty + 2][tx + 1];
        float west = tile[ty + 1][tx];
        float east = tile[ty + 1][tx + 2];
        float sum = fmaf(fmaf(-2.0f, t, north + south), ry_inv, power[r * cols + c]);
        sum = fmaf(fmaf(-2.0f, t, east + west), rx_inv, sum);
        sum = fmaf(amb - t, rz_inv, sum);
        out[r * cols + c] = fmaf(step_div_cap, sum, t);
    }
}
