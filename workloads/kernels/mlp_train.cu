// One training step of a 64-64-10 multilayer perceptron (ReLU hidden layer, softmax
// cross-entropy loss) on a batch, in kernels a data-parallel trainer can split:
//   forward:  mlp_hidden_forward, mlp_output_softmax (probabilities, per-sample loss and
//             d loss / d logits, already divided by the batch size), mlp_loss_mean;
//   backward: mlp_output_grads (W2, b2), mlp_hidden_backprop (through W2 and the ReLU),
//             mlp_hidden_grads (W1, b1) -- gradients are written, never accumulated, so
//             gradients of several devices can be averaged before the update;
//   update:   sgd_update, params -= lr * grads.
// Parameters live in one flat buffer: W1 [64][64], b1 [64], W2 [10][64], b2 [10].
#define MLP_IN 64
#define MLP_HIDDEN 64
#define MLP_CLASSES 10
#define OFF_W1 0
#define OFF_B1 (MLP_HIDDEN * MLP_IN)
#define OFF_W2 (OFF_B1 + MLP_HIDDEN)
#define OFF_B2 (OFF_W2 + MLP_CLASSES * MLP_HIDDEN)
#define MLP_PARAMS (OFF_B2 + MLP_CLASSES)
#define NEG_FLT_MAX (-3.402823466e38f)
#define MEAN_THREADS 256

extern "C" __global__ void mlp_hidden_forward(const float* __restrict__ x, const float* __restrict__ params,
                                              float* __restrict__ h)
{
    __shared__ float xs[MLP_IN];
    int b = blockIdx.x;
    int j = threadIdx.x;
    for (int i = j; i < MLP_IN; i += blockDim.x) {
        xs[i] = x[b * MLP_IN + i];
    }
    __syncthreads();
    const float* w = params + OFF_W1 + j * MLP_IN;
    float acc = params[OFF_B1 + j];
    for (int i = 0; i < MLP_IN; ++i) {
        acc = fmaf(xs[i], w[i], acc);
    }
    h[b * MLP_HIDDEN + j] = fmaxf(acc, 0.0f);
}

extern "C" __global__ void mlp_output_softmax(const float* __restrict__ h, const float* __restrict__ params,
                                              const int* __restrict__ labels, float* __restrict__ dlogits,
                                              float* __restrict__ loss, int batch)
{
    int b = blockIdx.x * blockDim.x + threadIdx.x;
    if (b >= batch) {
        return;
    }
    float z[MLP_CLASSES];
    float m = NEG_FLT_MAX;
    for (int c = 0; c < MLP_CLASSES; ++c) {
        const float* w = params + OFF_W2 + c * MLP_HIDDEN;
        float acc = params[OFF_B2 + c];
        for (int j = 0; j < MLP_HIDDEN; ++j) {
            acc = fmaf(h[b * MLP_HIDDEN + j], w[j], acc);
        }
        z[c] = acc;
        m = fmaxf(m, acc);
    }
    int y = labels[b];
    float sum = 0.0f;
    float zy = 0.0f;
    for (int c = 0; c < MLP_CLASSES; ++c) {
        float shifted = z[c] - m;
        if (c == y) {
            zy = shifted;
        }
        z[c] = expf(shifted);
        sum += z[c];
    }
    float inv_batch = 1.0f / (float)batch;
    for (int c = 0; c < MLP_CLASSES; ++c) {
        float target = c == y ? 1.0f : 0.0f;
        dlogits[b * MLP_CLASSES + c] = (z[c] / sum - target) * inv_batch;
    }
    loss[b] = logf(sum) - zy;
}

extern "C" __global__ void mlp_loss_mean(const float* __restrict__ loss, float* __restrict__ out, int batch)
{
    __shared__ float s[MEAN_THREADS];
    int tid = threadIdx.x;
    float v = 0.0f;
    for (int i = tid; i < batch; i += MEAN_THREADS) {
        v += loss[i];
    }
    s[tid] = v;
    __syncthreads();
    for (int stride = MEAN_THREADS / 2; stride > 0; stride >>= 1) {
        if (tid < stride) {
            s[tid] += s[tid + stride];
        }
        __syncthreads();
    }
    if (tid == 0) {
        out[0] = s[0] / (float)batch;
    }
}

extern "C" __global__ void mlp_output_grads(const float* __restrict__ h, const float* __restrict__ dlogits,
                                            float* __restrict__ grads, int batch)
{
    int idx = blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= MLP_CLASSES * (MLP_HIDDEN + 1)) {
        return;
    }
    int c = idx / (MLP_HIDDEN + 1);
    int j = idx % (MLP_HIDDEN + 1);
    float acc = 0.0f;
    if (j < MLP_HIDDEN) {
        for (int b = 0; b < batch; ++b) {
            acc = fmaf(dlogits[b * MLP_CLASSES + c], h[b * MLP_HIDDEN + j], acc);
        }
        grads[OFF_W2 + c * MLP_HIDDEN + j] = acc;
    } else {
        for (int b = 0; b < batch; ++b) {
            acc += dlogits[b * MLP_CLASSES + c];
        }
        grads[OFF_B2 + c] = acc;
    }
}

extern "C" __global__ void mlp_hidden_backprop(const float* __restrict__ dlogits,
                                               const float* __restrict__ params,
                                               const float* __restrict__ h, float* __restrict__ dh,
                                               int batch)
{
    int idx = blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= batch * MLP_HIDDEN) {
        return;
    }
    int b = idx / MLP_HIDDEN;
    int j = idx % MLP_HIDDEN;
    float s = 0.0f;
    for (int c = 0; c < MLP_CLASSES; ++c) {
        s = fmaf(dlogits[b * MLP_CLASSES + c], params[OFF_W2 + c * MLP_HIDDEN + j], s);
    }
    dh[idx] = h[idx] > 0.0f ? s : 0.0f;
}

extern "C" __global__ void mlp_hidden_grads(const float* __restrict__ x, const float* __restrict__ dh,
                                            float* __restrict__ grads, int batch)
{
    int idx = blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= MLP_HIDDEN * (MLP_IN + 1)) {
        return;
    }
    int j = idx / (MLP_IN + 1);
    int i = idx % (MLP_IN + 1);
    float acc = 0.0f;
    if (i < MLP_IN) {
        for (int b = 0; b < batch; ++b) {
            acc = fmaf(dh[b * MLP_HIDDEN + j], x[b * MLP_IN + i], acc);
        }
        grads[OFF_W1 + j * MLP_IN + i] = acc;
    } else {
        for (int b = 0; b < batch; ++b) {
            acc += dh[b * MLP_HIDDEN + j];
        }
        grads[OFF_B1 + j] = acc;
    }
}

extern "C" __global__ void sgd_update(float* __restrict__ params, const float* __restrict__ grads, float lr,
                                      int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        params[i] = fmaf(-lr, grads[i], params[i]);
    }
}
