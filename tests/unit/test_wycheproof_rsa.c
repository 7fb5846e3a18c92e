/*
 * Every Wycheproof RSA vector file (../shared/vectors/wycheproof/
 * testvectors_v1/rsa_*.json), run through the module the way an
 * application would: keys imported with C_CreateObject, operations through
 * C_VerifyInit / C_Verify, C_SignInit / C_Sign and C_DecryptInit /
 * C_Decrypt, and C_UnwrapKey into a generic secret whose CKA_VALUE is
 * compared with the plaintext.
 *
 *   rsa_signature_*         PKCS#1 v1.5 verify: CKM_SHA*_RSA_PKCS over msg,
 *                           and CKM_RSA_PKCS over the DER DigestInfo;
 *   rsa_pkcs1_*_sig_gen     PKCS#1 v1.5 sign, byte-exact: with the key
 *                           without CRT from the JSON, and with the CRT key
 *                           C_UnwrapKey makes of privateKeyPkcs8 (AES-GCM
 *                           encrypted with C_Encrypt first);
 *   rsa_pss_*               PSS verify: CKM_SHA*_RSA_PKCS_PSS over msg and
 *                           CKM_RSA_PKCS_PSS over its digest;
 *   rsa_oaep_*              OAEP decrypt and unwrap (keys below 2048 bits
 *                           are refused at C_DecryptInit: counted, not
 *                           failed);
 *   rsa_pkcs1_{2048,...}    PKCS#1 v1.5 decrypt and unwrap.
 *
 * Valid vectors must give exactly the expected output, invalid ones must
 * fail (decryption with the one code CKR_ENCRYPTED_DATA_INVALID, or
 * CKR_ENCRYPTED_DATA_LEN_RANGE for a ciphertext of the wrong length;
 * verification with CKR_SIGNATURE_INVALID or CKR_SIGNATURE_LEN_RANGE),
 * acceptable ones may go either way and are counted.  Each file prints its
 * counts; any mismatch fails the test.
 */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "module.h"
#include "vectors.h"
#include "rsa_util.h"

#define VEC_DIR "wycheproof/testvectors_v1/"

typedef enum file_kind {
	K_PKCS1_VERIFY,
	K_PKCS1_SIGN,
	K_PSS_VERIFY,
	K_OAEP,
	K_PKCS1_DECRYPT
} file_kind;

static const struct vec_file {
	const char *name;
	file_kind kind;
} files[] = {
	{ "rsa_signature_2048_sha256_test.json", K_PKCS1_VERIFY },
	{ "rsa_signature_2048_sha384_test.json", K_PKCS1_VERIFY },
	{ "rsa_signature_2048_sha512_test.json", K_PKCS1_VERIFY },
	{ "rsa_signature_3072_sha256_test.json", K_PKCS1_VERIFY },
	{ "rsa_signature_3072_sha384_test.json", K_PKCS1_VERIFY },
	{ "rsa_signature_3072_sha512_test.json", K_PKCS1_VERIFY },
	{ "rsa_signature_4096_sha256_test.json", K_PKCS1_VERIFY },
	{ "rsa_signature_4096_sha384_test.json", K_PKCS1_VERIFY },
	{ "rsa_signature_4096_sha512_test.json", K_PKCS1_VERIFY },
	{ "rsa_pkcs1_2048_sig_gen_test.json", K_PKCS1_SIGN },
	{ "rsa_pkcs1_3072_sig_gen_test.json", K_PKCS1_SIGN },
	{ "rsa_pkcs1_4096_sig_gen_test.json", K_PKCS1_SIGN },
	{ "rsa_pss_2048_sha256_mgf1_0_test.json", K_PSS_VERIFY },
	{ "rsa_pss_2048_sha256_mgf1_32_test.json", K_PSS_VERIFY },
	{ "rsa_pss_2048_sha384_mgf1_48_test.json", K_PSS_VERIFY },
	{ "rsa_pss_3072_sha256_mgf1_32_test.json", K_PSS_VERIFY },
	{ "rsa_pss_4096_sha256_mgf1_32_test.json", K_PSS_VERIFY },
	{ "rsa_pss_4096_sha384_mgf1_48_test.json", K_PSS_VERIFY },
	{ "rsa_pss_4096_sha512_mgf1_64_test.json", K_PSS_VERIFY },
	{ "rsa_pss_misc_test.json", K_PSS_VERIFY },
	{ "rsa_oaep_2048_sha1_mgf1sha1_test.json", K_OAEP },
	{ "rsa_oaep_2048_sha256_mgf1sha1_test.json", K_OAEP },
	{ "rsa_oaep_2048_sha256_mgf1sha256_test.json", K_OAEP },
	{ "rsa_oaep_2048_sha384_mgf1sha384_test.json", K_OAEP },
	{ "rsa_oaep_2048_sha512_mgf1sha512_test.json", K_OAEP },
	{ "rsa_oaep_3072_sha256_mgf1sha256_test.json", K_OAEP },
	{ "rsa_oaep_4096_sha256_mgf1sha256_test.json", K_OAEP },
	{ "rsa_oaep_misc_test.json", K_OAEP },
	{ "rsa_pkcs1_2048_test.json", K_PKCS1_DECRYPT },
	{ "rsa_pkcs1_3072_test.json", K_PKCS1_DECRYPT },
	{ "rsa_pkcs1_4096_test.json", K_PKCS1_DECRYPT },
};

#define FILES CH_T_ARRAY_LEN(files)

/* What one file (one way of driving it) gave. */
typedef struct counts {
	const char *file, *how;
	unsigned total, valid_ok, invalid_rejected, acc_yes, acc_no, small_key, empty, bad;
} counts;

static void counts_init(counts *c, const char *file, const char *how)
{
	memset(c, 0, sizeof(*c));
	c->file = file;
	c->how = how;
}

/* Prints the file's line and fails on any mismatch or a count that differs
 * from the file's numberOfTests. */
static void counts_report(const counts *c, long long expected)
{
	printf("%s [%s]: %u vectors: %u valid ok, %u invalid rejected, %u acceptable (%u accepted, "
	       "%u rejected)",
	       c->file, c->how, c->total, c->valid_ok, c->invalid_rejected, c->acc_yes + c->acc_no,
	       c->acc_yes, c->acc_no);
	if (c->small_key > 0)
		printf(", %u refused small key", c->small_key);
	if (c->empty > 0)
		printf(", %u valid with an empty plaintext (no key to unwrap: "
		       "CKR_WRAPPED_KEY_INVALID)",
		       c->empty);
	printf("\n");
	CHECK_UL(c->bad, 0);
	CHECK_UL(c->total, (CK_ULONG)expected);
}

/* Records one vector's outcome: ok is whether the token accepted it (and,
 * for valid vectors, gave exactly the expected output); rv is what the
 * call returned, printed on a mismatch; rejected_ok says whether rv is a
 * code an invalid vector may get. */
static void record(counts *c, const json_t *t, bool ok, CK_RV rv, bool rejected_ok)
{
	const char *result = vec_str(t, "result");
	bool fine;

	c->total++;
	if (strcmp(result, "valid") == 0) {
		fine = ok;
		c->valid_ok += fine;
	} else if (strcmp(result, "invalid") == 0) {
		fine = !ok && rejected_ok;
		c->invalid_rejected += fine;
	} else {
		fine = ok || rejected_ok;
		if (ok)
			c->acc_yes++;
		else
			c->acc_no++;
	}
	if (!fine) {
		c->bad++;
		fprintf(stderr, "%s [%s] tcId %lld (%s, \"%s\"): %s, returned %s\n", c->file,
		        c->how, vec_int(t, "tcId"), result, vec_str(t, "comment"),
		        ok ? "accepted" : "rejected", ch_test_rv_name(rv));
	}
}

static bool verify_rejected(CK_RV rv)
{
	return rv == CKR_SIGNATURE_INVALID || rv == CKR_SIGNATURE_LEN_RANGE;
}

/* The number of bits of a big-endian integer. */
static size_t bits_of(const vec_bytes *b)
{
	size_t i = 0, bits;

	while (i < b->len && b->p[i] == 0)
		i++;
	if (i == b->len)
		return 0;
	bits = (b->len - i - 1) * 8;
	for (CK_BYTE top = b->p[i]; top != 0; top >>= 1)
		bits++;
	return bits;
}

/* rsa_signature_*: PKCS#1 v1.5 verification, hashed and raw. */
static void run_pkcs1_verify(CK_SESSION_HANDLE h, const char *file, const json_t *root)
{
	counts ch, cr;
	const json_t *g, *t;
	size_t gi, ti;

	counts_init(&ch, file, "CKM_SHA*_RSA_PKCS");
	counts_init(&cr, file, "CKM_RSA_PKCS over DigestInfo");
	json_array_foreach(json_object_get(root, "testGroups"), gi, g)
	{
		const rt_hash *hh = rt_hash_by_name(vec_str(g, "sha"));
		CK_OBJECT_HANDLE pub = CK_INVALID_HANDLE;
		rt_key k;

		if (!CHECK(hh != NULL) ||
		    !CHECK(rt_key_from_json(json_object_get(g, "publicKey"), 2, &k)))
			continue;
		if (CHECK_RV(rt_create_public(h, &k, RT_SIGN, &pub), CKR_OK)) {
			CK_MECHANISM mh = { hh->pkcs1, NULL, 0 }, mr = { CKM_RSA_PKCS, NULL, 0 };

			json_array_foreach(json_object_get(g, "tests"), ti, t)
			{
				vec_bytes msg = { NULL, 0 }, sig = { NULL, 0 };
				CK_BYTE di[19 + 64];
				size_t di_len;
				CK_RV rv;

				if (!CHECK(vec_hex(t, "msg", &msg)) ||
				    !CHECK(vec_hex(t, "sig", &sig)))
					goto next;
				rv = rt_verify(h, &mh, pub, msg.p, msg.len, sig.p, sig.len);
				record(&ch, t, rv == CKR_OK, rv, verify_rejected(rv));
				di_len = rt_digest_info(hh, msg.p, msg.len, di);
				if (CHECK(di_len > 0)) {
					rv = rt_verify(h, &mr, pub, di, di_len, sig.p, sig.len);
					record(&cr, t, rv == CKR_OK, rv, verify_rejected(rv));
				}
			next:
				vec_bytes_free(&msg);
				vec_bytes_free(&sig);
			}
			(void)P11->C_DestroyObject(h, pub);
		}
		rt_key_free(&k);
	}
	counts_report(&ch, vec_int(root, "numberOfTests"));
	counts_report(&cr, vec_int(root, "numberOfTests"));
}

/* An AES-256 key encrypts privateKeyPkcs8 with AES-GCM (enc) and a second
 * object with the same value (unw: key roles are kept apart) unwraps it
 * with C_UnwrapKey into an RSA private key, which must hold the JSON's n,
 * e and d and all five CRT components. */
static const CK_BYTE kek_value[32] = "wycheproof rsa pkcs8 unwrap key";

static CK_RV make_kek(CK_SESSION_HANDLE h, bool unwrap, CK_OBJECT_HANDLE *o)
{
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE kt = CKK_AES;
	CK_ATTRIBUTE t[] = {
		CH_T_ULONG(CKA_CLASS, &cls),
		CH_T_ULONG(CKA_KEY_TYPE, &kt),
		CH_T_BOOL(CKA_ENCRYPT, !unwrap),
		CH_T_BOOL(CKA_UNWRAP, unwrap),
		CH_T_ATTR(CKA_VALUE, kek_value, sizeof(kek_value)),
	};

	return P11->C_CreateObject(h, t, CH_T_ARRAY_LEN(t), o);
}

static bool crt_key_by_unwrap(CK_SESSION_HANDLE h, const json_t *g, const rt_key *json_key,
                              CK_OBJECT_HANDLE enc, CK_OBJECT_HANDLE unw, CK_OBJECT_HANDLE *o)
{
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_KEY_TYPE kt = CKK_RSA;
	CK_ATTRIBUTE t[] = {
		CH_T_ULONG(CKA_CLASS, &cls),
		CH_T_ULONG(CKA_KEY_TYPE, &kt),
		CH_T_BOOL(CKA_SIGN, true),
		CH_T_BOOL(CKA_SENSITIVE, false),
	};
	CK_BYTE iv[12] = { 7 }, blob[4096], v[RT_BUF];
	CK_ULONG blen = sizeof(blob), vl;
	CK_GCM_PARAMS p;
	CK_MECHANISM m;
	vec_bytes der = { NULL, 0 };
	bool ok = false;

	*o = CK_INVALID_HANDLE;
	ch_t_gcm(&m, &p, iv, NULL, 0);
	if (!CHECK(vec_hex(g, "privateKeyPkcs8", &der)) ||
	    !CHECK_RV(rt_encrypt(h, &m, enc, der.p, der.len, blob, &blen), CKR_OK) ||
	    !CHECK_RV(P11->C_UnwrapKey(h, &m, unw, blob, blen, t, CH_T_ARRAY_LEN(t), o), CKR_OK))
		goto out;
	for (size_t i = 0; i < RT_PARTS; i++) {
		vl = sizeof(v);
		if (!CHECK_RV(ch_t_get(h, *o, rt_attr_types[i], v, &vl), CKR_OK) || !CHECK(vl > 0))
			goto out;
		if (i < json_key->count &&
		    !CHECK(vl == json_key->v[i].len && memcmp(v, json_key->v[i].p, vl) == 0))
			goto out;
	}
	ok = true;
out:
	vec_bytes_free(&der);
	return ok;
}

/* One sig_gen vector with one private key: the signature must be the
 * expected one, and verify under the public key. */
static void sign_one(CK_SESSION_HANDLE h, counts *c, const json_t *t, const CK_MECHANISM *m,
                     CK_OBJECT_HANDLE priv, CK_OBJECT_HANDLE pub)
{
	vec_bytes msg = { NULL, 0 }, want = { NULL, 0 };
	CK_BYTE sig[RT_BUF];
	CK_ULONG sig_len = sizeof(sig);
	bool ok;
	CK_RV rv;

	if (!CHECK(vec_hex(t, "msg", &msg)) || !CHECK(vec_hex(t, "sig", &want)))
		goto out;
	rv = rt_sign(h, m, priv, msg.p, msg.len, sig, &sig_len);
	ok = rv == CKR_OK && sig_len == want.len && memcmp(sig, want.p, want.len) == 0;
	if (rv == CKR_OK && !ok) {
		fprintf(stderr, "%s [%s] tcId %lld: signature differs\n", c->file, c->how,
		        vec_int(t, "tcId"));
		rv = CKR_GENERAL_ERROR; /* signed, but wrongly: never acceptable */
	}
	record(c, t, ok, rv, rv != CKR_OK && rv != CKR_GENERAL_ERROR);
	if (ok)
		CHECK_RV(rt_verify(h, m, pub, msg.p, msg.len, sig, sig_len), CKR_OK);
out:
	vec_bytes_free(&msg);
	vec_bytes_free(&want);
}

/* rsa_pkcs1_*_sig_gen: deterministic PKCS#1 v1.5 signatures. */
static void run_pkcs1_sign(CK_SESSION_HANDLE h, const char *file, const json_t *root)
{
	counts cn, cc;
	const json_t *g, *t;
	size_t gi, ti;
	CK_OBJECT_HANDLE enc = CK_INVALID_HANDLE, unw = CK_INVALID_HANDLE;

	counts_init(&cn, file, "CKM_SHA*_RSA_PKCS, key without CRT");
	counts_init(&cc, file, "CKM_SHA*_RSA_PKCS, CRT key unwrapped from PKCS#8");
	if (!CHECK_RV(make_kek(h, false, &enc), CKR_OK) ||
	    !CHECK_RV(make_kek(h, true, &unw), CKR_OK))
		return;
	json_array_foreach(json_object_get(root, "testGroups"), gi, g)
	{
		const rt_hash *hh = rt_hash_by_name(vec_str(g, "sha"));
		CK_OBJECT_HANDLE pub = CK_INVALID_HANDLE, plain = CK_INVALID_HANDLE,
		                 crt_key = CK_INVALID_HANDLE;
		rt_key k;

		if (!CHECK(hh != NULL) ||
		    !CHECK(rt_key_from_json(json_object_get(g, "privateKey"), 3, &k)))
			continue;
		if (CHECK_RV(rt_create_public(h, &k, RT_SIGN, &pub), CKR_OK) &&
		    CHECK_RV(rt_create_private(h, &k, 3, RT_SIGN, &plain), CKR_OK) &&
		    crt_key_by_unwrap(h, g, &k, enc, unw, &crt_key)) {
			CK_MECHANISM m = { hh->pkcs1, NULL, 0 };

			json_array_foreach(json_object_get(g, "tests"), ti, t)
			{
				sign_one(h, &cn, t, &m, plain, pub);
				sign_one(h, &cc, t, &m, crt_key, pub);
			}
		}
		(void)P11->C_DestroyObject(h, pub);
		(void)P11->C_DestroyObject(h, plain);
		(void)P11->C_DestroyObject(h, crt_key);
		rt_key_free(&k);
	}
	(void)P11->C_DestroyObject(h, enc);
	(void)P11->C_DestroyObject(h, unw);
	counts_report(&cn, vec_int(root, "numberOfTests"));
	counts_report(&cc, vec_int(root, "numberOfTests"));
}

/* rsa_pss_*: PSS verification, hashed and on the digest. */
static void run_pss_verify(CK_SESSION_HANDLE h, const char *file, const json_t *root)
{
	counts ch, cd;
	const json_t *g, *t;
	size_t gi, ti;

	counts_init(&ch, file, "CKM_SHA*_RSA_PKCS_PSS");
	counts_init(&cd, file, "CKM_RSA_PKCS_PSS over the digest");
	json_array_foreach(json_object_get(root, "testGroups"), gi, g)
	{
		const rt_hash *hh = rt_hash_by_name(vec_str(g, "sha"));
		const rt_hash *mh = rt_hash_by_name(vec_str(g, "mgfSha"));
		CK_OBJECT_HANDLE pub = CK_INVALID_HANDLE;
		rt_key k;

		if (!CHECK(hh != NULL && mh != NULL) ||
		    !CHECK(strcmp(vec_str(g, "mgf"), "MGF1") == 0) ||
		    !CHECK(rt_key_from_json(json_object_get(g, "publicKey"), 2, &k)))
			continue;
		if (CHECK_RV(rt_create_public(h, &k, RT_SIGN, &pub), CKR_OK)) {
			CK_RSA_PKCS_PSS_PARAMS p = { hh->mech, mh->mgf,
				                     (CK_ULONG)vec_int(g, "sLen") };
			CK_MECHANISM mhash = { hh->pss, &p, sizeof(p) };
			CK_MECHANISM mraw = { CKM_RSA_PKCS_PSS, &p, sizeof(p) };

			json_array_foreach(json_object_get(g, "tests"), ti, t)
			{
				vec_bytes msg = { NULL, 0 }, sig = { NULL, 0 };
				CK_BYTE dg[64];
				size_t dg_len;
				CK_RV rv;

				if (!CHECK(vec_hex(t, "msg", &msg)) ||
				    !CHECK(vec_hex(t, "sig", &sig)))
					goto next;
				rv = rt_verify(h, &mhash, pub, msg.p, msg.len, sig.p, sig.len);
				record(&ch, t, rv == CKR_OK, rv, verify_rejected(rv));
				dg_len = rt_digest(hh, msg.p, msg.len, dg);
				if (CHECK(dg_len == hh->size)) {
					rv = rt_verify(h, &mraw, pub, dg, dg_len, sig.p, sig.len);
					record(&cd, t, rv == CKR_OK, rv, verify_rejected(rv));
				}
			next:
				vec_bytes_free(&msg);
				vec_bytes_free(&sig);
			}
			(void)P11->C_DestroyObject(h, pub);
		}
		rt_key_free(&k);
	}
	counts_report(&ch, vec_int(root, "numberOfTests"));
	counts_report(&cd, vec_int(root, "numberOfTests"));
}

/* C_UnwrapKey of ct under uk into an extractable generic secret, whose
 * CKA_VALUE comes back in val (RT_BUF bytes of room). */
static CK_RV unwrap_value(CK_SESSION_HANDLE h, const CK_MECHANISM *m, CK_OBJECT_HANDLE uk,
                          const vec_bytes *ct, CK_BYTE *val, CK_ULONG *val_len)
{
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE kt = CKK_GENERIC_SECRET;
	CK_ATTRIBUTE t[] = {
		CH_T_ULONG(CKA_CLASS, &cls),
		CH_T_ULONG(CKA_KEY_TYPE, &kt),
		CH_T_BOOL(CKA_EXTRACTABLE, true),
		CH_T_BOOL(CKA_SENSITIVE, false),
	};
	CK_OBJECT_HANDLE o = CK_INVALID_HANDLE;
	CK_RV rv;

	rv = P11->C_UnwrapKey(h, (CK_MECHANISM_PTR)m, uk, ct->p, ct->len, t, CH_T_ARRAY_LEN(t), &o);
	if (rv != CKR_OK)
		return rv;
	*val_len = RT_BUF;
	rv = ch_t_get(h, o, CKA_VALUE, val, val_len);
	(void)P11->C_DestroyObject(h, o);
	return rv == CKR_OK ? CKR_OK : CKR_GENERAL_ERROR;
}

/* One decryption vector, through C_Decrypt with the CRT key and through
 * C_UnwrapKey with the key without CRT.  A valid vector whose plaintext is
 * empty makes no key: unwrapping it is CKR_WRAPPED_KEY_INVALID (counted). */
static void decrypt_one(CK_SESSION_HANDLE h, counts *cd, counts *cu, const json_t *t,
                        const CK_MECHANISM *m, CK_OBJECT_HANDLE priv, CK_OBJECT_HANDLE uk,
                        size_t k_bytes)
{
	vec_bytes msg = { NULL, 0 }, ct = { NULL, 0 };
	CK_BYTE pt[RT_BUF];
	CK_ULONG pt_len = sizeof(pt);
	bool ok, len_ok;
	CK_RV rv;

	if (!CHECK(vec_hex(t, "msg", &msg)) || !CHECK(vec_hex(t, "ct", &ct)))
		goto out;
	len_ok = ct.len == k_bytes;
	rv = rt_decrypt(h, m, priv, ct.p, ct.len, pt, &pt_len);
	ok = rv == CKR_OK && pt_len == msg.len && memcmp(pt, msg.p, msg.len) == 0;
	record(cd, t, ok, rv,
	       len_ok ? rv == CKR_ENCRYPTED_DATA_INVALID : rv == CKR_ENCRYPTED_DATA_LEN_RANGE);

	pt_len = sizeof(pt);
	rv = unwrap_value(h, m, uk, &ct, pt, &pt_len);
	if (msg.len == 0 && strcmp(vec_str(t, "result"), "valid") == 0) {
		cu->total++;
		if (CHECK_RV(rv, CKR_WRAPPED_KEY_INVALID))
			cu->empty++;
		else
			cu->bad++;
		goto out;
	}
	ok = rv == CKR_OK && pt_len == msg.len && memcmp(pt, msg.p, msg.len) == 0;
	record(cu, t, ok, rv,
	       len_ok ? rv == CKR_WRAPPED_KEY_INVALID : rv == CKR_WRAPPED_KEY_LEN_RANGE);
out:
	vec_bytes_free(&msg);
	vec_bytes_free(&ct);
}

/* rsa_oaep_* and rsa_pkcs1_{2048,3072,4096}: decryption and unwrapping. */
static void run_decrypt(CK_SESSION_HANDLE h, const char *file, const json_t *root, bool oaep)
{
	counts cd, cu;
	const json_t *g, *t;
	size_t gi, ti;

	counts_init(&cd, file, oaep ? "C_Decrypt CKM_RSA_PKCS_OAEP" : "C_Decrypt CKM_RSA_PKCS");
	counts_init(&cu, file, "C_UnwrapKey, key without CRT");
	json_array_foreach(json_object_get(root, "testGroups"), gi, g)
	{
		const rt_hash *hh = rt_hash_by_name(vec_str(g, "sha"));
		const rt_hash *mh = rt_hash_by_name(vec_str(g, "mgfSha"));
		CK_OBJECT_HANDLE priv = CK_INVALID_HANDLE;
		CK_OBJECT_HANDLE uk = CK_INVALID_HANDLE;
		size_t bits;
		rt_key k;

		if ((oaep && !CHECK(hh != NULL && mh != NULL)) ||
		    !CHECK(rt_key_from_json(json_object_get(g, "privateKey"), RT_PARTS, &k)))
			continue;
		bits = bits_of(&k.v[RT_N]);
		if (CHECK_RV(rt_create_private(h, &k, RT_PARTS, RT_CRYPT, &priv), CKR_OK) &&
		    CHECK_RV(rt_create_private(h, &k, 3, RT_WRAP, &uk), CKR_OK)) {
			json_array_foreach(json_object_get(g, "tests"), ti, t)
			{
				vec_bytes label = { NULL, 0 };
				CK_RSA_PKCS_OAEP_PARAMS p = { 0 };
				CK_MECHANISM m = { CKM_RSA_PKCS, NULL, 0 };
				CK_RV rv;

				if (oaep) {
					if (!CHECK(vec_hex(t, "label", &label)))
						continue;
					p.hashAlg = hh->mech;
					p.mgf = mh->mgf;
					p.source = CKZ_DATA_SPECIFIED;
					p.pSourceData = label.len > 0 ? label.p : NULL;
					p.ulSourceDataLen = label.len;
					m.mechanism = CKM_RSA_PKCS_OAEP;
					m.pParameter = &p;
					m.ulParameterLen = sizeof(p);
				}
				if (bits < 2048) {
					/* The token refuses the key: at init. */
					rv = P11->C_DecryptInit(h, &m, priv);
					if (CHECK_RV(rv, CKR_KEY_SIZE_RANGE)) {
						cd.small_key++;
						cu.small_key++;
						cd.total++;
						cu.total++;
					}
				} else {
					decrypt_one(h, &cd, &cu, t, &m, priv, uk, (bits + 7) / 8);
				}
				vec_bytes_free(&label);
			}
		}
		(void)P11->C_DestroyObject(h, priv);
		(void)P11->C_DestroyObject(h, uk);
		rt_key_free(&k);
	}
	if (cd.small_key > 0)
		printf("%s: %u vectors on keys below 2048 bits, refused at C_DecryptInit with "
		       "CKR_KEY_SIZE_RANGE\n",
		       file, cd.small_key);
	counts_report(&cd, vec_int(root, "numberOfTests"));
	counts_report(&cu, vec_int(root, "numberOfTests"));
}

static void run_file(CK_SESSION_HANDLE h, const struct vec_file *f)
{
	char rel[256];
	json_t *root;

	snprintf(rel, sizeof(rel), VEC_DIR "%s", f->name);
	if (!CHECK((root = vec_load(rel)) != NULL))
		return;
	switch (f->kind) {
	case K_PKCS1_VERIFY:
		run_pkcs1_verify(h, f->name, root);
		break;
	case K_PKCS1_SIGN:
		run_pkcs1_sign(h, f->name, root);
		break;
	case K_PSS_VERIFY:
		run_pss_verify(h, f->name, root);
		break;
	case K_OAEP:
		run_decrypt(h, f->name, root, true);
		break;
	case K_PKCS1_DECRYPT:
		run_decrypt(h, f->name, root, false);
		break;
	}
	json_decref(root);
}

/* Runs every file of one kind in a fresh token. */
static void run_kind(file_kind kind)
{
	CK_SESSION_HANDLE h = CK_INVALID_HANDLE;
	ch_t_env e;

	if (!CHECK(ch_t_setup(&e)))
		goto out;
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	for (size_t i = 0; i < FILES; i++)
		if (files[i].kind == kind)
			run_file(h, &files[i]);
out:
	ch_t_env_free(&e);
}

static void test_wycheproof_rsa_pkcs1_signatures_verify(void)
{
	run_kind(K_PKCS1_VERIFY);
}

static void test_wycheproof_rsa_pkcs1_signatures_are_byte_exact(void)
{
	run_kind(K_PKCS1_SIGN);
}

static void test_wycheproof_rsa_pss_signatures_verify(void)
{
	run_kind(K_PSS_VERIFY);
}

static void test_wycheproof_rsa_oaep_decrypts_and_unwraps(void)
{
	run_kind(K_OAEP);
}

static void test_wycheproof_rsa_pkcs1_decrypts_and_unwraps(void)
{
	run_kind(K_PKCS1_DECRYPT);
}

/* Every rsa_* file in the vector directory is one of the files above. */
static void test_wycheproof_every_rsa_file_is_covered(void)
{
	const char *dir = getenv("CH_TEST_VECTORS");
	char path[4096];
	struct dirent *de;
	DIR *d;
	size_t seen = 0;

	if (!CHECK(dir != NULL))
		return;
	snprintf(path, sizeof(path), "%s/" VEC_DIR, dir);
	if (!CHECK((d = opendir(path)) != NULL))
		return;
	while ((de = readdir(d)) != NULL) {
		bool known = false;

		if (strncmp(de->d_name, "rsa_", 4) != 0)
			continue;
		for (size_t i = 0; i < FILES; i++)
			known = known || strcmp(files[i].name, de->d_name) == 0;
		if (!known)
			fprintf(stderr, "%s is not covered\n", de->d_name);
		CHECK(known);
		seen++;
	}
	closedir(d);
	CHECK_UL(seen, FILES);
}

int main(void)
{
	test_wycheproof_every_rsa_file_is_covered();
	test_wycheproof_rsa_pkcs1_signatures_verify();
	test_wycheproof_rsa_pkcs1_signatures_are_byte_exact();
	test_wycheproof_rsa_pss_signatures_verify();
	test_wycheproof_rsa_oaep_decrypts_and_unwraps();
	test_wycheproof_rsa_pkcs1_decrypts_and_unwraps();
	return ch_test_done();
}
