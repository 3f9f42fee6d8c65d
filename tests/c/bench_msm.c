/* Where Straus and Pippenger cross: times both MSMs on batch-shaped inputs (per signature: one
 * point with a 128-bit scalar, one with a full scalar; plus the base point). With coalescing by
 * key fewer points carry full scalars (one per distinct key): the optional argument is the
 * percentage of points with a full scalar (default 50; e.g. 20 for 64 signatures by 16 keys).
 * Build: gcc -O3 -Iledger/csrc tests/c/bench_msm.c ledger/csrc/{sha512,fe25519,ge25519,sc25519,msm}.c -pthread */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "msm.h"

static double now(void) {
    struct timespec a;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a); /* CPU time: steadier on a shared machine */
    return (double)a.tv_sec + (double)a.tv_nsec * 1e-9;
}

static uint64_t st = 88172645463325252ULL;
static uint64_t rnd(void) { st ^= st << 13; st ^= st >> 7; st ^= st << 17; return st; }

int main(int argc, char **argv) {
    int full_pct = argc > 1 ? atoi(argv[1]) : 50;
    enum { MAXP = 1024 };
    static ledger_ge_p3 P[MAXP];
    static ledger_sc s[MAXP];
    ledger_sc b, zero = {{0, 0, 0, 0}};
    for (int i = 0; i < MAXP; i++) {
        uint8_t w[64], enc[32];
        for (int j = 0; j < 64; j++) w[j] = (uint8_t)rnd();
        ledger_sc_reduce512(&s[i], w);
        ledger_ge_p3 q;
        ledger_ge_double_scalarmult_vartime(&q, &zero, &ledger_ge_basepoint, &s[i]);
        ledger_ge_p3_tobytes(enc, &q);
        ledger_ge_frombytes_zip215(&P[i], enc);
        if ((i * 37 % 100) >= full_pct) s[i].v[2] = s[i].v[3] = 0; /* spread over the sizes */
    }
    b = s[1];
    printf("%d%% of the points with full scalars\n", full_pct);
    printf("%8s %14s %14s\n", "points", "straus us/pt", "pippenger us/pt");
    static const int sizes[] = {2, 4, 8, 16, 24, 32, 48, 64, 96, 128, 192, 256, 512, 1024};
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        int n = sizes[k];
        int reps = 20000 / n + 2;
        ledger_ge_p3 r;
        double best_s = 1e9, best_p = 1e9;
        for (int round = 0; round < 3; round++) {
            double t0 = now();
            for (int i = 0; i < reps; i++) ledger_msm_straus(&r, &b, s, P, (size_t)n);
            double t1 = now();
            for (int i = 0; i < reps; i++) ledger_msm_pippenger(&r, &b, s, P, (size_t)n);
            double t2 = now();
            if ((t1 - t0) < best_s) best_s = t1 - t0;
            if ((t2 - t1) < best_p) best_p = t2 - t1;
        }
        printf("%8d %14.2f %14.2f\n", n, best_s / reps / n * 1e6, best_p / reps / n * 1e6);
    }
    return 0;
}
