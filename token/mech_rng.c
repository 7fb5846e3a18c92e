/*
 * Random numbers: C_GenerateRandom (ch_random, from token/mech.h) and the
 * key-material source the mechanism families use (ch_rng_priv_bytes, from
 * mech_impl.h).
 *
 * Both come from OpenSSL's DRBGs, which seed themselves from the operating
 * system and reseed after fork().  Public randomness (what an application
 * asks for) and private randomness (keys) are drawn from OpenSSL's two
 * separate instances, RAND_bytes and RAND_priv_bytes, so that output an
 * application sees says nothing about the state that made a key.
 */
#include <limits.h>

#include <openssl/err.h>
#include <openssl/rand.h>

#include "mech_impl.h"

/* RAND_*bytes take an int length: larger requests go in chunks. */
#define RNG_CHUNK (1 << 30)

CK_RV ch_random(CK_BYTE *out, CK_ULONG len)
{
	CK_RV rv = CKR_OK;
	int n;

	if (out == NULL && len > 0)
		return CKR_ARGUMENTS_BAD;
	ERR_set_mark(); /* leave the caller's OpenSSL error queue as it was */
	while (len > 0 && rv == CKR_OK) {
		n = len > RNG_CHUNK ? RNG_CHUNK : (int)len;
		if (RAND_bytes(out, n) != 1)
			rv = CKR_FUNCTION_FAILED;
		out += n;
		len -= (CK_ULONG)n;
	}
	ERR_pop_to_mark();
	return rv;
}

CK_RV ch_rng_priv_bytes(CK_BYTE *out, size_t len)
{
	int n;

	while (len > 0) {
		n = len > RNG_CHUNK ? RNG_CHUNK : (int)len;
		if (RAND_priv_bytes(out, n) != 1)
			return CKR_FUNCTION_FAILED;
		out += n;
		len -= (size_t)n;
	}
	return CKR_OK;
}
