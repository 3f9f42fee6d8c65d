/* Variable-time multi-scalar multiplication on edwards25519 (public inputs only). Methods:
 * Straus's simultaneous method with interleaved w-NAFs (Hankerson, Menezes, Vanstone, "Guide to
 * Elliptic Curve Cryptography", 2004, §3.3.3) and Pippenger's bucket method (N. Pippenger, "On the
 * evaluation of powers and related problems", FOCS 1976), written from those descriptions; the
 * specification of the group is RFC 8032 §5.1.
 *   - ledger_ge_double_scalarmult_vartime: [a]A + [b]B for single verification (interleaved
 *     w-NAF: width 5 for A, width 8 with a fixed affine table for the base point B).
 *   - ledger_msm_straus: sum [s_i]P_i + [b]B, interleaved w-NAF, for small batches.
 *   - ledger_msm_pippenger: the same sum by the bucket method, for large batches. */
#ifndef LEDGER_MSM_H
#define LEDGER_MSM_H

#include "ge25519.h"
#include "sc25519.h"

void ledger_ge_double_scalarmult_vartime(ledger_ge_p3 *r, const ledger_sc *a, const ledger_ge_p3 *A, const ledger_sc *b);

/* r = [b0]B + [b1]B' + [a]A + [c]C with B' = [2^127]B: the half-size form of single verification
 * (all scalars below 2^128 for speed; any below 2^256 give the right answer). */
void ledger_ge_quad_scalarmult_vartime(ledger_ge_p3 *r, const ledger_sc *b0, const ledger_sc *b1, const ledger_sc *a,
                                       const ledger_ge_p3 *A, const ledger_sc *c, const ledger_ge_p3 *C);

/* The same with A given by its table of odd multiples (ledger_ge_odd_multiples(t, A, LEDGER_VAR_TABLE)),
 * e.g. from the public-key cache. */
#define LEDGER_VAR_WINDOW 5
#define LEDGER_VAR_TABLE (1 << (LEDGER_VAR_WINDOW - 2))
void ledger_ge_quad_scalarmult_table(ledger_ge_p3 *r, const ledger_sc *b0, const ledger_sc *b1, const ledger_sc *a,
                                     const ledger_ge_cached *tabA, const ledger_sc *c, const ledger_ge_p3 *C);

/* r = [b]B + sum_{i<n} [s_i]P_i. Returns 0, or -1 when memory runs out. */
int ledger_msm_straus(ledger_ge_p3 *r, const ledger_sc *b, const ledger_sc *s, const ledger_ge_p3 *P, size_t n);
int ledger_msm_pippenger(ledger_ge_p3 *r, const ledger_sc *b, const ledger_sc *s, const ledger_ge_p3 *P, size_t n);
/* Chooses by size. */
int ledger_msm(ledger_ge_p3 *r, const ledger_sc *b, const ledger_sc *s, const ledger_ge_p3 *P, size_t n);

#endif
