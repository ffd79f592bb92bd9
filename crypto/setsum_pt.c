/*
 * setsum_pt.c — ristretto255 arithmetic of our own for summing many
 * setsum points cheaply (setsum.h, ms_setsum_pt): field elements mod
 * 2^255 - 19 in five 51-bit limbs, points of edwards25519 in extended
 * coordinates (X:Y:Z:T), and the ristretto255 map, encoding and decoding
 * of RFC 9496 (§4.3.1, §4.3.2, §4.3.4), written from the RFC's formulas.
 *
 * Why not libsodium's crypto_core_ristretto255_add: it works on encoded
 * points, so each addition decodes two points and encodes one, three
 * field exponentiations (15 µs here).  Summing points held in extended
 * coordinates costs a few multiplications per addition, and only the
 * hash-to-group (two exponentiations) and one final encoding remain.
 *
 * Nothing here handles a secret: the inputs are public op ids and
 * digests, so the code branches on values (no constant-time selects).
 * tests/crypto/test_setsum.c checks every function against libsodium's on
 * random inputs.
 */
#include "setsum.h"

#include <sodium.h>
#include <string.h>

typedef unsigned __int128 u128;

#define MASK51 ((1ull << 51) - 1)

typedef struct fe {
	uint64_t v[5];
} fe;

/* The RFC's constants, as limbs (checked in test_setsum against their
 * definitions: d = -121665/121666, SQRT_M1^2 = -1, ...). */
static const fe FE_D = {{929955233495203ull, 466365720129213ull,
                         1662059464998953ull, 2033849074728123ull,
                         1442794654840575ull}};
static const fe FE_SQRT_M1 = {{1718705420411056ull, 234908883556509ull,
                               2233514472574048ull, 2117202627021982ull,
                               765476049583133ull}};
static const fe FE_SQRT_AD_MINUS_ONE = {
	{2241493124984347ull, 425987919032274ull, 2207028919301688ull,
         1220490630685848ull, 974799131293748ull}};
static const fe FE_INVSQRT_A_MINUS_D = {{278908739862762ull, 821645201101625ull,
                                         8113234426968ull, 1777959178193151ull,
                                         2118520810568447ull}};
static const fe FE_ONE_MINUS_D_SQ = {{1136626929484150ull, 1998550399581263ull,
                                      496427632559748ull, 118527312129759ull,
                                      45110755273534ull}};
static const fe FE_D_MINUS_ONE_SQ = {{1507062230895904ull, 1572317787530805ull,
                                      683053064812840ull, 317374165784489ull,
                                      1572899562415810ull}};
static const fe FE_ONE = {{1, 0, 0, 0, 0}};

/* Limbs back under 2^51 (the top carry folds in times 19). */
static void fe_carry(fe *h)
{
	uint64_t c;

	for (int i = 0; i < 4; i++) {
		c = h->v[i] >> 51;
		h->v[i] &= MASK51;
		h->v[i + 1] += c;
	}
	c = h->v[4] >> 51;
	h->v[4] &= MASK51;
	h->v[0] += c * 19;
	c = h->v[0] >> 51;
	h->v[0] &= MASK51;
	h->v[1] += c;
}

static void fe_add(fe *h, const fe *f, const fe *g)
{
	for (int i = 0; i < 5; i++)
		h->v[i] = f->v[i] + g->v[i];
	fe_carry(h);
}

/* f - g computed as f + 4p - g, so limbs never go below zero. */
static void fe_sub(fe *h, const fe *f, const fe *g)
{
	h->v[0] = f->v[0] + 0x1FFFFFFFFFFFB4ull - g->v[0];
	for (int i = 1; i < 5; i++)
		h->v[i] = f->v[i] + 0x1FFFFFFFFFFFFCull - g->v[i];
	fe_carry(h);
}

static void fe_neg(fe *h, const fe *f)
{
	static const fe zero;

	fe_sub(h, &zero, f);
}

/* Five 128-bit column sums (each below 2^115: limbs under 2^52, one
 * factor times 19) carried back into limbs. */
static void fe_reduce128(fe *h, u128 r[5])
{
	u128 r0;

	for (int i = 0; i < 4; i++) {
		/* cppcheck-suppress shiftTooManyBits ; u128 is 128 bits wide,
		 * which cppcheck does not know */
		r[i + 1] += r[i] >> 51;
		r[i] &= MASK51;
	}
	h->v[4] = (uint64_t)r[4] & MASK51;
	/* cppcheck-suppress shiftTooManyBits ; as above */
	r0 = r[0] + (r[4] >> 51) * 19; /* under 2^71 */
	h->v[0] = (uint64_t)r0 & MASK51;
	h->v[1] = (uint64_t)r[1] + (uint64_t)(r0 >> 51);
	h->v[2] = (uint64_t)r[2];
	h->v[3] = (uint64_t)r[3];
}

static void fe_mul(fe *h, const fe *f, const fe *g)
{
	const uint64_t *a = f->v, *b = g->v;
	uint64_t b1 = b[1] * 19, b2 = b[2] * 19, b3 = b[3] * 19, b4 = b[4] * 19;
	u128 r[5];

	r[0] = (u128)a[0] * b[0] + (u128)a[1] * b4 + (u128)a[2] * b3 +
	       (u128)a[3] * b2 + (u128)a[4] * b1;
	r[1] = (u128)a[0] * b[1] + (u128)a[1] * b[0] + (u128)a[2] * b4 +
	       (u128)a[3] * b3 + (u128)a[4] * b2;
	r[2] = (u128)a[0] * b[2] + (u128)a[1] * b[1] + (u128)a[2] * b[0] +
	       (u128)a[3] * b4 + (u128)a[4] * b3;
	r[3] = (u128)a[0] * b[3] + (u128)a[1] * b[2] + (u128)a[2] * b[1] +
	       (u128)a[3] * b[0] + (u128)a[4] * b4;
	r[4] = (u128)a[0] * b[4] + (u128)a[1] * b[3] + (u128)a[2] * b[2] +
	       (u128)a[3] * b[1] + (u128)a[4] * b[0];
	fe_reduce128(h, r);
}

static void fe_sq(fe *h, const fe *f)
{
	const uint64_t *a = f->v;
	uint64_t a0_2 = a[0] * 2, a1_2 = a[1] * 2, a1_38 = a[1] * 38,
		 a2_38 = a[2] * 38, a3_38 = a[3] * 38, a3_19 = a[3] * 19,
		 a4_19 = a[4] * 19;
	u128 r[5];

	r[0] = (u128)a[0] * a[0] + (u128)a1_38 * a[4] + (u128)a2_38 * a[3];
	r[1] = (u128)a0_2 * a[1] + (u128)a2_38 * a[4] + (u128)a3_19 * a[3];
	r[2] = (u128)a0_2 * a[2] + (u128)a[1] * a[1] + (u128)a3_38 * a[4];
	r[3] = (u128)a0_2 * a[3] + (u128)a1_2 * a[2] + (u128)a4_19 * a[4];
	r[4] = (u128)a0_2 * a[4] + (u128)a1_2 * a[3] + (u128)a[2] * a[2];
	fe_reduce128(h, r);
}

/* h = f^(2^n) */
static void fe_sqn(fe *h, const fe *f, int n)
{
	fe_sq(h, f);
	while (--n > 0)
		fe_sq(h, h);
}

/* 32 bytes, little-endian, the top bit ignored (RFC 9496 §4.3.4's mask;
 * decoding checks canonical form by encoding back). */
static void fe_frombytes(fe *h, const uint8_t s[32])
{
	uint64_t w[4];

	for (int i = 0; i < 4; i++) {
		w[i] = 0;
		for (int k = 7; k >= 0; k--)
			w[i] = (w[i] << 8) | s[8 * i + k];
	}
	h->v[0] = w[0] & MASK51;
	h->v[1] = ((w[0] >> 51) | (w[1] << 13)) & MASK51;
	h->v[2] = ((w[1] >> 38) | (w[2] << 26)) & MASK51;
	h->v[3] = ((w[2] >> 25) | (w[3] << 39)) & MASK51;
	h->v[4] = (w[3] >> 12) & MASK51;
}

/* The canonical encoding: fully reduced mod p. */
static void fe_tobytes(uint8_t s[32], const fe *f)
{
	fe h = *f;
	uint64_t q, w[4];

	fe_carry(&h);
	fe_carry(&h);
	/* now h < 2^255; q = 1 iff h >= p */
	q = (h.v[0] + 19) >> 51;
	for (int i = 1; i < 5; i++)
		q = (h.v[i] + q) >> 51;
	h.v[0] += 19 * q;
	for (int i = 0; i < 4; i++) {
		h.v[i + 1] += h.v[i] >> 51;
		h.v[i] &= MASK51;
	}
	h.v[4] &= MASK51;
	w[0] = h.v[0] | (h.v[1] << 51);
	w[1] = (h.v[1] >> 13) | (h.v[2] << 38);
	w[2] = (h.v[2] >> 26) | (h.v[3] << 25);
	w[3] = (h.v[3] >> 39) | (h.v[4] << 12);
	for (int i = 0; i < 4; i++)
		for (int k = 0; k < 8; k++)
			s[8 * i + k] = (uint8_t)(w[i] >> (8 * k));
}

static int fe_isneg(const fe *f)
{
	uint8_t s[32];

	fe_tobytes(s, f);
	return s[0] & 1;
}

static int fe_iszero(const fe *f)
{
	static const uint8_t zero[32];
	uint8_t s[32];

	fe_tobytes(s, f);
	return memcmp(s, zero, 32) == 0;
}

static int fe_eq(const fe *f, const fe *g)
{
	uint8_t a[32], b[32];

	fe_tobytes(a, f);
	fe_tobytes(b, g);
	return memcmp(a, b, 32) == 0;
}

static void fe_abs(fe *h, const fe *f)
{
	if (fe_isneg(f))
		fe_neg(h, f);
	else
		*h = *f;
}

/* z^((p-5)/8) = z^(2^252 - 3) */
static void fe_pow22523(fe *out, const fe *z)
{
	fe t0, t1, t2;

	fe_sq(&t0, z);         /* 2 */
	fe_sqn(&t1, &t0, 2);   /* 8 */
	fe_mul(&t1, z, &t1);   /* 9 */
	fe_mul(&t0, &t0, &t1); /* 11 */
	fe_sq(&t0, &t0);       /* 22 */
	fe_mul(&t0, &t1, &t0); /* 2^5 - 1 */
	fe_sqn(&t1, &t0, 5);   /* 2^10 - 2^5 */
	fe_mul(&t0, &t1, &t0); /* 2^10 - 1 */
	fe_sqn(&t1, &t0, 10);  /* 2^20 - 2^10 */
	fe_mul(&t1, &t1, &t0); /* 2^20 - 1 */
	fe_sqn(&t2, &t1, 20);  /* 2^40 - 2^20 */
	fe_mul(&t1, &t2, &t1); /* 2^40 - 1 */
	fe_sqn(&t1, &t1, 10);  /* 2^50 - 2^10 */
	fe_mul(&t0, &t1, &t0); /* 2^50 - 1 */
	fe_sqn(&t1, &t0, 50);  /* 2^100 - 2^50 */
	fe_mul(&t1, &t1, &t0); /* 2^100 - 1 */
	fe_sqn(&t2, &t1, 100); /* 2^200 - 2^100 */
	fe_mul(&t1, &t2, &t1); /* 2^200 - 1 */
	fe_sqn(&t1, &t1, 50);  /* 2^250 - 2^50 */
	fe_mul(&t0, &t1, &t0); /* 2^250 - 1 */
	fe_sqn(&t0, &t0, 2);   /* 2^252 - 4 */
	fe_mul(out, &t0, z);   /* 2^252 - 3 */
}

/* RFC 9496 §4.2 SQRT_RATIO_M1: 1 and r = sqrt(u/v) when u/v is square,
 * else 0 and r = sqrt(i*u/v); r non-negative. */
static int fe_sqrt_ratio_m1(fe *r, const fe *u, const fe *v)
{
	fe v3, v7, t, check, nu, nui;
	int correct, flipped, flipped_i;

	fe_sq(&v3, v);
	fe_mul(&v3, &v3, v); /* v^3 */
	fe_sq(&v7, &v3);
	fe_mul(&v7, &v7, v); /* v^7 */
	fe_mul(&t, u, &v7);
	fe_pow22523(&t, &t);
	fe_mul(&t, &t, &v3);
	fe_mul(r, &t, u); /* (u v^3) (u v^7)^((p-5)/8) */
	fe_sq(&check, r);
	fe_mul(&check, &check, v);
	fe_neg(&nu, u);
	fe_mul(&nui, &nu, &FE_SQRT_M1);
	correct = fe_eq(&check, u);
	flipped = fe_eq(&check, &nu);
	flipped_i = fe_eq(&check, &nui);
	if (flipped || flipped_i)
		fe_mul(r, r, &FE_SQRT_M1);
	fe_abs(r, r);
	return correct || flipped;
}

_Static_assert(sizeof(((ms_setsum_pt *)0)->x) == sizeof(fe),
               "a coordinate is one field element");

#define X(p) ((fe *)(p)->x)
#define Y(p) ((fe *)(p)->y)
#define Z(p) ((fe *)(p)->z)
#define T(p) ((fe *)(p)->t)
#define CX(p) ((const fe *)(p)->x)
#define CY(p) ((const fe *)(p)->y)
#define CZ(p) ((const fe *)(p)->z)
#define CT(p) ((const fe *)(p)->t)

void ms_setsum_pt_identity(ms_setsum_pt *p)
{
	memset(p, 0, sizeof *p);
	p->y[0] = 1;
	p->z[0] = 1;
}

/* RFC 9496 §4.3.4 MAP: one 32-byte half of the hash to a point. */
static void pt_map(ms_setsum_pt *p, const uint8_t b[32])
{
	fe t, r, u, v, s, s2, c, n, w0, w1, w2, w3, tmp;
	int sq;

	fe_frombytes(&t, b);
	fe_sq(&r, &t);
	fe_mul(&r, &r, &FE_SQRT_M1);
	fe_add(&u, &r, &FE_ONE);
	fe_mul(&u, &u, &FE_ONE_MINUS_D_SQ);
	fe_mul(&tmp, &r, &FE_D);
	fe_add(&tmp, &tmp, &FE_ONE);
	fe_neg(&tmp, &tmp); /* -1 - r d */
	fe_add(&v, &r, &FE_D);
	fe_mul(&v, &tmp, &v);
	sq = fe_sqrt_ratio_m1(&s, &u, &v);
	if (!sq) {
		fe_mul(&s, &s, &t);
		fe_abs(&s, &s);
		fe_neg(&s, &s);
		c = r;
	} else {
		fe_neg(&c, &FE_ONE);
	}
	fe_sub(&tmp, &r, &FE_ONE);
	fe_mul(&n, &c, &tmp);
	fe_mul(&n, &n, &FE_D_MINUS_ONE_SQ);
	fe_sub(&n, &n, &v);
	fe_add(&w0, &s, &s);
	fe_mul(&w0, &w0, &v);
	fe_mul(&w1, &n, &FE_SQRT_AD_MINUS_ONE);
	fe_sq(&s2, &s);
	fe_sub(&w2, &FE_ONE, &s2);
	fe_add(&w3, &FE_ONE, &s2);
	fe_mul(X(p), &w0, &w3);
	fe_mul(Y(p), &w2, &w1);
	fe_mul(Z(p), &w1, &w3);
	fe_mul(T(p), &w0, &w2);
}

/* p += q (add-2008-hwcd-3, a = -1). */
static void pt_add(ms_setsum_pt *p, const ms_setsum_pt *q, int negate_q)
{
	fe a, b, c, d, e, f, g, h, t, qx, qt, d2;

	qx = *CX(q);
	qt = *CT(q);
	if (negate_q) {
		fe_neg(&qx, &qx);
		fe_neg(&qt, &qt);
	}
	fe_sub(&a, CY(p), CX(p));
	fe_sub(&t, CY(q), &qx);
	fe_mul(&a, &a, &t);
	fe_add(&b, CY(p), CX(p));
	fe_add(&t, CY(q), &qx);
	fe_mul(&b, &b, &t);
	fe_add(&d2, &FE_D, &FE_D);
	fe_mul(&c, CT(p), &d2);
	fe_mul(&c, &c, &qt);
	fe_mul(&d, CZ(p), CZ(q));
	fe_add(&d, &d, &d);
	fe_sub(&e, &b, &a);
	fe_sub(&f, &d, &c);
	fe_add(&g, &d, &c);
	fe_add(&h, &b, &a);
	fe_mul(X(p), &e, &f);
	fe_mul(Y(p), &g, &h);
	fe_mul(T(p), &e, &h);
	fe_mul(Z(p), &f, &g);
}

void ms_setsum_pt_add(ms_setsum_pt *p, const ms_setsum_pt *q)
{
	pt_add(p, q, 0);
}

void ms_setsum_pt_sub(ms_setsum_pt *p, const ms_setsum_pt *q)
{
	pt_add(p, q, 1);
}

void ms_setsum_pt_of_id(ms_setsum_pt *p, const uint8_t id[MS_HASH_LEN])
{
	uint8_t h[64];
	ms_setsum_pt q;

	ms_setsum_hash(h, id);
	pt_map(p, h);
	pt_map(&q, h + 32);
	pt_add(p, &q, 0);
}

/* RFC 9496 §4.3.2 */
void ms_setsum_pt_encode(uint8_t out[MS_SETSUM_LEN], const ms_setsum_pt *p)
{
	fe u1, u2, t, inv, den1, den2, zinv, x, y, den, s;

	fe_add(&u1, CZ(p), CY(p));
	fe_sub(&t, CZ(p), CY(p));
	fe_mul(&u1, &u1, &t);
	fe_mul(&u2, CX(p), CY(p));
	fe_sq(&t, &u2);
	fe_mul(&t, &t, &u1);
	(void)fe_sqrt_ratio_m1(&inv, &FE_ONE, &t);
	fe_mul(&den1, &inv, &u1);
	fe_mul(&den2, &inv, &u2);
	fe_mul(&zinv, &den1, &den2);
	fe_mul(&zinv, &zinv, CT(p));
	fe_mul(&t, CT(p), &zinv);
	if (fe_isneg(&t)) {
		fe_mul(&x, CY(p), &FE_SQRT_M1);
		fe_mul(&y, CX(p), &FE_SQRT_M1);
		fe_mul(&den, &den1, &FE_INVSQRT_A_MINUS_D);
	} else {
		x = *CX(p);
		y = *CY(p);
		den = den2;
	}
	fe_mul(&t, &x, &zinv);
	if (fe_isneg(&t))
		fe_neg(&y, &y);
	fe_sub(&s, CZ(p), &y);
	fe_mul(&s, &den, &s);
	fe_abs(&s, &s);
	fe_tobytes(out, &s);
}

/* RFC 9496 §4.3.1 */
ms_err ms_setsum_pt_decode(ms_setsum_pt *p, const uint8_t in[MS_SETSUM_LEN],
                           ms_errbuf *eb)
{
	fe s, ss, u1, u2, u2sq, v, t, inv, denx, deny;
	uint8_t back[32];
	int sq;

	fe_frombytes(&s, in);
	fe_tobytes(back, &s);
	if (memcmp(back, in, 32) != 0 || (in[0] & 1) != 0)
		goto bad;
	fe_sq(&ss, &s);
	fe_sub(&u1, &FE_ONE, &ss);
	fe_add(&u2, &FE_ONE, &ss);
	fe_sq(&u2sq, &u2);
	fe_sq(&t, &u1);
	fe_mul(&t, &t, &FE_D);
	fe_neg(&t, &t);
	fe_sub(&v, &t, &u2sq);
	fe_mul(&t, &v, &u2sq);
	sq = fe_sqrt_ratio_m1(&inv, &FE_ONE, &t);
	fe_mul(&denx, &inv, &u2);
	fe_mul(&deny, &inv, &denx);
	fe_mul(&deny, &deny, &v);
	fe_add(&t, &s, &s);
	fe_mul(&t, &t, &denx);
	fe_abs(X(p), &t);
	fe_mul(Y(p), &u1, &deny);
	*Z(p) = FE_ONE;
	fe_mul(T(p), CX(p), CY(p));
	if (!sq || fe_isneg(CT(p)) || fe_iszero(CY(p)))
		goto bad;
	return MS_OK;
bad:
	return ms_errf(eb, MS_ECORRUPT,
	               "setsum: a digest is not a valid group element");
}
