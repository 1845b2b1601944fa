// A two-kernel pipeline over a w x h image of floats:
//   affine_clamp  t[i] = clamp(x[i] * p.scale + p.shift, p.lo, p.hi)   (p by value)
//   blur3x3       out[y][x] = mean of t over the 3x3 neighbourhood inside the image
struct Affine {
    float scale;
    float shift;
    float lo;
    float hi;
};

extern "C" __global__ void affine_clamp(const float *x, float *t, int n, Affine p)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        t[i] = fminf(fmaxf(x[i] * p.scale + p.shift, p.lo), p.hi);
    }
}

extern "C" __global__ void blur3x3(const float *t, float *out, int w, int h)
{
    int x = blockIdx.x * blockDim.x + threadIdx.x;
    int y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= w || y >= h) {
        return;
    }
    float s = 0.0f;
    int c = 0;
    for (int dy = -1; dy <= 1; dy++) {
        for (int dx = -1; dx <= 1; dx++) {
            int xx = x + dx, yy = y + dy;
            if (xx >= 0 && xx < w && yy >= 0 && yy < h) {
                s += t[yy * w + xx];
                c++;
            }
        }
    }
    out[y * w + x] = s / (float)c;
}
