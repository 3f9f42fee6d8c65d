/* Ed25519 single verification, ZIP-215 rules (see ed25519_verify.h). */
#include "ed25519_verify.h"

#include "msm.h"
#include "sha512.h"

#include <string.h>

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

/* Half-size scalars: with k1 = k2 k (mod L), |k1|, |k2| < 2^127 (ledger_sc_half_size), and
 * s' = k2 S mod L = s0 + 2^127 s1, the check [8]([S]B - R - [k]A) = 0 is equivalent to
 *     [8]([s0]B + [s1]B' - [k2]R - [k1]A) = 0,   B' = [2^127]B,
 * because k2 is invertible mod L and [8]A, [8]R, B lie in the subgroup of order L; the doublings
 * are halved (about 128 instead of 253). */
int ledger_ed25519_check_decoded(const ledger_ge_p3 *A, const ledger_ge_p3 *R, const ledger_sc *S, const ledger_sc *k) {
    ledger_sc k1, k2abs, k2, sp, s0, s1;
    int k2neg;
    ledger_ge_p3 negA, PR, Q;
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
    ledger_ge_neg(&negA, A);
    /* - [k2] R = [|k2|] (k2 < 0 ? R : -R) */
    if (k2neg) PR = *R;
    else ledger_ge_neg(&PR, R);
    ledger_ge_quad_scalarmult_vartime(&Q, &s0, &s1, &k1, &negA, &k2abs, &PR);
    ledger_ge_mul8(&q8, &Q);
    return ledger_ge_p2_is_identity(&q8);
}

int ledger_ed25519_verify(const uint8_t public_key[32], const uint8_t *message, size_t message_len,
                          const uint8_t signature[64]) {
    ledger_ge_p3 A, R;
    ledger_sc S, k;
    if (!ledger_sc_is_canonical(signature + 32)) return 0;
    if (ledger_ge_frombytes_zip215_x2(&A, public_key, &R, signature) != 0) return 0;
    ledger_sc_from_bytes(&S, signature + 32);
    ledger_ed25519_challenge(&k, signature, public_key, message, message_len);
    return ledger_ed25519_check_decoded(&A, &R, &S, &k);
}

int ledger_ed25519_is_small_order(const uint8_t public_key[32]) {
    return ledger_ge_is_small_order_bytes(public_key);
}
