// Level-synchronous breadth-first search over a CSR graph with an explicit frontier
// queue. bfs_init sets every distance to -1 and seeds the queue with the source; each
// bfs_expand launch gives one thread per frontier vertex, which walks its adjacency list
// (irregular trip counts), claims unvisited neighbours with atomicCAS and appends them
// to the next frontier with atomicAdd. The host swaps queues until the frontier is empty.
extern "C" __global__ void bfs_init(int* __restrict__ dist, int* __restrict__ frontier, int n, int source)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        dist[i] = i == source ? 0 : -1;
    }
    if (i == 0) {
        frontier[0] = source;
    }
}

extern "C" __global__ void bfs_expand(const int* __restrict__ row_ptr, const int* __restrict__ cols,
                                      const int* __restrict__ frontier, int frontier_len,
                                      int* __restrict__ next, unsigned* next_len, int* dist, int level)
{
    int t = blockIdx.x * blockDim.x + threadIdx.x;
    if (t >= frontier_len) {
        return;
    }
    int u = frontier[t];
    int end = row_ptr[u + 1];
    for (int e = row_ptr[u]; e < end; ++e) {
        int v = cols[e];
        if (dist[v] < 0 && atomicCAS(&dist[v], -1, level + 1) == -1) {
            unsigned slot = atomicAdd(next_len, 1u);
            next[slot] = v;
        }
    }
}
