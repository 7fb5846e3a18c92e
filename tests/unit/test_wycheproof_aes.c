/*
 * The AES family against Project Wycheproof, through the module: every
 * vector of aes_gcm_test.json, aes_cbc_pkcs5_test.json, aes_wrap_test.json,
 * aes_kwp_test.json and aes_cmac_test.json, with its key imported by
 * C_CreateObject and the operation run by C_Encrypt/C_Decrypt (single and
 * multi-part), C_Sign/C_Verify; the key-wrap files also through
 * C_WrapKey and C_UnwrapKey.
 *
 * Valid vectors must give exactly the expected output, invalid ones must
 * fail, acceptable ones may go either way (counted).  One documented
 * exception: OpenSSL 3.0's GCM takes IVs of at most 128 bytes, so the
 * valid vectors with a longer IV (2056 bits) must be refused up front with
 * CKR_MECHANISM_PARAM_INVALID; they are counted apart.  Each file prints
 * its counts, and the test fails on any mismatch or on a count that does
 * not add up to the file's numberOfTests.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "p11_crypt.h"
#include "vectors.h"
#include "wycheproof_run.h"

#define GCM_IV_MAX 128

/* ---------------------------------------------------------------------- */
/* aes_gcm_test.json                                                       */
/* ---------------------------------------------------------------------- */

static void gcm_vec(CK_SESSION_HANDLE h, const json_t *g, const json_t *t, counts *c)
{
	vec_bytes key = { 0 }, iv = { 0 }, aad = { 0 }, msg = { 0 }, ct = { 0 }, tag = { 0 };
	vec_bytes ctt = { 0 };
	CK_OBJECT_HANDLE k = CK_INVALID_HANDLE;
	CK_GCM_PARAMS p;
	CK_MECHANISM m = { CKM_AES_GCM, &p, sizeof(p) };
	CK_RV rv, rv2;

	if (!vec_hex(t, "key", &key) || !vec_hex(t, "iv", &iv) || !vec_hex(t, "aad", &aad) ||
	    !vec_hex(t, "msg", &msg) || !vec_hex(t, "ct", &ct) || !vec_hex(t, "tag", &tag)) {
		miss(c, t, "vector decoding", CKR_OK);
		goto out;
	}
	ctt.len = ct.len + tag.len;
	if ((ctt.p = malloc(ctt.len + 1)) == NULL) {
		miss(c, t, "malloc", CKR_HOST_MEMORY);
		goto out;
	}
	memcpy(ctt.p, ct.p, ct.len);
	memcpy(ctt.p + ct.len, tag.p, tag.len);
	if ((rv = ch_t_secret(h, CKK_AES, key.p, key.len, CH_T_ENC | CH_T_DEC, &k)) != CKR_OK) {
		miss(c, t, "C_CreateObject", rv);
		goto out;
	}
	memset(&p, 0, sizeof(p));
	p.pIv = iv.p;
	p.ulIvLen = iv.len;
	p.ulIvBits = iv.len * 8;
	p.pAAD = aad.p;
	p.ulAADLen = aad.len;
	p.ulTagBits = (CK_ULONG)vec_int(g, "tagSize");

	if (iv.len == 0 || iv.len > GCM_IV_MAX) {
		rv = P11->C_EncryptInit(h, &m, k);
		rv2 = P11->C_DecryptInit(h, &m, k);
		if (rv != CKR_MECHANISM_PARAM_INVALID || rv2 != CKR_MECHANISM_PARAM_INVALID)
			miss(c, t, "C_EncryptInit/C_DecryptInit with this IV length",
			     rv != CKR_MECHANISM_PARAM_INVALID ? rv : rv2);
		else if (is_result(t, "valid"))
			c->beyond++;
		else
			c->invalid++;
		goto out;
	}
	aead_vector(h, &m, k, &msg, &ctt, c, t);
out:
	if (k != CK_INVALID_HANDLE)
		(void)P11->C_DestroyObject(h, k);
	vec_bytes_free(&key);
	vec_bytes_free(&iv);
	vec_bytes_free(&aad);
	vec_bytes_free(&msg);
	vec_bytes_free(&ct);
	vec_bytes_free(&tag);
	vec_bytes_free(&ctt);
}

static void test_wycheproof_aes_gcm(void)
{
	counts c;

	run_file("aes_gcm_test.json", gcm_vec, &c);
	printf("aes_gcm_test.json: the %u refused valid vectors have IVs longer than 128 bytes "
	       "(2056 bits), more than OpenSSL 3.0's GCM takes\n",
	       c.beyond);
	CHECK(c.valid > 200 && c.invalid > 80);
	CHECK_UL(c.beyond, 3); /* the three 2056-bit IVs */
}

/* ---------------------------------------------------------------------- */
/* aes_cbc_pkcs5_test.json                                                 */
/* ---------------------------------------------------------------------- */

static void cbc_vec(CK_SESSION_HANDLE h, const json_t *g, const json_t *t, counts *c)
{
	vec_bytes key = { 0 }, iv = { 0 }, msg = { 0 }, ct = { 0 };
	CK_OBJECT_HANDLE k = CK_INVALID_HANDLE;
	CK_MECHANISM m = { CKM_AES_CBC_PAD, NULL, 0 };
	CK_RV rv;

	(void)g;
	if (!vec_hex(t, "key", &key) || !vec_hex(t, "iv", &iv) || !vec_hex(t, "msg", &msg) ||
	    !vec_hex(t, "ct", &ct)) {
		miss(c, t, "vector decoding", CKR_OK);
		goto out;
	}
	if ((rv = ch_t_secret(h, CKK_AES, key.p, key.len, CH_T_ENC | CH_T_DEC, &k)) != CKR_OK) {
		miss(c, t, "C_CreateObject", rv);
		goto out;
	}
	m.pParameter = iv.p;
	m.ulParameterLen = iv.len;
	if (is_result(t, "valid")) {
		if (both_ways(h, true, &m, k, &msg, ct.p, ct.len, 5, c, t) &&
		    both_ways(h, false, &m, k, &ct, msg.p, msg.len, 7, c, t) &&
		    both_ways(h, false, &m, k, &ct, msg.p, msg.len, 16, c, t))
			c->valid++;
	} else if (is_result(t, "invalid")) {
		if (both_fail(h, &m, k, &ct, 16, c, t) && both_fail(h, &m, k, &ct, 3, c, t))
			c->invalid++;
	} else {
		miss(c, t, "unexpected result kind", CKR_OK);
	}
out:
	if (k != CK_INVALID_HANDLE)
		(void)P11->C_DestroyObject(h, k);
	vec_bytes_free(&key);
	vec_bytes_free(&iv);
	vec_bytes_free(&msg);
	vec_bytes_free(&ct);
}

static void test_wycheproof_aes_cbc_pad(void)
{
	counts c;

	run_file("aes_cbc_pkcs5_test.json", cbc_vec, &c);
	CHECK(c.valid > 60 && c.invalid > 100);
}

/* ---------------------------------------------------------------------- */
/* aes_wrap_test.json, aes_kwp_test.json                                   */
/* ---------------------------------------------------------------------- */

/* What C_WrapKey and C_UnwrapKey did with one file's vectors. */
static struct {
	unsigned wrapped;   /* valid: C_WrapKey gave ct */
	unsigned weaker;    /* valid: C_WrapKey refused, the key being stronger than the KEK */
	unsigned unwrapped; /* valid: C_UnwrapKey gave msg */
	unsigned refused;   /* invalid: C_UnwrapKey refused */
} kd;

/* Every vector also goes through C_UnwrapKey (into a generic secret read
 * back) and each valid one through C_WrapKey, whose policy refuses to wrap
 * a key under a weaker one (a 256-bit key under a 128-bit KEK):
 * CKR_KEY_NOT_WRAPPABLE there is the right answer and is counted. */
static void wrap_vec(CK_SESSION_HANDLE h, const json_t *t, counts *c, CK_MECHANISM_TYPE mt)
{
	vec_bytes key = { 0 }, msg = { 0 }, ct = { 0 };
	CK_OBJECT_HANDLE k = CK_INVALID_HANDLE, kw = CK_INVALID_HANDLE;
	CK_MECHANISM m = { mt, NULL, 0 };
	CK_BYTE *out = NULL, *w = NULL, *u = NULL;
	CK_ULONG n = 0, wn = 0, un = 0;
	CK_RV rv, rvd, rvw, rvu;
	bool weaker;

	if (!vec_hex(t, "key", &key) || !vec_hex(t, "msg", &msg) || !vec_hex(t, "ct", &ct)) {
		miss(c, t, "vector decoding", CKR_OK);
		goto out;
	}
	/* Encryption and wrapping keys apart: no key both decrypts and
	 * unwraps (the key-role rule). */
	if ((rv = ch_t_secret(h, CKK_AES, key.p, key.len, CH_T_ENC | CH_T_DEC, &k)) != CKR_OK ||
	    (rv = ch_t_secret(h, CKK_AES, key.p, key.len, CH_T_WRAP, &kw)) != CKR_OK) {
		miss(c, t, "C_CreateObject", rv);
		goto out;
	}
	if (is_result(t, "valid")) {
		if (!both_ways(h, true, &m, k, &msg, ct.p, ct.len, 0, c, t) ||
		    !both_ways(h, false, &m, k, &ct, msg.p, msg.len, 0, c, t))
			goto out;
		weaker = (msg.len >= 32 ? 256 : msg.len * 8) > key.len * 8;
		rvw = ch_t_wrap_secret(h, &m, kw, msg.p, msg.len, &w, &wn);
		rvu = ch_t_unwrap_secret(h, &m, kw, ct.p, ct.len, &u, &un);
		if (weaker ? rvw != CKR_KEY_NOT_WRAPPABLE
		           : (rvw != CKR_OK || !ch_t_same(w, wn, ct.p, ct.len)))
			miss(c, t, "C_WrapKey", rvw);
		else if (rvu != CKR_OK || !ch_t_same(u, un, msg.p, msg.len))
			miss(c, t, "C_UnwrapKey", rvu);
		else {
			c->valid++;
			kd.unwrapped++;
			if (weaker)
				kd.weaker++;
			else
				kd.wrapped++;
		}
	} else if (is_result(t, "invalid")) {
		rvu = ch_t_unwrap_secret(h, &m, kw, ct.p, ct.len, &u, &un);
		if (!both_fail(h, &m, k, &ct, 0, c, t))
			goto out;
		if (rvu != CKR_WRAPPED_KEY_INVALID && rvu != CKR_WRAPPED_KEY_LEN_RANGE)
			miss(c, t, "C_UnwrapKey of an invalid wrapping", rvu);
		else {
			c->invalid++;
			kd.refused++;
		}
	} else {
		/* Acceptable (an 8-byte key under KW): either both ways work
		 * with the right result, or both are refused; C_UnwrapKey
		 * agrees with C_Decrypt. */
		rv = ch_t_crypt(h, true, &m, k, msg.p, msg.len, &out, &n);
		if (rv == CKR_OK && !ch_t_same(out, n, ct.p, ct.len)) {
			miss(c, t, "C_Encrypt (acceptable) gave a wrong result", rv);
			goto out;
		}
		free(out);
		out = NULL;
		rvd = ch_t_crypt(h, false, &m, k, ct.p, ct.len, &out, &n);
		rvu = ch_t_unwrap_secret(h, &m, kw, ct.p, ct.len, &u, &un);
		if (rvd == CKR_OK && !ch_t_same(out, n, msg.p, msg.len))
			miss(c, t, "C_Decrypt (acceptable) gave a wrong result", rvd);
		else if ((rv == CKR_OK) != (rvd == CKR_OK) || (rvu == CKR_OK) != (rvd == CKR_OK))
			miss(c, t, "acceptable vector accepted one way only",
			     rv != CKR_OK ? rv : rvd);
		else if (rv == CKR_OK)
			c->acc_yes++;
		else
			c->acc_no++;
	}
out:
	if (k != CK_INVALID_HANDLE)
		(void)P11->C_DestroyObject(h, k);
	if (kw != CK_INVALID_HANDLE)
		(void)P11->C_DestroyObject(h, kw);
	free(out);
	free(w);
	free(u);
	vec_bytes_free(&key);
	vec_bytes_free(&msg);
	vec_bytes_free(&ct);
}

static void report_key_calls(const char *file)
{
	printf("%s: C_UnwrapKey: %u valid unwrapped exactly, %u invalid refused; C_WrapKey: %u "
	       "valid wrapped exactly, %u refused as wrapping a stronger key under a weaker one\n",
	       file, kd.unwrapped, kd.refused, kd.wrapped, kd.weaker);
	memset(&kd, 0, sizeof(kd));
}

static void kw_vec(CK_SESSION_HANDLE h, const json_t *g, const json_t *t, counts *c)
{
	(void)g;
	wrap_vec(h, t, c, CKM_AES_KEY_WRAP);
}

static void kwp_vec(CK_SESSION_HANDLE h, const json_t *g, const json_t *t, counts *c)
{
	(void)g;
	wrap_vec(h, t, c, CKM_AES_KEY_WRAP_KWP);
}

static void test_wycheproof_aes_key_wrap(void)
{
	counts c;

	run_file("aes_wrap_test.json", kw_vec, &c);
	report_key_calls("aes_wrap_test.json");
	CHECK(c.valid > 30 && c.invalid > 100);
}

static void test_wycheproof_aes_key_wrap_kwp(void)
{
	counts c;

	run_file("aes_kwp_test.json", kwp_vec, &c);
	report_key_calls("aes_kwp_test.json");
	CHECK(c.valid > 70 && c.invalid > 150);
}

/* ---------------------------------------------------------------------- */
/* aes_cmac_test.json                                                      */
/* ---------------------------------------------------------------------- */

static void cmac_vec(CK_SESSION_HANDLE h, const json_t *g, const json_t *t, counts *c)
{
	vec_bytes key = { 0 }, msg = { 0 }, tag = { 0 };
	CK_OBJECT_HANDLE k = CK_INVALID_HANDLE;
	CK_MAC_GENERAL_PARAMS len;
	CK_MECHANISM m = { CKM_AES_CMAC, NULL, 0 };
	CK_MECHANISM mg = { CKM_AES_CMAC_GENERAL, &len, sizeof(len) };
	CK_BYTE sig[64];
	CK_ULONG n = 0;
	long long tag_bits = vec_int(g, "tagSize");
	CK_RV rv, rv1, rv2;

	if (!vec_hex(t, "key", &key) || !vec_hex(t, "msg", &msg) || !vec_hex(t, "tag", &tag)) {
		miss(c, t, "vector decoding", CKR_OK);
		goto out;
	}
	rv = ch_t_secret(h, CKK_AES, key.p, key.len, CH_T_SIGN | CH_T_VER, &k);
	if (key.len != 16 && key.len != 24 && key.len != 32) {
		/* Keys of sizes AES lacks must be refused when made. */
		if (rv == CKR_OK || !is_result(t, "invalid")) {
			miss(c, t, "C_CreateObject of an AES key of a bad size", rv);
		} else {
			c->invalid++;
			c->key_refused++;
		}
		goto out;
	}
	if (rv != CKR_OK) {
		miss(c, t, "C_CreateObject", rv);
		goto out;
	}
	len = (CK_ULONG)(tag_bits / 8);
	if (tag_bits != 128)
		m = mg; /* truncated tags: the _GENERAL form */
	if (is_result(t, "valid")) {
		if ((rv = ch_t_sign(h, &m, k, msg.p, msg.len, 0, sig, &n)) != CKR_OK ||
		    !ch_t_same(sig, n, tag.p, tag.len)) {
			miss(c, t, "C_Sign", rv);
			goto out;
		}
		if ((rv = ch_t_sign(h, &mg, k, msg.p, msg.len, 7, sig, &n)) != CKR_OK ||
		    !ch_t_same(sig, n, tag.p, tag.len)) {
			miss(c, t, "C_SignUpdate/C_SignFinal (CMAC_GENERAL)", rv);
			goto out;
		}
		if ((rv = ch_t_verify(h, &m, k, msg.p, msg.len, 0, tag.p, tag.len)) != CKR_OK ||
		    (rv = ch_t_verify(h, &m, k, msg.p, msg.len, 3, tag.p, tag.len)) != CKR_OK) {
			miss(c, t, "C_Verify", rv);
			goto out;
		}
		c->valid++;
	} else if (is_result(t, "invalid")) {
		rv1 = ch_t_verify(h, &m, k, msg.p, msg.len, 0, tag.p, tag.len);
		rv2 = ch_t_verify(h, &m, k, msg.p, msg.len, 5, tag.p, tag.len);
		if ((rv1 != CKR_SIGNATURE_INVALID && rv1 != CKR_SIGNATURE_LEN_RANGE) ||
		    (rv2 != CKR_SIGNATURE_INVALID && rv2 != CKR_SIGNATURE_LEN_RANGE))
			miss(c, t, "C_Verify of a bad tag", rv1 == CKR_OK ? rv1 : rv2);
		else
			c->invalid++;
	} else {
		miss(c, t, "unexpected result kind", CKR_OK);
	}
out:
	if (k != CK_INVALID_HANDLE)
		(void)P11->C_DestroyObject(h, k);
	vec_bytes_free(&key);
	vec_bytes_free(&msg);
	vec_bytes_free(&tag);
}

static void test_wycheproof_aes_cmac(void)
{
	counts c;

	run_file("aes_cmac_test.json", cmac_vec, &c);
	CHECK(c.valid > 60 && c.invalid > 200 && c.key_refused == 5);
}

int main(void)
{
	test_wycheproof_aes_gcm();
	test_wycheproof_aes_cbc_pad();
	test_wycheproof_aes_key_wrap();
	test_wycheproof_aes_key_wrap_kwp();
	test_wycheproof_aes_cmac();
	return ch_test_done();
}
