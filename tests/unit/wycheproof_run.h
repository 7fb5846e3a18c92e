/*
 * A Wycheproof file run through the module (module.h, p11_crypt.h and
 * vectors.h first): one fresh token and user session per file, a callback
 * per test, counts of what each vector did, and the per-file line the
 * issue asks for:
 *
 *	aes_gcm_test.json: 316 vectors: 310 valid ok, 6 invalid rejected, ...
 *
 * run_file() fails the test on any mismatch and when the counts do not
 * add up to the file's numberOfTests.  Header-only, static functions: each
 * test is its own executable.
 */
#ifndef CH_TESTS_WYCHEPROOF_RUN_H
#define CH_TESTS_WYCHEPROOF_RUN_H

#include <stdio.h>
#include <string.h>

/* What one file's run found. */
typedef struct counts {
	unsigned valid;       /* valid, right output */
	unsigned invalid;     /* invalid, refused */
	unsigned acc_yes;     /* acceptable, accepted with the right output */
	unsigned acc_no;      /* acceptable, refused */
	unsigned beyond;      /* valid, outside what OpenSSL 3.0 can do, refused */
	unsigned key_refused; /* of the invalid: refused at C_CreateObject */
	unsigned mismatch;
} counts;

typedef void vec_fn(CK_SESSION_HANDLE h, const json_t *g, const json_t *t, counts *c);

static inline void report(const char *file, const counts *c, long long declared)
{
	unsigned total = c->valid + c->invalid + c->acc_yes + c->acc_no + c->beyond + c->mismatch;

	printf("%s: %u vectors: %u valid ok, %u invalid rejected", file, total, c->valid,
	       c->invalid);
	if (c->key_refused > 0)
		printf(" (%u of them at C_CreateObject)", c->key_refused);
	printf(", %u acceptable (%u accepted, %u rejected)", c->acc_yes + c->acc_no, c->acc_yes,
	       c->acc_no);
	if (c->beyond > 0)
		printf(", %u valid beyond what OpenSSL 3.0 can do (refused up front)", c->beyond);
	printf(", %u mismatches\n", c->mismatch);
	CHECK_UL(total, declared);
	CHECK_UL(c->mismatch, 0);
}

/* Runs fn over every test of a file, in one user session. */
static inline void run_file(const char *name, vec_fn *fn, counts *c)
{
	char rel[256];
	ch_t_env e;
	CK_SESSION_HANDLE h = CK_INVALID_HANDLE;
	json_t *root = NULL;
	const json_t *groups, *g, *tests;
	size_t i, j;

	memset(c, 0, sizeof(*c));
	memset(&e, 0, sizeof(e));
	snprintf(rel, sizeof(rel), "wycheproof/testvectors_v1/%s", name);
	REQUIRE((root = vec_load(rel)) != NULL);
	REQUIRE(ch_t_setup(&e));
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	groups = json_object_get(root, "testGroups");
	REQUIRE(json_array_size(groups) > 0);
	for (i = 0; i < json_array_size(groups); i++) {
		g = json_array_get(groups, i);
		tests = json_object_get(g, "tests");
		for (j = 0; j < json_array_size(tests); j++)
			fn(h, g, json_array_get(tests, j), c);
	}
	report(name, c, vec_int(root, "numberOfTests"));
out:
	if (h != CK_INVALID_HANDLE)
		(void)P11->C_CloseSession(h);
	ch_t_env_free(&e);
	json_decref(root);
}

static inline bool is_result(const json_t *t, const char *r)
{
	return strcmp(vec_str(t, "result"), r) == 0;
}

/* Counts a mismatch with the vector's id and what went wrong. */
static inline void miss(counts *c, const json_t *t, const char *what, CK_RV rv)
{
	fprintf(stderr, "tcId %lld (%s, %s): %s: got %s\n", vec_int(t, "tcId"),
	        vec_str(t, "result"), vec_str(t, "comment"), what, ch_test_rv_name(rv));
	c->mismatch++;
}

/* Encrypts (or decrypts) in single-part and in chunks of chunk bytes and
 * checks both give want.  False (counted) on a mismatch. */
static inline bool both_ways(CK_SESSION_HANDLE h, bool enc, CK_MECHANISM *m, CK_OBJECT_HANDLE k,
                             const vec_bytes *in, const CK_BYTE *want, size_t want_len,
                             size_t chunk, counts *c, const json_t *t)
{
	CK_BYTE *out = NULL;
	CK_ULONG n = 0;
	CK_RV rv;
	bool ok = true;

	rv = ch_t_crypt(h, enc, m, k, in->p, in->len, &out, &n);
	if (rv != CKR_OK || !ch_t_same(out, n, want, want_len)) {
		miss(c, t, enc ? "C_Encrypt" : "C_Decrypt", rv);
		ok = false;
	}
	free(out);
	out = NULL;
	if (chunk == 0)
		return ok;
	rv = ch_t_crypt_parts(h, enc, m, k, in->p, in->len, chunk, &out, &n);
	if (ok && (rv != CKR_OK || !ch_t_same(out, n, want, want_len))) {
		miss(c, t, enc ? "C_EncryptUpdate/Final" : "C_DecryptUpdate/Final", rv);
		ok = false;
	}
	free(out);
	return ok;
}

/* Decrypts in single-part and in chunks; both must fail.  False (counted)
 * when either succeeds. */
static inline bool both_fail(CK_SESSION_HANDLE h, CK_MECHANISM *m, CK_OBJECT_HANDLE k,
                             const vec_bytes *in, size_t chunk, counts *c, const json_t *t)
{
	CK_BYTE *out = NULL;
	CK_ULONG n = 0;
	CK_RV rv;
	bool ok = true;

	if ((rv = ch_t_crypt(h, false, m, k, in->p, in->len, &out, &n)) == CKR_OK) {
		miss(c, t, "C_Decrypt of an invalid ciphertext", rv);
		ok = false;
	}
	free(out);
	out = NULL;
	if (chunk == 0)
		return ok;
	rv = ch_t_crypt_parts(h, false, m, k, in->p, in->len, chunk, &out, &n);
	if (ok && rv == CKR_OK) {
		miss(c, t, "C_DecryptUpdate/Final of an invalid ciphertext", rv);
		ok = false;
	}
	free(out);
	return ok;
}

/* One AEAD vector with its ciphertext||tag in ctt: a valid one must
 * encrypt to ctt and decrypt back to msg, one-shot and in parts; an invalid
 * one must fail to decrypt every way. */
static inline void aead_vector(CK_SESSION_HANDLE h, CK_MECHANISM *m, CK_OBJECT_HANDLE k,
                               vec_bytes *msg, vec_bytes *ctt, counts *c, const json_t *t)
{
	if (is_result(t, "valid")) {
		if (both_ways(h, true, m, k, msg, ctt->p, ctt->len, 7, c, t) &&
		    both_ways(h, false, m, k, ctt, msg->p, msg->len, 5, c, t))
			c->valid++;
	} else if (is_result(t, "invalid")) {
		if (both_fail(h, m, k, ctt, 16, c, t))
			c->invalid++;
	} else {
		miss(c, t, "unexpected result kind", CKR_OK);
	}
}

#endif
