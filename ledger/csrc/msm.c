/* Multi-scalar multiplication, variable time; methods and the papers they come from (the
 * specification of each) in msm.h. */
#include "msm.h"

#include <stdlib.h>
#include <string.h>

#define A_WINDOW LEDGER_VAR_WINDOW
#define A_TABLE LEDGER_VAR_TABLE

void ledger_ge_double_scalarmult_vartime(ledger_ge_p3 *r, const ledger_sc *a, const ledger_ge_p3 *A, const ledger_sc *b) {
    int8_t na[257];
    int16_t nb[257];
    ledger_ge_cached ta[A_TABLE];
    const ledger_ge_affine *tb = ledger_ge_base_table();
    int top_a = ledger_sc_wnaf(na, a, A_WINDOW);
    int top_b = ledger_sc_wnaf16(nb, b, LEDGER_BASE_WINDOW);
    int top = top_a > top_b ? top_a : top_b;
    ledger_ge_odd_multiples(ta, A, A_TABLE);
    ledger_ge_efgh t = {0};
    ledger_ge_p2 acc;
    ledger_ge_p3 u;
    ledger_ge_p2_set_identity(&acc);
    for (int i = top - 1; i >= 0; i--) {
        ledger_ge_dbl(&t, &acc);
        if (na[i] || nb[i]) {
            ledger_ge_efgh_to_p3(&u, &t);
            if (na[i] > 0) {
                ledger_ge_add(&t, &u, &ta[na[i] >> 1]);
            } else if (na[i] < 0) {
                ledger_ge_sub(&t, &u, &ta[(-na[i]) >> 1]);
            }
            if (nb[i]) {
                if (na[i]) ledger_ge_efgh_to_p3(&u, &t);
                if (nb[i] > 0) ledger_ge_add_affine(&t, &u, &tb[nb[i] >> 1]);
                else ledger_ge_sub_affine(&t, &u, &tb[(-nb[i]) >> 1]);
            }
        }
        ledger_ge_efgh_to_p2(&acc, &t);
    }
    /* the last factors multiplied out to p3, or the neutral element */
    if (top == 0) {
        ledger_ge_p3_set_identity(r);
    } else {
        ledger_ge_efgh_to_p3(r, &t);
    }
}

void ledger_ge_quad_scalarmult_vartime(ledger_ge_p3 *r, const ledger_sc *b0, const ledger_sc *b1, const ledger_sc *a,
                                       const ledger_ge_p3 *A, const ledger_sc *c, const ledger_ge_p3 *C) {
    ledger_ge_cached ta[A_TABLE];
    ledger_ge_odd_multiples(ta, A, A_TABLE);
    ledger_ge_quad_scalarmult_table(r, b0, b1, a, ta, c, C);
}

void ledger_ge_quad_scalarmult_table(ledger_ge_p3 *r, const ledger_sc *b0, const ledger_sc *b1, const ledger_sc *a,
                                     const ledger_ge_cached *ta, const ledger_sc *c, const ledger_ge_p3 *C) {
    int8_t na[257], nc[257];
    int16_t nb0[257], nb1[257];
    ledger_ge_cached tc[A_TABLE];
    const ledger_ge_affine *tb0 = ledger_ge_base_table();
    const ledger_ge_affine *tb1 = ledger_ge_base_table_hi();
    int top = ledger_sc_wnaf(na, a, A_WINDOW), t2;
    if ((t2 = ledger_sc_wnaf(nc, c, A_WINDOW)) > top) top = t2;
    if ((t2 = ledger_sc_wnaf16(nb0, b0, LEDGER_BASE_WINDOW)) > top) top = t2;
    if ((t2 = ledger_sc_wnaf16(nb1, b1, LEDGER_BASE_WINDOW)) > top) top = t2;
    ledger_ge_odd_multiples(tc, C, A_TABLE);
    ledger_ge_efgh t;
    ledger_ge_p2 acc;
    ledger_ge_p3 u;
    ledger_ge_p2_set_identity(&acc);
    ledger_ge_p3_set_identity(&u);
    int fresh = 0; /* t holds the latest value and u is stale */
    for (int i = top - 1; i >= 0; i--) {
        ledger_ge_dbl(&t, &acc);
        fresh = 1;
        int d;
        if ((d = na[i])) {
            ledger_ge_efgh_to_p3(&u, &t);
            if (d > 0) ledger_ge_add(&t, &u, &ta[d >> 1]);
            else ledger_ge_sub(&t, &u, &ta[(-d) >> 1]);
        }
        if ((d = nc[i])) {
            ledger_ge_efgh_to_p3(&u, &t);
            if (d > 0) ledger_ge_add(&t, &u, &tc[d >> 1]);
            else ledger_ge_sub(&t, &u, &tc[(-d) >> 1]);
        }
        if ((d = nb0[i])) {
            ledger_ge_efgh_to_p3(&u, &t);
            if (d > 0) ledger_ge_add_affine(&t, &u, &tb0[d >> 1]);
            else ledger_ge_sub_affine(&t, &u, &tb0[(-d) >> 1]);
        }
        if ((d = nb1[i])) {
            ledger_ge_efgh_to_p3(&u, &t);
            if (d > 0) ledger_ge_add_affine(&t, &u, &tb1[d >> 1]);
            else ledger_ge_sub_affine(&t, &u, &tb1[(-d) >> 1]);
        }
        ledger_ge_efgh_to_p2(&acc, &t);
    }
    if (fresh) ledger_ge_efgh_to_p3(r, &t);
    else ledger_ge_p3_set_identity(r);
}

/* ---- Straus: interleaved w-NAF, one table of odd multiples per point ---- */

#define STRAUS_WINDOW 5
#define STRAUS_TABLE (1 << (STRAUS_WINDOW - 2))

int ledger_msm_straus(ledger_ge_p3 *r, const ledger_sc *b, const ledger_sc *s, const ledger_ge_p3 *P, size_t n) {
    int16_t nb[257];
    int8_t *naf = NULL;
    ledger_ge_cached *tab = NULL;
    if (n) {
        naf = malloc(n * 257);
        tab = malloc(n * STRAUS_TABLE * sizeof(ledger_ge_cached));
        if (!naf || !tab) { free(naf); free(tab); return -1; }
    }
    const ledger_ge_affine *tb = ledger_ge_base_table();
    int top = ledger_sc_wnaf16(nb, b, LEDGER_BASE_WINDOW);
    for (size_t i = 0; i < n; i++) {
        int t = ledger_sc_wnaf(naf + 257 * i, &s[i], STRAUS_WINDOW);
        if (t > top) top = t;
        ledger_ge_odd_multiples(tab + STRAUS_TABLE * i, &P[i], STRAUS_TABLE);
    }
    ledger_ge_efgh t;
    ledger_ge_p2 acc;
    ledger_ge_p3 u;
    ledger_ge_p2_set_identity(&acc);
    ledger_ge_p3_set_identity(&u);
    int have_u = 1; /* u holds the current value in p3 form */
    for (int bit = top - 1; bit >= 0; bit--) {
        ledger_ge_dbl(&t, &acc);
        have_u = 0;
        for (size_t i = 0; i < n; i++) {
            int d = naf[257 * i + bit];
            if (!d) continue;
            if (!have_u) ledger_ge_efgh_to_p3(&u, &t);
            if (d > 0) ledger_ge_add(&t, &u, &tab[STRAUS_TABLE * i + (d >> 1)]);
            else ledger_ge_sub(&t, &u, &tab[STRAUS_TABLE * i + ((-d) >> 1)]);
            have_u = 0;
            ledger_ge_efgh_to_p3(&u, &t);
            have_u = 1;
        }
        int d = nb[bit];
        if (d) {
            if (!have_u) ledger_ge_efgh_to_p3(&u, &t);
            if (d > 0) ledger_ge_add_affine(&t, &u, &tb[d >> 1]);
            else ledger_ge_sub_affine(&t, &u, &tb[(-d) >> 1]);
            have_u = 0;
        }
        if (have_u) ledger_ge_p3_to_p2(&acc, &u);
        else ledger_ge_efgh_to_p2(&acc, &t);
    }
    if (top == 0) ledger_ge_p3_set_identity(r);
    else if (have_u) *r = u;
    else ledger_ge_efgh_to_p3(r, &t);
    free(naf);
    free(tab);
    return 0;
}

/* ---- Pippenger's bucket method with signed digits ----
 * For each c-bit window from the top: acc = [2^c]acc + sum_j j * (sum of points whose digit is
 * +-j, signed), the inner sum formed by running sums over the buckets. */

static int pippenger_window(size_t n) {
    /* measured-ish choice; the cost per window is n mixed additions + 2^c full additions */
    if (n < 32) return 4;
    if (n < 96) return 5;
    if (n < 288) return 6;
    if (n < 800) return 7;
    if (n < 2000) return 8;
    if (n < 5000) return 9;
    if (n < 14000) return 10;
    if (n < 40000) return 11;
    return 12;
}

int ledger_msm_pippenger(ledger_ge_p3 *r, const ledger_sc *b, const ledger_sc *s, const ledger_ge_p3 *P, size_t n) {
    size_t m = n + 1; /* the base point joins as the last point */
    int c = pippenger_window(m);
    int nd = ledger_sc_ndigits(c);
    size_t nbuckets = (size_t)1 << (c - 1);
    int16_t *dig = malloc(m * (size_t)nd * sizeof(int16_t));
    ledger_ge_affine *pre = malloc(m * sizeof(ledger_ge_affine));
    ledger_ge_p3 *bucket = malloc(nbuckets * sizeof(ledger_ge_p3));
    uint8_t *used = malloc(nbuckets);
    if (!dig || !pre || !bucket || !used) {
        free(dig); free(pre); free(bucket); free(used);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        ledger_sc_signed_digits(dig + (size_t)nd * i, &s[i], c);
        ledger_ge_p3_to_affine(&pre[i], &P[i]);
    }
    ledger_sc_signed_digits(dig + (size_t)nd * n, b, c);
    ledger_ge_p3_to_affine(&pre[n], &ledger_ge_basepoint);

    ledger_ge_p3 acc;
    ledger_ge_efgh t;
    ledger_ge_cached cc;
    ledger_ge_p3_set_identity(&acc);
    int started = 0;
    for (int w = nd - 1; w >= 0; w--) {
        if (started) {
            ledger_ge_p2 q;
            ledger_ge_p3_to_p2(&q, &acc);
            for (int k = 0; k < c - 1; k++) {
                ledger_ge_dbl(&t, &q);
                ledger_ge_efgh_to_p2(&q, &t);
            }
            ledger_ge_dbl(&t, &q);
            ledger_ge_efgh_to_p3(&acc, &t);
        }
        memset(used, 0, nbuckets);
        int any = 0;
        for (size_t i = 0; i < m; i++) {
            int d = dig[(size_t)nd * i + w];
            if (!d) continue;
            any = 1;
            size_t j = (size_t)(d > 0 ? d : -d) - 1;
            if (!used[j]) {
                /* first point in this bucket: a copy (negated for a negative digit) */
                if (i < n) bucket[j] = P[i];
                else bucket[j] = ledger_ge_basepoint;
                if (d < 0) {
                    ledger_fe_neg(&bucket[j].X, &bucket[j].X);
                    ledger_fe_neg(&bucket[j].T, &bucket[j].T);
                }
                used[j] = 1;
                continue;
            }
            if (d > 0) ledger_ge_add_affine(&t, &bucket[j], &pre[i]);
            else ledger_ge_sub_affine(&t, &bucket[j], &pre[i]);
            ledger_ge_efgh_to_p3(&bucket[j], &t);
        }
        if (!any) continue;
        /* sum_j (j+1) bucket[j] = sum over j of the running sums from the top */
        ledger_ge_p3 run, tot;
        int have_run = 0, have_tot = 0;
        for (size_t j = nbuckets; j-- > 0;) {
            if (used[j]) {
                if (have_run) {
                    ledger_ge_p3_to_cached(&cc, &bucket[j]);
                    ledger_ge_add(&t, &run, &cc);
                    ledger_ge_efgh_to_p3(&run, &t);
                } else {
                    run = bucket[j];
                    have_run = 1;
                }
            }
            if (have_run) {
                if (have_tot) {
                    ledger_ge_p3_to_cached(&cc, &run);
                    ledger_ge_add(&t, &tot, &cc);
                    ledger_ge_efgh_to_p3(&tot, &t);
                } else {
                    tot = run;
                    have_tot = 1;
                }
            }
        }
        if (have_tot) {
            ledger_ge_p3_to_cached(&cc, &tot);
            ledger_ge_add(&t, &acc, &cc);
            ledger_ge_efgh_to_p3(&acc, &t);
            started = 1;
        }
    }
    *r = acc;
    free(dig); free(pre); free(bucket); free(used);
    return 0;
}

#define STRAUS_MAX 96 /* points; above this the bucket method wins (measured: tests/c/bench_msm.c, the
                         * same crossing with 50%, 20% and 5% of the points carrying full scalars,
                         * i.e. with and without coalescing by key) */

int ledger_msm(ledger_ge_p3 *r, const ledger_sc *b, const ledger_sc *s, const ledger_ge_p3 *P, size_t n) {
    if (n <= STRAUS_MAX) return ledger_msm_straus(r, b, s, P, n);
    return ledger_msm_pippenger(r, b, s, P, n);
}
