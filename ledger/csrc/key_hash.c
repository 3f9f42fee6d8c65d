/* Keyed hash of 32-byte keys for in-memory tables. Specification: none beyond docs/FORMAT.md;
 * the method (multiply-shift, Dietzfelbinger et al. 1997) is described in key_hash.h. */
#include "key_hash.h"

#include <pthread.h>
#include <string.h>
#include <sys/random.h>
#include <sys/types.h>

/* Fixed odd constants until ledger_key_hash_init (or when getrandom has nothing yet). */
static uint64_t hash_mult[4] = {0x9e3779b97f4a7c15ull, 0xc2b2ae3d27d4eb4full, 0x165667b19e3779f9ull,
                                0xd6e8feb86659fd93ull};
static pthread_once_t hash_once = PTHREAD_ONCE_INIT;

static void hash_init(void) {
    uint64_t r[4];
    if (getrandom(r, sizeof r, GRND_NONBLOCK) == (ssize_t)sizeof r)
        for (int i = 0; i < 4; i++) hash_mult[i] = r[i] | 1;
}

void ledger_key_hash_init(void) { pthread_once(&hash_once, hash_init); }

uint64_t ledger_key_hash(const uint8_t key[32]) {
    uint64_t w[4];
    memcpy(w, key, 32);
    return w[0] * hash_mult[0] + w[1] * hash_mult[1] + w[2] * hash_mult[2] + w[3] * hash_mult[3];
}
