/* Ed25519 single verification, RFC 8032 §5.1.7 under the ZIP-215 rules (see ed25519_verify.h). */
#include "ed25519_verify.h"

#include "msm.h"
#include "sha512.h"

#include <pthread.h>
#include <string.h>
#include <sys/random.h>

void ledger_ed25519_challenge(ledger_sc *k, const uint8_t R[32], const uint8_t A[32], const uint8_t *message,
                              size_t message_len) {
    ledger_sha512_ctx ctx;
    uint8_t h[64];
    ledger_sha512_init(&ctx);
    ledger_sha512_update(&ctx, R, 32);
    ledger_sha512_update(&ctx, A, 32);
    ledger_sha512_update(&ctx, message, message_len);
    ledger_sha512_final(&ctx, h);
    ledger_sc_reduce512(k, h);
}

/* ---- cache of decoded public keys ----
 * Repeat senders skip the decoding of A (one exponentiation) and, in single verification, the
 * table of odd multiples of -A. Direct-mapped, keyed by all 32 bytes as received (so non-canonical
 * encodings are separate entries and a hit returns exactly what decoding would); the slot index is
 * a hash under a per-process random key, so chosen keys cannot crowd one slot on purpose (and a
 * collision only costs a miss). Locked per stripe of slots. */

#define CACHE_SLOTS 2048
#define CACHE_STRIPES 64

typedef struct {
    uint8_t key[32];
    uint8_t state; /* 0 empty, 1 point, 2 point and table */
    ledger_ge_p3 A;
    ledger_ge_cached tab[LEDGER_VAR_TABLE]; /* odd multiples of -A */
} cache_entry;

static cache_entry cache[CACHE_SLOTS];
static pthread_mutex_t cache_lock[CACHE_STRIPES];
static uint64_t cache_seed[2];
static int cache_on = 1;
static int cache_fork_safe = 1; /* 0 if the fork handlers could not be registered: cache stays off */
static unsigned long cache_hits, cache_misses;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;

/* fork() copies only the calling thread: a stripe another thread holds at that moment would stay
 * locked forever in the child. So the stripes are all taken (in order, as no other path takes
 * two) around fork(), which also leaves no entry half-written in the child's copy. */
static void cache_before_fork(void) {
    for (int i = 0; i < CACHE_STRIPES; i++) pthread_mutex_lock(&cache_lock[i]);
}

static void cache_after_fork(void) {
    for (int i = CACHE_STRIPES; i-- > 0;) pthread_mutex_unlock(&cache_lock[i]);
}

static void cache_init(void) {
    for (int i = 0; i < CACHE_STRIPES; i++) pthread_mutex_init(&cache_lock[i], NULL);
    /* Registered before any stripe can be taken (pthread_once holds back every user until this
     * returns). Should registration fail (out of memory), the cache is switched off instead. */
    if (pthread_atfork(cache_before_fork, cache_after_fork, cache_after_fork) != 0) {
        cache_fork_safe = 0;
        __atomic_store_n(&cache_on, 0, __ATOMIC_RELAXED);
    }
    if (getrandom(cache_seed, sizeof cache_seed, GRND_NONBLOCK) != (ssize_t)sizeof cache_seed) {
        cache_seed[0] = (uint64_t)(uintptr_t)&cache_seed ^ 0x9e3779b97f4a7c15ULL;
        cache_seed[1] = (uint64_t)(uintptr_t)&cache ^ 0xc2b2ae3d27d4eb4fULL;
    }
}

static size_t cache_slot(const uint8_t pk[32]) {
    uint64_t w[4];
    memcpy(w, pk, 32);
    uint64_t h = cache_seed[0];
    for (int i = 0; i < 4; i++) {
        h ^= w[i] + cache_seed[1];
        h *= 0x9fb21c651e98df25ULL;
        h ^= h >> 29;
    }
    return (size_t)(h % CACHE_SLOTS);
}

void ledger_keycache_enable(int on) {
    pthread_once(&cache_once, cache_init);
    __atomic_store_n(&cache_on, on != 0 && cache_fork_safe, __ATOMIC_RELAXED);
}

void ledger_keycache_clear(void) {
    pthread_once(&cache_once, cache_init);
    for (size_t i = 0; i < CACHE_SLOTS; i++) {
        pthread_mutex_t *m = &cache_lock[i % CACHE_STRIPES];
        pthread_mutex_lock(m);
        cache[i].state = 0;
        pthread_mutex_unlock(m);
    }
    __atomic_store_n(&cache_hits, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&cache_misses, 0, __ATOMIC_RELAXED);
}

void ledger_keycache_stats(unsigned long *hits, unsigned long *misses) {
    *hits = __atomic_load_n(&cache_hits, __ATOMIC_RELAXED);
    *misses = __atomic_load_n(&cache_misses, __ATOMIC_RELAXED);
}

int ledger_keycache_get(const uint8_t pk[32], ledger_ge_p3 *A, ledger_ge_cached *tab) {
    if (!__atomic_load_n(&cache_on, __ATOMIC_RELAXED)) return 0;
    pthread_once(&cache_once, cache_init);
    size_t i = cache_slot(pk);
    pthread_mutex_t *m = &cache_lock[i % CACHE_STRIPES];
    int state = 0;
    pthread_mutex_lock(m);
    if (cache[i].state && memcmp(cache[i].key, pk, 32) == 0) {
        state = cache[i].state;
        *A = cache[i].A;
        if (tab && state == 2) memcpy(tab, cache[i].tab, sizeof cache[i].tab);
    }
    pthread_mutex_unlock(m);
    __atomic_fetch_add(state ? &cache_hits : &cache_misses, 1, __ATOMIC_RELAXED);
    return state;
}

void ledger_keycache_put(const uint8_t pk[32], const ledger_ge_p3 *A, const ledger_ge_cached *tab) {
    if (!__atomic_load_n(&cache_on, __ATOMIC_RELAXED)) return;
    pthread_once(&cache_once, cache_init);
    size_t i = cache_slot(pk);
    pthread_mutex_t *m = &cache_lock[i % CACHE_STRIPES];
    pthread_mutex_lock(m);
    /* never downgrade an entry for the same key that already holds its table */
    if (!(tab == NULL && cache[i].state == 2 && memcmp(cache[i].key, pk, 32) == 0)) {
        memcpy(cache[i].key, pk, 32);
        cache[i].A = *A;
        if (tab) memcpy(cache[i].tab, tab, sizeof cache[i].tab);
        cache[i].state = tab ? 2 : 1;
    }
    pthread_mutex_unlock(m);
}

/* Half-size scalars: with k1 = k2 k (mod L), |k1|, |k2| < 2^127 (ledger_sc_half_size), and
 * s' = k2 S mod L = s0 + 2^127 s1, the check [8]([S]B - R - [k]A) = 0 is equivalent to
 *     [8]([s0]B + [s1]B' - [k2]R - [k1]A) = 0,   B' = [2^127]B,
 * because k2 is invertible mod L and [8]A, [8]R, B lie in the subgroup of order L; the doublings
 * are halved (about 128 instead of 253). tabNegA: odd multiples of -A. */
static int check_with_table(const ledger_ge_cached *tabNegA, const ledger_ge_p3 *R, const ledger_sc *S, const ledger_sc *k) {
    ledger_sc k1, k2abs, k2, sp, s0, s1;
    int k2neg;
    ledger_ge_p3 PR, Q;
    ledger_ge_p2 q8;
    ledger_sc_half_size(&k1, &k2abs, &k2neg, k);
    if (k2neg) ledger_sc_neg(&k2, &k2abs);
    else k2 = k2abs;
    ledger_sc_mul(&sp, &k2, S);
    memset(&s0, 0, sizeof s0);
    memset(&s1, 0, sizeof s1);
    s0.v[0] = sp.v[0];
    s0.v[1] = sp.v[1] & 0x7fffffffffffffffULL;
    s1.v[0] = (sp.v[1] >> 63) | (sp.v[2] << 1);
    s1.v[1] = (sp.v[2] >> 63) | (sp.v[3] << 1);
    /* - [k2] R = [|k2|] (k2 < 0 ? R : -R) */
    if (k2neg) PR = *R;
    else ledger_ge_neg(&PR, R);
    ledger_ge_quad_scalarmult_table(&Q, &s0, &s1, &k1, tabNegA, &k2abs, &PR);
    ledger_ge_mul8(&q8, &Q);
    return ledger_ge_p2_is_identity(&q8);
}

int ledger_ed25519_check_decoded(const ledger_ge_p3 *A, const ledger_ge_p3 *R, const ledger_sc *S, const ledger_sc *k) {
    ledger_ge_p3 negA;
    ledger_ge_cached tab[LEDGER_VAR_TABLE];
    ledger_ge_neg(&negA, A);
    ledger_ge_odd_multiples(tab, &negA, LEDGER_VAR_TABLE);
    return check_with_table(tab, R, S, k);
}

int ledger_ed25519_verify(const uint8_t public_key[32], const uint8_t *message, size_t message_len,
                          const uint8_t signature[64]) {
    ledger_ge_p3 A, R, negA;
    ledger_ge_cached tab[LEDGER_VAR_TABLE];
    ledger_sc S, k;
    if (!ledger_sc_is_canonical(signature + 32)) return 0;
    int state = ledger_keycache_get(public_key, &A, tab);
    if (state == 0) {
        if (ledger_ge_frombytes_zip215_x2(&A, public_key, &R, signature) != 0) return 0;
    } else {
        if (ledger_ge_frombytes_zip215(&R, signature) != 0) return 0;
    }
    if (state != 2) {
        ledger_ge_neg(&negA, &A);
        ledger_ge_odd_multiples(tab, &negA, LEDGER_VAR_TABLE);
        ledger_keycache_put(public_key, &A, tab);
    }
    ledger_sc_from_bytes(&S, signature + 32);
    ledger_ed25519_challenge(&k, signature, public_key, message, message_len);
    return check_with_table(tab, &R, &S, &k);
}

int ledger_ed25519_is_small_order(const uint8_t public_key[32]) {
    return ledger_ge_is_small_order_bytes(public_key);
}
