// LavaMD-like particle interactions in double precision (Rodinia lavaMD style). Space is
// a dim^3 grid of boxes of PAR particles; one block per home box loops over the up to 27
// neighbouring boxes (fewer at the faces), stages each neighbour's particles in shared
// memory and accumulates, per home particle, the potential and the force of every
// neighbour particle: v = exp(-a2 |ri - rj|^2), f = 2 v (ri - rj), weighted by its charge.
// Positions are (x, y, z) triples.
#define PAR 20
#define LAVA_THREADS 32

extern "C" __global__ void lavamd_forces(const double* __restrict__ r, const double* __restrict__ qv,
                                         double* __restrict__ fv, int dim, double a2)
{
    __shared__ double nb_r[PAR * 3];
    __shared__ double nb_q[PAR];
    int box = blockIdx.x;
    int bx = box % dim;
    int by = (box / dim) % dim;
    int bz = box / (dim * dim);
    int tid = threadIdx.x;
    bool active = tid < PAR;
    int me = box * PAR + tid;
    double xi = 0.0, yi = 0.0, zi = 0.0;
    if (active) {
        xi = r[me * 3 + 0];
        yi = r[me * 3 + 1];
        zi = r[me * 3 + 2];
    }
    double fpot = 0.0, fx = 0.0, fy = 0.0, fz = 0.0;
    for (int nb = 0; nb < 27; ++nb) {
        int nx = bx + nb % 3 - 1;
        int ny = by + (nb / 3) % 3 - 1;
        int nz = bz + nb / 9 - 1;
        if (nx < 0 || ny < 0 || nz < 0 || nx >= dim || ny >= dim || nz >= dim) {
            continue;
        }
        int first = ((nz * dim + ny) * dim + nx) * PAR;
        __syncthreads();
        if (active) {
            for (int c = 0; c < 3; ++c) {
                nb_r[tid * 3 + c] = r[(first + tid) * 3 + c];
            }
            nb_q[tid] = qv[first + tid];
        }
        __syncthreads();
        if (active) {
            for (int j = 0; j < PAR; ++j) {
                double dx = xi - nb_r[j * 3 + 0];
                double dy = yi - nb_r[j * 3 + 1];
                double dz = zi - nb_r[j * 3 + 2];
                double r2 = fma(dx, dx, fma(dy, dy, dz * dz));
                double vij = exp(-(a2 * r2));
                double fs = 2.0 * vij;
                double q = nb_q[j];
                fpot = fma(q, vij, fpot);
                fx = fma(q, fs * dx, fx);
                fy = fma(q, fs * dy, fy);
                fz = fma(q, fs * dz, fz);
            }
        }
    }
    if (active) {
        fv[me * 4 + 0] = fpot;
        fv[me * 4 + 1] = fx;
        fv[me * 4 + 2] = fy;
        fv[me * 4 + 3] = fz;
    }
}
