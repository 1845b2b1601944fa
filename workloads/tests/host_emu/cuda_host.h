// A minimal CUDA execution model on the host, for testing the workloads' host drivers
// and CPU references without a GPU: each CTA runs as cooperative fibers (ucontext), one
// per thread, in a fixed order; __syncthreads and warp-synchronous intrinsics switch
// fibers. Deterministic and single-threaded; static __shared__ variables are plain
// statics (CTAs run one after another). Kernels are compiled as C++ with
// -ffp-contract=off, so float arithmetic is exactly what the source says (fmaf is fmaf).
// This is not a GPU model: no memory spaces, no instruction semantics, no timing.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <type_traits>
#include <ucontext.h>
#include <utility>
#include <vector>

struct dim3 {
    unsigned x, y, z;
};

#define __global__
#define __device__
#define __forceinline__ inline
#define __shared__ static

namespace emu {

enum State { RUNNING, AT_BARRIER, AT_WARP_SYNC, DONE };

struct Fiber {
    ucontext_t ctx;
    std::vector<char> stack;
    dim3 tid;
    int linear;
    State state;
    uint64_t slot;
};

struct Launch {
    ucontext_t scheduler;
    std::vector<Fiber> fibers;
    Fiber* current = nullptr;
    dim3 block_idx, block_dim, grid_dim;
    void (*body)(void**) = nullptr;
    void** args = nullptr;
    std::string error;
};

inline thread_local Launch L;

inline void yield(State s)
{
    Fiber* f = L.current;
    f->state = s;
    swapcontext(&f->ctx, &L.scheduler);
}

inline void fiber_main()
{
    L.body(L.args);
    L.current->state = DONE;
    swapcontext(&L.current->ctx, &L.scheduler);
}

// Runs one CTA to completion; false (with L.error) on a deadlock.
inline bool run_block(int threads)
{
    const size_t stack_size = 64 * 1024;
    if ((int)L.fibers.size() < threads) {
        L.fibers.resize(threads);
    }
    for (int i = 0; i < threads; ++i) {
        Fiber& f = L.fibers[i];
        if (f.stack.empty()) {
            f.stack.resize(stack_size);
        }
        f.linear = i;
        f.tid = dim3{ (unsigned)i % L.block_dim.x, ((unsigned)i / L.block_dim.x) % L.block_dim.y,
                      (unsigned)i / (L.block_dim.x * L.block_dim.y) };
        f.state = RUNNING;
        getcontext(&f.ctx);
        f.ctx.uc_stack.ss_sp = f.stack.data();
        f.ctx.uc_stack.ss_size = stack_size;
        f.ctx.uc_link = nullptr;
        makecontext(&f.ctx, fiber_main, 0);
    }
    for (;;) {
        for (int i = 0; i < threads; ++i) {
            if (L.fibers[i].state == RUNNING) {
                L.current = &L.fibers[i];
                swapcontext(&L.scheduler, &L.fibers[i].ctx);
            }
        }
        // Nothing is running now. Complete warp syncs whose live lanes all arrived.
        bool released = false, pending_warp = false, any_barrier = false, all_done = true;
        for (int w = 0; w < threads; w += 32) {
            int end = w + 32 < threads ? w + 32 : threads;
            bool waiting = false, complete = true;
            for (int i = w; i < end; ++i) {
                State s = L.fibers[i].state;
                waiting |= s == AT_WARP_SYNC;
                complete &= s == AT_WARP_SYNC || s == DONE;
            }
            if (waiting && complete) {
                for (int i = w; i < end; ++i) {
                    if (L.fibers[i].state == AT_WARP_SYNC) {
                        L.fibers[i].state = RUNNING;
                    }
                }
                released = true;
            } else if (waiting) {
                pending_warp = true;
            }
        }
        if (released) {
            continue;
        }
        for (int i = 0; i < threads; ++i) {
            any_barrier |= L.fibers[i].state == AT_BARRIER;
            all_done &= L.fibers[i].state == DONE;
        }
        if (all_done) {
            return true;
        }
        if (pending_warp || !any_barrier) {
            L.error = "deadlock: a warp-synchronous operation waits for lanes held at __syncthreads";
            return false;
        }
        for (int i = 0; i < threads; ++i) {
            if (L.fibers[i].state == AT_BARRIER) {
                L.fibers[i].state = RUNNING;
            }
        }
    }
}

inline int lane() { return L.current->linear & 31; }

// Posts `v`, waits for the warp, returns the posted value of lane `src` (own value when
// that lane does not exist or has exited), and waits again before slots are reused.
inline uint64_t exchange(uint64_t v, int src)
{
    Fiber* f = L.current;
    f->slot = v;
    yield(AT_WARP_SYNC);
    int base = f->linear & ~31;
    uint64_t r = v;
    if (src >= 0 && src < 32 && base + src < (int)L.fibers.size()) {
        Fiber& s = L.fibers[base + src];
        int threads = (int)(L.block_dim.x * L.block_dim.y * L.block_dim.z);
        if (base + src < threads && s.state != DONE) {
            r = s.slot;
        }
    }
    yield(AT_WARP_SYNC);
    return r;
}

template <class T> inline uint64_t to_bits(T v)
{
    uint64_t b = 0;
    std::memcpy(&b, &v, sizeof(T));
    return b;
}

template <class T> inline T from_bits(uint64_t b)
{
    T v;
    std::memcpy(&v, &b, sizeof(T));
    return v;
}

// The kernel table of one translation unit.
struct Entry {
    const char* name;
    void (*call)(void**);
    std::string signature;
};

template <class T> inline char code()
{
    if (std::is_pointer<T>::value) return 'p';
    if (std::is_same<T, float>::value) return 'f';
    if (std::is_same<T, double>::value) return 'd';
    if (std::is_same<T, int>::value) return 'i';
    if (std::is_same<T, unsigned>::value) return 'u';
    return '?';
}

template <class... A> struct Kernel {
    template <void (*K)(A...), std::size_t... I> static void invoke(void** args, std::index_sequence<I...>)
    {
        K(*static_cast<A*>(args[I])...);
    }
    template <void (*K)(A...)> static void call(void** args) { invoke<K>(args, std::index_sequence_for<A...>{}); }
    static std::string signature() { return std::string{ code<A>()... }; }
};

template <class... A> Kernel<A...> kernel_of(void (*)(A...)) { return {}; }

inline int launch(const Entry* table, int count, const char* name, const unsigned* grid, const unsigned* block,
                  const char* signature, void** args, char* err, int err_len)
{
    const Entry* e = nullptr;
    for (int i = 0; i < count; ++i) {
        if (std::strcmp(table[i].name, name) == 0) e = &table[i];
    }
    std::string msg;
    if (!e) {
        msg = std::string("no kernel named ") + name;
    } else if (e->signature != signature) {
        msg = std::string("argument kinds ") + signature + " do not match the parameters " + e->signature + " of " + name;
    } else {
        L.body = e->call;
        L.args = args;
        L.grid_dim = dim3{ grid[0], grid[1], grid[2] };
        L.block_dim = dim3{ block[0], block[1], block[2] };
        int threads = (int)(block[0] * block[1] * block[2]);
        for (unsigned z = 0; z < grid[2] && msg.empty(); ++z)
            for (unsigned y = 0; y < grid[1] && msg.empty(); ++y)
                for (unsigned x = 0; x < grid[0] && msg.empty(); ++x) {
                    L.block_idx = dim3{ x, y, z };
                    if (!run_block(threads)) msg = L.error + " in " + name;
                }
    }
    if (msg.empty()) return 0;
    std::snprintf(err, err_len, "%s", msg.c_str());
    return 1;
}

} // namespace emu

#define threadIdx (emu::L.current->tid)
#define blockIdx (emu::L.block_idx)
#define blockDim (emu::L.block_dim)
#define gridDim (emu::L.grid_dim)

inline void __syncthreads() { emu::yield(emu::AT_BARRIER); }

template <class T> inline T __shfl_sync(unsigned, T v, int src)
{
    return emu::from_bits<T>(emu::exchange(emu::to_bits(v), src & 31));
}
template <class T> inline T __shfl_down_sync(unsigned, T v, int d)
{
    return emu::from_bits<T>(emu::exchange(emu::to_bits(v), emu::lane() + d));
}
template <class T> inline T __shfl_xor_sync(unsigned, T v, int m)
{
    return emu::from_bits<T>(emu::exchange(emu::to_bits(v), emu::lane() ^ m));
}
inline unsigned __ballot_sync(unsigned, int pred)
{
    // Every lane posts its predicate; only lanes that exist and have not exited count.
    unsigned mask = 0;
    emu::Fiber* f = emu::L.current;
    f->slot = pred ? 1 : 0;
    emu::yield(emu::AT_WARP_SYNC);
    int base = f->linear & ~31;
    int threads = (int)(blockDim.x * blockDim.y * blockDim.z);
    for (int l = 0; l < 32 && base + l < threads; ++l) {
        emu::Fiber& s = emu::L.fibers[base + l];
        if (s.state != emu::DONE && s.slot) mask |= 1u << l;
    }
    emu::yield(emu::AT_WARP_SYNC);
    return mask;
}

inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __ffs(int x) { return __builtin_ffs(x); }
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
inline unsigned min(unsigned a, unsigned b) { return a < b ? a : b; }
inline unsigned max(unsigned a, unsigned b) { return a > b ? a : b; }

// Fibers switch only at barriers and warp syncs, so plain read-modify-writes are atomic.
inline unsigned atomicAdd(unsigned* p, unsigned v) { unsigned o = *p; *p = o + v; return o; }
inline int atomicAdd(int* p, int v) { int o = *p; *p = o + v; return o; }
inline int atomicCAS(int* p, int cmp, int v) { int o = *p; if (o == cmp) *p = v; return o; }

#define EMU_KERNEL(k) emu::Entry{ #k, decltype(emu::kernel_of(&k))::template call<&k>, decltype(emu::kernel_of(&k))::signature() }
#define EMU_TABLE(...)                                                                                     \
    static const std::vector<emu::Entry>& emu_table() { static const std::vector<emu::Entry> t{ __VA_ARGS__ }; return t; } \
    extern "C" int emu_launch(const char* name, const unsigned* grid, const unsigned* block, const char* sig, \
                              void** args, char* err, int err_len)                                          \
    {                                                                                                       \
        return emu::launch(emu_table().data(), (int)emu_table().size(), name, grid, block, sig, args, err, err_len); \
    }
