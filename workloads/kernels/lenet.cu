// LeNet-5 style CNN inference on 28x28 single-channel images:
//   conv 5x5 (1 -> 6) + ReLU, max-pool 2x2, conv 5x5 (6 -> 16) + ReLU, max-pool 2x2,
//   dense 256 -> 120 + ReLU, dense 120 -> 84 + ReLU, dense 84 -> 10, softmax.
// conv2d_relu stages one output channel's filter in shared memory (grid.y = channel,
// grid.z = image); dense gives one thread per output neuron; softmax gives one warp per
// image and reduces max and sum with butterfly shuffles.
#define MAX_FILTER 256
#define FULL_MASK 0xffffffffu
#define NEG_FLT_MAX (-3.402823466e38f)

extern "C" __global__ void conv2d_relu(const float* __restrict__ in, const float* __restrict__ w,
                                       const float* __restrict__ bias, float* __restrict__ out,
                                       int in_c, int in_h, int in_w, int out_c, int k)
{
    __shared__ float filt[MAX_FILTER];
    int oc = blockIdx.y;
    int img = blockIdx.z;
    int out_h = in_h - k + 1;
    int out_w = in_w - k + 1;
    int fsize = in_c * k * k;
    for (int i = threadIdx.x; i < fsize; i += blockDim.x) {
        filt[i] = w[oc * fsize + i];
    }
    __syncthreads();
    int p = blockIdx.x * blockDim.x + threadIdx.x;
    if (p < out_h * out_w) {
        int oy = p / out_w;
        int ox = p % out_w;
        const float* src = in + img * in_c * in_h * in_w;
        float acc = bias[oc];
        for (int ic = 0; ic < in_c; ++ic) {
            for (int ky = 0; ky < k; ++ky) {
                for (int kx = 0; kx < k; ++kx) {
                    acc = fmaf(src[(ic * in_h + oy + ky) * in_w + ox + kx], filt[(ic * k + ky) * k + kx], acc);
                }
            }
        }
        out[((img * out_c + oc) * out_h + oy) * out_w + ox] = fmaxf(acc, 0.0f);
    }
}

extern "C" __global__ void maxpool2x2(const float* __restrict__ in, float* __restrict__ out, int planes,
                                      int h, int w)
{
    int oh = h / 2;
    int ow = w / 2;
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= planes * oh * ow) {
        return;
    }
    int ox = i % ow;
    int oy = (i / ow) % oh;
    int plane = i / (ow * oh);
    const float* p = in + (plane * h + 2 * oy) * w + 2 * ox;
    out[i] = fmaxf(fmaxf(p[0], p[1]), fmaxf(p[w], p[w + 1]));
}

extern "C" __global__ void dense(const float* __restrict__ in, const float* __restrict__ w,
                                 const float* __restrict__ bias, float* __restrict__ out, int in_n,
                                 int out_n, int relu)
{
    int o = blockIdx.x * blockDim.x + threadIdx.x;
    int img = blockIdx.y;
    if (o >= out_n) {
        return;
    }
    const float* x = in + img * in_n;
    const float* row = w + o * in_n;
    float acc = bias[o];
    for (int i = 0; i < in_n; ++i) {
        acc = fmaf(x[i], row[i], acc);
    }
    out[img * out_n + o] = relu ? fmaxf(acc, 0.0f) : acc;
}

extern "C" __global__ void softmax(const float* __restrict__ in, float* __restrict__ out, int n)
{
    int img = blockIdx.x;
    int lane = threadIdx.x;
    float x = lane < n ? in[img * n + lane] : NEG_FLT_MAX;
    float m = x;
    for (int off = 16; off > 0; off >>= 1) {
        m = fmaxf(m, __shfl_xor_sync(FULL_MASK, m, off));
    }
    float e = lane < n ? expf(x - m) : 0.0f;
    float s = e;
    for (int off = 16; off > 0; off >>= 1) {
        s += __shfl_xor_sync(FULL_MASK, s, off);
    }
    if (lane < n) {
        out[img * n + lane] = e / s;
    }
}
