/* Ed25519 batch verification: random linear combination, bisection, pthreads, getrandom().
 * Specification: see ed25519_batch.h. */
#include "ed25519_batch.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "ed25519_verify.h"
#include "key_hash.h"
#include "msm.h"

/* Ranges of at most this many items are settled one signature at a time during bisection. */
#define SINGLES_BELOW 4
/* Below this many items per thread, extra threads are not worth starting. */
#define MIN_ITEMS_PER_THREAD 32

typedef struct {
    size_t n;
    const uint8_t *const *pk;
    const uint8_t *const *msg;
    const size_t *mlen;
    const uint8_t *const *sig;
    uint8_t *res;        /* verdicts (NULL when only the first bad item is wanted) */
    const uint8_t *coef; /* 16 bytes per item */
    size_t base;         /* position of item 0 in the whole batch */
    const size_t *pos;   /* positions of the items in the whole batch (NULL: base, base + 1, ...) */
    size_t *first_bad;   /* first-bad mode: the smallest bad position found so far (shared) */
    int coalesce;        /* one point per distinct key encoding (else one per item) */
} job_t;

/* Position of the job's item i in the whole batch. */
static size_t job_pos(const job_t *j, size_t i) { return j->pos ? j->pos[i] : j->base + i; }

/* The coalescing switch (ledger_ed25519_batch_coalesce); read once per batch. */
static int coalesce_on = 1;

/* Combined checks made and points summed by them (the base point included), over all threads. */
static unsigned long stat_checks, stat_points;

void ledger_ed25519_batch_stats(unsigned long *checks, unsigned long *points, int reset) {
    if (reset) {
        __atomic_store_n(&stat_checks, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&stat_points, 0, __ATOMIC_RELAXED);
    }
    if (checks) *checks = __atomic_load_n(&stat_checks, __ATOMIC_RELAXED);
    if (points) *points = __atomic_load_n(&stat_points, __ATOMIC_RELAXED);
}

int ledger_ed25519_batch_coalesce(int enable) {
    if (enable >= 0) __atomic_store_n(&coalesce_on, enable ? 1 : 0, __ATOMIC_RELAXED);
    return __atomic_load_n(&coalesce_on, __ATOMIC_RELAXED);
}

/* The items' public keys in groups: identical 32-byte encodings (as received) form one group and
 * one point -A of the combination, whose scalar is the sum of z_i k_i mod L over the group's items
 * in the range checked (the coalescing of zebra's batch verifier). Encodings that differ but name
 * the same point (y >= p, x = -0) stay separate groups: their k_i differ anyway, and a point that
 * appears twice in the sum is still correct, only not merged. With coalescing off every item is
 * its own group, which is the plain 2n + 1 point combination. */
typedef struct {
    /* per decodable item, in order: */
    size_t *index;      /* position in the caller's arrays */
    ledger_ge_p3 *negR; /* -R_i */
    uint32_t *grp;      /* its key group */
    ledger_sc *S, *k, *z;
    ledger_sc *zk;      /* z_i k_i mod L */
    size_t m;           /* how many items decoded */
    /* per key group: */
    ledger_ge_p3 *negA; /* -A */
    size_t d;           /* how many groups */
    /* scratch of combined_check: room for n + d points */
    ledger_ge_p3 *P;
    ledger_sc *s;
    uint64_t *stamp;    /* per group: the check that last gave it a slot */
    size_t *slot;       /* per group: its place in P and s during that check */
    uint64_t epoch;
    int err;
} work_t;

/* 1 iff [8]([S]B - R - [k]A) = 0, given negR = -R and negA = -A. */
static int single_check(const ledger_ge_p3 *negR, const ledger_ge_p3 *negA, const ledger_sc *S, const ledger_sc *k) {
    ledger_ge_p3 A, R;
    ledger_ge_neg(&A, negA);
    ledger_ge_neg(&R, negR);
    return ledger_ed25519_check_decoded(&A, &R, S, k);
}

static int item_check(const work_t *w, size_t i) {
    return single_check(&w->negR[i], &w->negA[w->grp[i]], &w->S[i], &w->k[i]);
}

/* First-bad mode: lowers *first_bad to position p (atomically; the threads share it). */
static void note_bad(size_t *first_bad, size_t p) {
    size_t cur = __atomic_load_n(first_bad, __ATOMIC_RELAXED);
    while (p < cur && !__atomic_compare_exchange_n(first_bad, &cur, p, 1, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
    }
}

/* 1 iff the random combination of items [lo, hi) vanishes: the points are -R_i (scalar z_i) for
 * each item, then -A once per key group present in the range (scalar: the sum of its z_i k_i). */
static int combined_check(work_t *w, size_t lo, size_t hi) {
    ledger_sc b, t;
    memset(&b, 0, sizeof b);
    size_t cnt = 0;
    for (size_t i = lo; i < hi; i++) {
        ledger_sc_mul(&t, &w->z[i], &w->S[i]);
        ledger_sc_add(&b, &b, &t);
        w->P[cnt] = w->negR[i];
        w->s[cnt++] = w->z[i];
    }
    uint64_t ep = ++w->epoch;
    for (size_t i = lo; i < hi; i++) {
        uint32_t g = w->grp[i];
        if (w->stamp[g] != ep) {
            w->stamp[g] = ep;
            w->slot[g] = cnt;
            w->P[cnt] = w->negA[g];
            w->s[cnt++] = w->zk[i];
        } else {
            ledger_sc_add(&w->s[w->slot[g]], &w->s[w->slot[g]], &w->zk[i]);
        }
    }
    __atomic_fetch_add(&stat_checks, 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&stat_points, (unsigned long)cnt + 1, __ATOMIC_RELAXED);
    ledger_ge_p3 Q;
    ledger_ge_p2 q8;
    if (ledger_msm(&Q, &b, w->s, w->P, cnt) != 0) {
        w->err = -1;
        return 0;
    }
    ledger_ge_mul8(&q8, &Q);
    return ledger_ge_p2_is_identity(&q8);
}

/* Sets verdicts for items [lo, hi); known_bad: the combination over the range already failed.
 * A range known to hold a bad item is settled one signature at a time once it is small. */
static void settle(work_t *w, size_t lo, size_t hi, int known_bad, uint8_t *res) {
    if (hi - lo == 1 || (known_bad && hi - lo <= SINGLES_BELOW)) {
        for (size_t i = lo; i < hi; i++) res[w->index[i]] = (uint8_t)item_check(w, i);
        return;
    }
    if (!known_bad && combined_check(w, lo, hi)) {
        for (size_t i = lo; i < hi; i++) res[w->index[i]] = 1;
        return;
    }
    /* the range failed: probe the left half; if it passes, the fault is known to be on the right */
    size_t mid = lo + (hi - lo) / 2;
    int left_ok = 0;
    if (mid - lo == 1) {
        settle(w, lo, mid, 0, res);
    } else if (combined_check(w, lo, mid)) {
        for (size_t i = lo; i < mid; i++) res[w->index[i]] = 1;
        left_ok = 1;
    } else {
        settle(w, lo, mid, 1, res);
    }
    settle(w, mid, hi, left_ok, res);
}

/* First-bad mode: the smallest i in [lo, hi) whose signature fails, or hi if none does. Only the
 * leftmost failing half is followed, so a range is settled with about two combined checks of its
 * size in all, however many items in it are bad (settle() gives each bad item its own checks).
 * Ranges that start after a bad item another thread already found are abandoned. */
static size_t leftmost_bad(work_t *w, const job_t *j, size_t lo, size_t hi, int known_bad) {
    if (lo >= hi) return hi;
    if (__atomic_load_n(j->first_bad, __ATOMIC_RELAXED) < job_pos(j, w->index[lo])) return hi;
    if (hi - lo == 1 || (known_bad && hi - lo <= SINGLES_BELOW)) {
        for (size_t i = lo; i < hi; i++)
            if (!item_check(w, i)) return i;
        return hi;
    }
    if (!known_bad && combined_check(w, lo, hi)) return hi;
    size_t mid = lo + (hi - lo) / 2;
    size_t left;
    if (mid - lo == 1) left = leftmost_bad(w, j, lo, mid, 0);
    else if (combined_check(w, lo, mid)) left = mid;
    else left = leftmost_bad(w, j, lo, mid, 1);
    if (left < mid) return left;   /* the right half is never looked at */
    return leftmost_bad(w, j, mid, hi, 1);
}

/* The group of key in an open-addressing table of cap (a power of two) slots, each 0 or a group
 * + 1; a key not seen before opens group *d (gpk[*d] = key) and *fresh is set. */
static uint32_t group_of(uint32_t *table, size_t cap, const uint8_t **gpk, size_t *d, const uint8_t *key,
                         int *fresh) {
    size_t h = ledger_key_slot(key, cap - 1);
    while (table[h] && memcmp(gpk[table[h] - 1], key, 32) != 0) h = (h + 1) & (cap - 1);
    if (table[h]) {
        *fresh = 0;
        return table[h] - 1;
    }
    uint32_t g = (uint32_t)(*d)++;
    table[h] = g + 1;
    gpk[g] = key;
    *fresh = 1;
    return g;
}

static size_t table_size(size_t n) {
    size_t cap = 16;
    while (cap < 2 * n) cap <<= 1;
    return cap;
}

static int run_job(const job_t *j) {
    size_t n = j->n;
    work_t w;
    memset(&w, 0, sizeof w);
    if (n == 0) return 0;
    if (n > UINT32_MAX) return -1;
    w.index = malloc(n * sizeof *w.index);
    w.negR = malloc(n * sizeof *w.negR);
    w.grp = malloc(n * sizeof *w.grp);
    w.negA = malloc(n * sizeof *w.negA);
    w.S = malloc(n * sizeof *w.S);
    w.k = malloc(n * sizeof *w.k);
    w.z = malloc(n * sizeof *w.z);
    w.zk = malloc(n * sizeof *w.zk);
    const uint8_t **gpk = malloc(n * sizeof *gpk); /* per group: its key encoding */
    uint8_t *state = malloc(n);                    /* per item; bit 0: queued its group's A; bit 1: rejected */
    uint8_t *gstate = malloc(n);                   /* per group; bit 0: A from cache; bit 1: rejected */
    ledger_ge_p3 **dst = malloc(2 * n * sizeof *dst);
    const uint8_t **enc = malloc(2 * n * sizeof *enc);
    uint8_t *fail = malloc(2 * n);
    size_t cap = 0;
    uint32_t *table = NULL; /* open addressing: group + 1, 0 = empty */
    if (j->coalesce) {
        cap = table_size(n);
        table = calloc(cap, sizeof *table);
    }
    int rc = 0;
    if (!w.index || !w.negR || !w.grp || !w.negA || !w.S || !w.k || !w.z || !w.zk || !gpk || !state || !gstate ||
        !dst || !enc || !fail || (j->coalesce && !table)) {
        rc = -1;
        goto out;
    }
    if (j->coalesce) ledger_key_hash_init();
    /* Group the keys; decode every R, and every group's A not in the key cache, four points at a
     * time; the points land directly in w.negR (by item) and w.negA (by group), negated afterwards. */
    size_t q = 0, d = 0;
    for (size_t i = 0; i < n; i++) {
        state[i] = 0;
        if (j->res) j->res[i] = 0;
        if (!ledger_sc_is_canonical(j->sig[i] + 32)) {
            state[i] = 2;
            continue;
        }
        uint32_t g;
        int fresh = 1;
        if (j->coalesce) {
            g = group_of(table, cap, gpk, &d, j->pk[i], &fresh);
        } else {
            g = (uint32_t)d++;
            gpk[g] = j->pk[i];
        }
        if (fresh) {
            gstate[g] = 0;
            if (ledger_keycache_get(j->pk[i], &w.negA[g], NULL)) {
                gstate[g] = 1;
            } else {
                state[i] = 1;
                dst[q] = &w.negA[g];
                enc[q++] = j->pk[i];
            }
        }
        w.grp[i] = g;
        dst[q] = &w.negR[i];
        enc[q++] = j->sig[i];
    }
    /* scratch of the combined checks: a range sums at most its items' R and the d groups' A */
    w.P = malloc((n + d) * sizeof *w.P);
    w.s = malloc((n + d) * sizeof *w.s);
    w.stamp = calloc(d ? d : 1, sizeof *w.stamp);
    w.slot = malloc((d ? d : 1) * sizeof *w.slot);
    if (!w.P || !w.s || !w.stamp || !w.slot) {
        rc = -1;
        goto out;
    }
    size_t t = 0;
    for (; t + 4 <= q; t += 4) {
        ledger_ge_p3 h[4];
        int mask = ledger_ge_frombytes_zip215_x4(h, enc + t);
        for (int e = 0; e < 4; e++) {
            *dst[t + (size_t)e] = h[e];
            fail[t + (size_t)e] = (uint8_t)((mask >> e) & 1);
        }
    }
    if (t + 2 <= q) {
        int mask = ledger_ge_frombytes_zip215_x2(dst[t], enc[t], dst[t + 1], enc[t + 1]);
        fail[t] = (uint8_t)(mask & 1);
        fail[t + 1] = (uint8_t)((mask >> 1) & 1);
        t += 2;
    }
    if (t < q) {
        fail[t] = (uint8_t)(ledger_ge_frombytes_zip215(dst[t], enc[t]) != 0);
        t++;
    }
    /* walk the queue again in the same order to collect verdicts */
    q = 0;
    for (size_t i = 0; i < n; i++) {
        if (state[i] & 2) continue;
        uint32_t g = w.grp[i];
        if (state[i] & 1) {
            /* the item that opened its group queued the group's A just before its R */
            if (fail[q]) gstate[g] |= 2;
            else ledger_keycache_put(j->pk[i], &w.negA[g], NULL);
            q++;
        }
        if (fail[q++] || (gstate[g] & 2)) state[i] |= 2;
    }
    for (size_t g = 0; g < d; g++)
        if (!(gstate[g] & 2)) ledger_ge_neg(&w.negA[g], &w.negA[g]);
    w.d = d;
    /* First-bad mode: an item that fails on its own ends the search there; only the items
     * before it still need the group equation. */
    size_t end = n;
    if (!j->res) {
        for (end = 0; end < n && !(state[end] & 2); end++) {
        }
        if (end < n) note_bad(j->first_bad, job_pos(j, end));
    }
    /* compact the decodable items to the front, negating R */
    size_t m = 0;
    for (size_t i = 0; i < end; i++) {
        if (state[i] & 2) continue;
        const uint8_t *sig = j->sig[i], *pk = j->pk[i];
        ledger_ge_neg(&w.negR[m], &w.negR[i]);
        w.grp[m] = w.grp[i];
        ledger_sc_from_bytes(&w.S[m], sig + 32);
        ledger_ed25519_challenge(&w.k[m], sig, pk, j->msg[i], j->mlen[i]);
        memset(&w.z[m], 0, sizeof w.z[m]);
        for (int b = 0; b < 16; b++) w.z[m].v[b / 8] |= (uint64_t)j->coef[16 * i + (size_t)b] << (8 * (b % 8));
        ledger_sc_mul(&w.zk[m], &w.z[m], &w.k[m]);
        w.index[m] = i;
        m++;
    }
    w.m = m;
    if (j->res) {
        settle(&w, 0, w.m, 0, j->res);
    } else {
        size_t bad = leftmost_bad(&w, j, 0, w.m, 0);
        if (bad < w.m) note_bad(j->first_bad, job_pos(j, w.index[bad]));
    }
    rc = w.err;
out:
    free(w.index); free(w.negR); free(w.grp); free(w.negA); free(w.S); free(w.k); free(w.z); free(w.zk);
    free(w.P); free(w.s); free(w.stamp); free(w.slot);
    free(gpk); free(state); free(gstate); free(dst); free(enc); free(fail); free(table);
    return rc;
}

static void *thread_main(void *arg) {
    job_t *j = arg;
    intptr_t rc = run_job(j);
    return (void *)rc;
}

int ledger_cpu_count(void) {
    long c = sysconf(_SC_NPROCESSORS_ONLN);
    return c < 1 ? 1 : (int)c;
}

/* Coalesced batches on several threads: the items are dealt so that a key's items stay in one
 * thread (else each thread's share would hold most keys again): ordered by key group, the items
 * form one sequence cut into equal runs, one per thread, so a group is split only at a cut (at
 * most nthreads - 1 extra points) and the shares stay equal. Each thread gets its items in
 * position order (bisection and the first-bad search rely on that), gathered into arrays here. */
typedef struct {
    const uint8_t **pk, **msg, **sig;
    size_t *mlen, *pos;
    uint8_t *coef, *res;
    size_t n;
} deal_t;

static void deal_free(deal_t *d) {
    if (d->coef) memset(d->coef, 0, 16 * d->n); /* the coefficients stay secret */
    free(d->pk); free(d->msg); free(d->sig); free(d->mlen); free(d->pos); free(d->coef); free(d->res);
}

/* 1 when the jobs are set up; 0 (nothing allocated) when memory ran out: the caller splits by
 * position instead. */
static int deal_by_key(deal_t *dl, size_t n, int nthreads, const uint8_t *const *pk, const uint8_t *const *msg,
                       const size_t *mlen, const uint8_t *const *sig, uint8_t *results, size_t *first_bad,
                       const uint8_t *coef, job_t *jobs) {
    if (n > UINT32_MAX) return 0;
    size_t cap = table_size(n), d = 0;
    uint32_t *table = calloc(cap, sizeof *table);
    uint32_t *gid = malloc(n * sizeof *gid);
    size_t *start = malloc((n + 1) * sizeof *start); /* per group: count, then where its run starts */
    const uint8_t **gpk = malloc(n * sizeof *gpk);
    uint16_t *thr = malloc(n * sizeof *thr);
    dl->pk = malloc(n * sizeof *dl->pk);
    dl->msg = malloc(n * sizeof *dl->msg);
    dl->sig = malloc(n * sizeof *dl->sig);
    dl->mlen = malloc(n * sizeof *dl->mlen);
    dl->pos = malloc(n * sizeof *dl->pos);
    dl->coef = malloc(16 * n);
    dl->res = results ? malloc(n) : NULL;
    dl->n = n;
    int ok = table && gid && start && gpk && thr && dl->pk && dl->msg && dl->sig && dl->mlen && dl->pos && dl->coef &&
             (!results || dl->res);
    if (ok) {
        ledger_key_hash_init();
        for (size_t i = 0; i < n; i++) {
            int fresh;
            gid[i] = group_of(table, cap, gpk, &d, pk[i], &fresh);
            if (fresh) start[gid[i]] = 0;
            start[gid[i]]++;
        }
        size_t acc = 0;
        for (size_t g = 0; g < d; g++) {
            size_t c = start[g];
            start[g] = acc;
            acc += c;
        }
        /* rank of item i in the sequence ordered by group; its thread is the run holding the rank */
        size_t count[256] = {0};
        for (size_t i = 0; i < n; i++) {
            size_t rank = start[gid[i]]++;
            thr[i] = (uint16_t)(rank * (size_t)nthreads / n);
            count[thr[i]]++;
        }
        size_t off[256], at = 0;
        for (int t = 0; t < nthreads; t++) {
            off[t] = at;
            jobs[t] = (job_t){count[t], dl->pk + at, dl->msg + at, dl->mlen + at, dl->sig + at,
                              results ? dl->res + at : NULL, dl->coef + 16 * at, 0, dl->pos + at, first_bad, 1};
            at += count[t];
        }
        for (size_t i = 0; i < n; i++) {
            size_t k = off[thr[i]]++;
            dl->pk[k] = pk[i];
            dl->msg[k] = msg[i];
            dl->mlen[k] = mlen[i];
            dl->sig[k] = sig[i];
            dl->pos[k] = i;
            memcpy(dl->coef + 16 * k, coef + 16 * i, 16);
        }
    } else {
        deal_free(dl);
        memset(dl, 0, sizeof *dl);
    }
    free(table); free(gid); free(start); free(gpk); free(thr);
    return ok;
}

/* results != NULL: a verdict each; otherwise *first_bad = the first bad position (n if none). */
static int verify_batch(size_t n, const uint8_t *const *public_keys, const uint8_t *const *messages,
                        const size_t *message_lens, const uint8_t *const *signatures, uint8_t *results,
                        size_t *first_bad, int nthreads, const uint8_t *coef) {
    if (nthreads <= 0) nthreads = ledger_cpu_count();
    if (nthreads > 256) nthreads = 256;
    size_t max_threads = n / MIN_ITEMS_PER_THREAD;
    if (max_threads < 1) max_threads = 1;
    if ((size_t)nthreads > max_threads) nthreads = (int)max_threads;
    int coalesce = ledger_ed25519_batch_coalesce(-1);
    job_t jobs[256];
    pthread_t tids[256];
    int started[256];
    deal_t deal = {0};
    if (!(coalesce && nthreads > 1 && deal_by_key(&deal, n, nthreads, public_keys, messages, message_lens, signatures,
                                                  results, first_bad, coef, jobs))) {
        size_t per = n / (size_t)nthreads, extra = n % (size_t)nthreads, pos = 0;
        for (int t = 0; t < nthreads; t++) {
            size_t cnt = per + ((size_t)t < extra);
            jobs[t] = (job_t){cnt, public_keys + pos, messages + pos, message_lens + pos, signatures + pos,
                              results ? results + pos : NULL, coef + 16 * pos, pos, NULL, first_bad, coalesce};
            pos += cnt;
        }
    }
    (void)ledger_ge_base_table(); /* build it once before the threads race for it */
    int rc = 0;
    for (int t = 1; t < nthreads; t++)
        started[t] = pthread_create(&tids[t], NULL, thread_main, &jobs[t]) == 0;
    int r0 = run_job(&jobs[0]);
    if (r0) rc = r0;
    for (int t = 1; t < nthreads; t++) {
        int r;
        if (started[t]) {
            void *ret;
            pthread_join(tids[t], &ret);
            r = (int)(intptr_t)ret;
        } else {
            r = run_job(&jobs[t]); /* could not start a thread: do its share here */
        }
        if (r) rc = r;
    }
    if (deal.pos) {
        if (results)
            for (size_t i = 0; i < n; i++) results[deal.pos[i]] = deal.res[i];
        deal_free(&deal);
    }
    return rc;
}

int ledger_ed25519_verify_batch_seeded(size_t n, const uint8_t *const *public_keys, const uint8_t *const *messages,
                                       const size_t *message_lens, const uint8_t *const *signatures,
                                       uint8_t *results, int nthreads, const uint8_t *coef) {
    return verify_batch(n, public_keys, messages, message_lens, signatures, results, NULL, nthreads, coef);
}

int ledger_ed25519_first_bad_seeded(size_t n, const uint8_t *const *public_keys, const uint8_t *const *messages,
                                    const size_t *message_lens, const uint8_t *const *signatures, size_t *first_bad,
                                    int nthreads, const uint8_t *coef) {
    *first_bad = n;
    return verify_batch(n, public_keys, messages, message_lens, signatures, NULL, first_bad, nthreads, coef);
}

static int fill_random(uint8_t *buf, size_t len) {
    while (len) {
        ssize_t got = getrandom(buf, len, 0);
        if (got < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        buf += got;
        len -= (size_t)got;
    }
    return 0;
}

/* verify_batch with fresh random coefficients (16 bytes a signature), wiped afterwards. */
static int verify_batch_random(size_t n, const uint8_t *const *public_keys, const uint8_t *const *messages,
                               const size_t *message_lens, const uint8_t *const *signatures, uint8_t *results,
                               size_t *first_bad, int nthreads) {
    if (n == 0) return 0;
    if (n > SIZE_MAX / 16) return -1;
    uint8_t *coef = malloc(16 * n);
    if (!coef) return -1;
    if (fill_random(coef, 16 * n) != 0) {
        free(coef);
        return -2;
    }
    int rc = verify_batch(n, public_keys, messages, message_lens, signatures, results, first_bad, nthreads, coef);
    memset(coef, 0, 16 * n);
    free(coef);
    return rc;
}

int ledger_ed25519_verify_batch(size_t n, const uint8_t *const *public_keys, const uint8_t *const *messages,
                                const size_t *message_lens, const uint8_t *const *signatures, uint8_t *results,
                                int nthreads) {
    return verify_batch_random(n, public_keys, messages, message_lens, signatures, results, NULL, nthreads);
}

int ledger_ed25519_first_bad(size_t n, const uint8_t *const *public_keys, const uint8_t *const *messages,
                             const size_t *message_lens, const uint8_t *const *signatures, size_t *first_bad,
                             int nthreads) {
    *first_bad = n;
    return verify_batch_random(n, public_keys, messages, message_lens, signatures, NULL, first_bad, nthreads);
}
