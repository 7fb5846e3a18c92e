/*
 * Every Wycheproof elliptic-curve vector file in the shared set, against
 * the token:
 *   ecdsa_*_p1363_test.json   C_Verify with r || s, through the module
 *                             (public keys made with C_CreateObject), with
 *                             CKM_ECDSA_SHA* over the message and CKM_ECDSA
 *                             over the digest this test computes;
 *   ecdsa_*_test.json (DER)   the same after this test converts strict DER
 *                             to r || s (../shared/vectors/README.md); a
 *                             signature that is not strict DER, or whose r
 *                             or s does not fit the field, counts as
 *                             rejected;
 *   ed25519_test.json         CKM_EDDSA through the module;
 *   ecdh_*_ecpoint_test.json, ecdh_*_test.json, x25519_test.json
 *                             CKM_ECDH1_DERIVE through C_DeriveKey, private
 *                             keys made with C_CreateObject; the
 *                             SPKI files' point is taken out of the SPKI
 *                             with OpenSSL, and an SPKI that does not decode
 *                             or names another curve counts as rejected.
 * Valid vectors must succeed with the exact output, invalid ones must fail
 * (with the operation's failure codes, not any error), acceptable ones are
 * counted by outcome.  Each file prints its counts.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "module.h"
#include "vectors.h"

#define VDIR "wycheproof/testvectors_v1/"

static const CK_BYTE oid_p256[] = { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 };
static const CK_BYTE oid_p384[] = { 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22 };
static const CK_BYTE oid_p521[] = { 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23 };
static const CK_BYTE oid_k256[] = { 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a };
static const CK_BYTE oid_ed25519[] = { 0x06, 0x03, 0x2b, 0x65, 0x70 };
static const CK_BYTE oid_x25519[] = { 0x06, 0x03, 0x2b, 0x65, 0x6e };
static const CK_BYTE name_ed25519[] = { 0x13, 0x0c, 'e', 'd', 'w', 'a', 'r',
	                                'd',  's',  '2', '5', '5', '1', '9' };
static const CK_BYTE name_x25519[] = {
	0x13, 0x0a, 'c', 'u', 'r', 'v', 'e', '2', '5', '5', '1', '9'
};

/* The curves of the vector files, by Wycheproof's name. */
typedef struct tcurve {
	const char *name; /* Wycheproof */
	const char *ossl; /* OpenSSL's group name of a decoded key */
	const CK_BYTE *oid;
	size_t oid_len;
	size_t fb; /* field (scalar, r, s) bytes */
} tcurve;

static const tcurve tcurves[] = {
	{ "secp256r1", "prime256v1", oid_p256, sizeof(oid_p256), 32 },
	{ "secp384r1", "secp384r1", oid_p384, sizeof(oid_p384), 48 },
	{ "secp521r1", "secp521r1", oid_p521, sizeof(oid_p521), 66 },
	{ "secp256k1", "secp256k1", oid_k256, sizeof(oid_k256), 32 },
};

static const tcurve *tcurve_find(const char *name)
{
	for (size_t i = 0; i < CH_T_ARRAY_LEN(tcurves); i++)
		if (strcmp(tcurves[i].name, name) == 0)
			return &tcurves[i];
	return NULL;
}

static CK_SESSION_HANDLE sess = CK_INVALID_HANDLE;

/* What a file's vectors did. */
typedef struct counts {
	unsigned valid_ok, invalid_rejected, acc_ok, acc_rejected, wrong;
} counts;

/* Counts one vector that the token accepted (ok) or refused. */
static void tally(counts *c, const json_t *t, bool ok, const char *what)
{
	const char *result = vec_str(t, "result");
	bool fine = true;

	if (strcmp(result, "valid") == 0) {
		fine = ok;
		c->valid_ok += ok;
	} else if (strcmp(result, "invalid") == 0) {
		fine = !ok;
		c->invalid_rejected += !ok;
	} else if (ok) {
		c->acc_ok++;
	} else {
		c->acc_rejected++;
	}
	if (!CHECK(fine)) {
		c->wrong++;
		fprintf(stderr, "\ttcId %lld (%s, %s): %s %s\n", vec_int(t, "tcId"), result,
		        vec_str(t, "comment"), what, ok ? "accepted" : "rejected");
	}
}

static void report(const char *file, const json_t *root, const counts *c)
{
	unsigned n = c->valid_ok + c->invalid_rejected + c->acc_ok + c->acc_rejected + c->wrong;

	printf("%s: %lld vectors: %u valid ok, %u invalid rejected, %u acceptable (%u accepted, "
	       "%u rejected), %u wrong\n",
	       file, vec_int(root, "numberOfTests"), c->valid_ok, c->invalid_rejected,
	       c->acc_ok + c->acc_rejected, c->acc_ok, c->acc_rejected, c->wrong);
	CHECK_UL(n, vec_int(root, "numberOfTests"));
	CHECK(c->valid_ok > 0);
}

/* Wraps v in a DER OCTET STRING into out (len + 4 bytes). */
static size_t der_wrap(const CK_BYTE *v, size_t len, CK_BYTE *out)
{
	size_t h = 0;

	out[h++] = 0x04;
	if (len < 0x80) {
		out[h++] = (CK_BYTE)len;
	} else if (len < 0x100) {
		out[h++] = 0x81;
		out[h++] = (CK_BYTE)len;
	} else {
		out[h++] = 0x82;
		out[h++] = (CK_BYTE)(len >> 8);
		out[h++] = (CK_BYTE)len;
	}
	memcpy(out + h, v, len);
	return h + len;
}

/* A session public key of type kt for verification, its point given bare
 * or DER-wrapped. */
static CK_RV create_public(CK_KEY_TYPE kt, const CK_BYTE *params, size_t plen, const vec_bytes *pt,
                           bool wrap, CK_OBJECT_HANDLE *o)
{
	CK_OBJECT_CLASS cls = CKO_PUBLIC_KEY;
	CK_BYTE der[300];
	size_t n = pt->len;
	CK_ATTRIBUTE t[] = {
		CH_T_ULONG(CKA_CLASS, &cls),
		CH_T_ULONG(CKA_KEY_TYPE, &kt),
		CH_T_BOOL(CKA_TOKEN, false),
		CH_T_BOOL(CKA_VERIFY, true),
		CH_T_ATTR(CKA_EC_PARAMS, params, plen),
		CH_T_ATTR(CKA_EC_POINT, pt->p, pt->len),
	};

	if (wrap && pt->len + 4 <= sizeof(der)) {
		n = der_wrap(pt->p, pt->len, der);
		t[5].pValue = der;
		t[5].ulValueLen = n;
	}
	return P11->C_CreateObject(sess, t, CH_T_ARRAY_LEN(t), o);
}

/* C_Verify, or (parts) C_VerifyUpdate in two halves and C_VerifyFinal.
 * Returns the verdict's code. */
static CK_RV verify(CK_MECHANISM_TYPE mech, CK_OBJECT_HANDLE key, const CK_BYTE *msg, size_t len,
                    const CK_BYTE *sig, size_t sig_len, bool parts)
{
	CK_MECHANISM m = { mech, NULL, 0 };
	CK_RV rv;

	if ((rv = P11->C_VerifyInit(sess, &m, key)) != CKR_OK)
		return rv;
	if (!parts)
		return P11->C_Verify(sess, (CK_BYTE_PTR)msg, len, (CK_BYTE_PTR)sig, sig_len);
	if ((rv = P11->C_VerifyUpdate(sess, (CK_BYTE_PTR)msg, len / 2)) != CKR_OK ||
	    (rv = P11->C_VerifyUpdate(sess, (CK_BYTE_PTR)msg + len / 2, len - len / 2)) != CKR_OK)
		return rv;
	return P11->C_VerifyFinal(sess, (CK_BYTE_PTR)sig, sig_len);
}

/* True for the codes a refused signature may get; anything else (a
 * general error, an argument error) is a failure of the test. */
static bool sig_refused(CK_RV rv)
{
	return rv == CKR_SIGNATURE_INVALID || rv == CKR_SIGNATURE_LEN_RANGE;
}

/* Reads one DER length at *pos (definite, minimal).  False when
 * malformed or running past n. */
static bool der_len(const CK_BYTE *p, size_t n, size_t *pos, size_t *len)
{
	CK_BYTE b;

	if (*pos >= n)
		return false;
	b = p[(*pos)++];
	if (b < 0x80) {
		*len = b;
	} else if (b == 0x81) {
		if (*pos >= n || p[*pos] < 0x80)
			return false;
		*len = p[(*pos)++];
	} else {
		return false; /* no signature here needs more */
	}
	return *len <= n - *pos;
}

/* Reads one non-negative, minimally encoded INTEGER at *pos into out
 * (left-padded to fb bytes).  False when malformed or too big. */
static bool der_uint(const CK_BYTE *p, size_t n, size_t *pos, size_t fb, CK_BYTE *out)
{
	size_t len;
	const CK_BYTE *v;

	if (*pos >= n || p[(*pos)++] != 0x02 || !der_len(p, n, pos, &len) || len == 0)
		return false;
	v = p + *pos;
	*pos += len;
	if (v[0] & 0x80)
		return false; /* negative */
	if (len > 1 && v[0] == 0 && !(v[1] & 0x80))
		return false; /* a zero byte too many */
	if (v[0] == 0 && len > 1) {
		v++;
		len--;
	}
	if (len > fb)
		return false;
	memset(out, 0, fb - len);
	memcpy(out + fb - len, v, len);
	return true;
}

/* Strict DER ECDSA-Sig-Value to r || s (2 fb bytes).  False when the
 * encoding is not strict DER or r, s do not fit. */
static bool der_to_p1363(const vec_bytes *sig, size_t fb, CK_BYTE *rs)
{
	size_t pos = 0, len;

	if (sig->len < 2 || sig->p[pos++] != 0x30 || !der_len(sig->p, sig->len, &pos, &len) ||
	    pos + len != sig->len)
		return false;
	return der_uint(sig->p, sig->len, &pos, fb, rs) &&
	       der_uint(sig->p, sig->len, &pos, fb, rs + fb) && pos == sig->len;
}

/* The CKM_ECDSA_* of a Wycheproof hash name, and its OpenSSL name. */
static CK_MECHANISM_TYPE ecdsa_mech(const char *sha, const char **md)
{
	static const struct {
		const char *sha, *md;
		CK_MECHANISM_TYPE mech;
	} map[] = {
		{ "SHA-1", "SHA1", CKM_ECDSA_SHA1 },
		{ "SHA-224", "SHA224", CKM_ECDSA_SHA224 },
		{ "SHA-256", "SHA256", CKM_ECDSA_SHA256 },
		{ "SHA-384", "SHA384", CKM_ECDSA_SHA384 },
		{ "SHA-512", "SHA512", CKM_ECDSA_SHA512 },
		{ "SHA3-224", "SHA3-224", CKM_ECDSA_SHA3_224 },
		{ "SHA3-256", "SHA3-256", CKM_ECDSA_SHA3_256 },
		{ "SHA3-384", "SHA3-384", CKM_ECDSA_SHA3_384 },
		{ "SHA3-512", "SHA3-512", CKM_ECDSA_SHA3_512 },
	};

	for (size_t i = 0; i < CH_T_ARRAY_LEN(map); i++) {
		if (strcmp(map[i].sha, sha) == 0) {
			*md = map[i].md;
			return map[i].mech;
		}
	}
	*md = NULL;
	return CK_UNAVAILABLE_INFORMATION;
}

/* One ECDSA file; p1363 tells the signature format. */
static void ecdsa_file(const char *file, bool p1363)
{
	char path[256];
	json_t *root;
	const json_t *groups, *g, *pk, *tests, *t;
	const tcurve *c;
	counts cnt = { 0 };
	vec_bytes pt = { 0 }, msg = { 0 }, sig = { 0 };
	CK_OBJECT_HANDLE key;
	CK_MECHANISM_TYPE mech;
	CK_BYTE rs[132], h[64];
	unsigned int hlen;
	const char *md;
	size_t i, j;

	snprintf(path, sizeof(path), VDIR "%s", file);
	if (!CHECK((root = vec_load(path)) != NULL))
		return;
	groups = json_object_get(root, "testGroups");
	for (i = 0; i < json_array_size(groups); i++) {
		g = json_array_get(groups, i);
		pk = json_object_get(g, "publicKey");
		c = tcurve_find(vec_str(pk, "curve"));
		mech = ecdsa_mech(vec_str(g, "sha"), &md);
		if (!CHECK(c != NULL && md != NULL) || !CHECK(vec_hex(pk, "uncompressed", &pt)))
			continue;
		/* Alternate the two CKA_EC_POINT forms. */
		if (!CHECK_RV(create_public(CKK_EC, c->oid, c->oid_len, &pt, i % 2 == 0, &key),
		              CKR_OK)) {
			vec_bytes_free(&pt);
			continue;
		}
		vec_bytes_free(&pt);
		tests = json_object_get(g, "tests");
		for (j = 0; j < json_array_size(tests); j++) {
			t = json_array_get(tests, j);
			CK_RV rv, rv2 = CKR_SIGNATURE_INVALID;
			bool valid = strcmp(vec_str(t, "result"), "valid") == 0;

			if (!CHECK(vec_hex(t, "msg", &msg) && vec_hex(t, "sig", &sig)))
				goto next;
			if (p1363) {
				rv = verify(mech, key, msg.p, msg.len, sig.p, sig.len, false);
				/* The same through CKM_ECDSA over our digest. */
				if (CHECK(EVP_Digest(msg.p, msg.len, h, &hlen,
				                     EVP_get_digestbyname(md), NULL) == 1))
					rv2 = verify(CKM_ECDSA, key, h, hlen, sig.p, sig.len,
					             false);
				if (!CHECK_RV(rv2, rv))
					fprintf(stderr, "\ttcId %lld: CKM_ECDSA and %s disagree\n",
					        vec_int(t, "tcId"), vec_str(g, "sha"));
			} else if (der_to_p1363(&sig, c->fb, rs)) {
				rv = verify(mech, key, msg.p, msg.len, rs, 2 * c->fb, false);
			} else {
				rv = CKR_SIGNATURE_INVALID; /* the harness refused the DER */
			}
			if (rv != CKR_OK && !sig_refused(rv))
				fprintf(stderr, "\ttcId %lld: C_Verify answered %s\n",
				        vec_int(t, "tcId"), ch_test_rv_name(rv));
			tally(&cnt, t, rv == CKR_OK, "C_Verify");
			/* Valid ones verify in parts too. */
			if (valid && p1363)
				CHECK_RV(verify(mech, key, msg.p, msg.len, sig.p, sig.len, true),
				         CKR_OK);
			if (!valid)
				CHECK(rv != CKR_OK && sig_refused(rv));
		next:
			vec_bytes_free(&msg);
			vec_bytes_free(&sig);
		}
		CHECK_RV(P11->C_DestroyObject(sess, key), CKR_OK);
	}
	report(file, root, &cnt);
	json_decref(root);
}

static void test_wycheproof_ecdsa_p1363(void)
{
	static const char *const files[] = {
		"ecdsa_secp256r1_sha256_p1363_test.json", "ecdsa_secp256r1_sha512_p1363_test.json",
		"ecdsa_secp384r1_sha384_p1363_test.json", "ecdsa_secp384r1_sha512_p1363_test.json",
		"ecdsa_secp521r1_sha512_p1363_test.json", "ecdsa_secp256k1_sha256_p1363_test.json",
		"ecdsa_secp256k1_sha512_p1363_test.json",
	};

	for (size_t i = 0; i < CH_T_ARRAY_LEN(files); i++)
		ecdsa_file(files[i], true);
}

static void test_wycheproof_ecdsa_der(void)
{
	static const char *const files[] = {
		"ecdsa_secp256r1_sha256_test.json", "ecdsa_secp256r1_sha512_test.json",
		"ecdsa_secp384r1_sha256_test.json", "ecdsa_secp384r1_sha384_test.json",
		"ecdsa_secp384r1_sha512_test.json", "ecdsa_secp521r1_sha512_test.json",
		"ecdsa_secp256k1_sha256_test.json", "ecdsa_secp256k1_sha512_test.json",
	};

	for (size_t i = 0; i < CH_T_ARRAY_LEN(files); i++)
		ecdsa_file(files[i], false);
}

static void test_wycheproof_ed25519(void)
{
	const char *file = "ed25519_test.json";
	json_t *root = vec_load(VDIR "ed25519_test.json");
	const json_t *groups, *g, *tests, *t;
	counts cnt = { 0 };
	vec_bytes pk = { 0 }, msg = { 0 }, sig = { 0 };
	CK_OBJECT_HANDLE key;
	size_t i, j;
	CK_RV rv;

	if (!CHECK(root != NULL))
		return;
	groups = json_object_get(root, "testGroups");
	for (i = 0; i < json_array_size(groups); i++) {
		g = json_array_get(groups, i);
		if (!CHECK(strcmp(vec_str(json_object_get(g, "publicKey"), "curve"),
		                  "edwards25519") == 0) ||
		    !CHECK(vec_hex(json_object_get(g, "publicKey"), "pk", &pk)))
			continue;
		/* Alternate OID / curveName and bare / wrapped points. */
		rv = i % 2 == 0 ? create_public(CKK_EC_EDWARDS, oid_ed25519, sizeof(oid_ed25519),
		                                &pk, i % 4 == 0, &key)
		                : create_public(CKK_EC_EDWARDS, name_ed25519, sizeof(name_ed25519),
		                                &pk, i % 4 == 1, &key);
		vec_bytes_free(&pk);
		if (!CHECK_RV(rv, CKR_OK))
			continue;
		tests = json_object_get(g, "tests");
		for (j = 0; j < json_array_size(tests); j++) {
			t = json_array_get(tests, j);
			if (!CHECK(vec_hex(t, "msg", &msg) && vec_hex(t, "sig", &sig)))
				goto next;
			rv = verify(CKM_EDDSA, key, msg.p, msg.len, sig.p, sig.len, false);
			if (rv != CKR_OK && !sig_refused(rv))
				fprintf(stderr, "\ttcId %lld: C_Verify answered %s\n",
				        vec_int(t, "tcId"), ch_test_rv_name(rv));
			tally(&cnt, t, rv == CKR_OK, "C_Verify");
			if (rv != CKR_OK)
				CHECK(sig_refused(rv));
			/* The multi-part path must agree. */
			CHECK_RV(verify(CKM_EDDSA, key, msg.p, msg.len, sig.p, sig.len, true), rv);
		next:
			vec_bytes_free(&msg);
			vec_bytes_free(&sig);
		}
		CHECK_RV(P11->C_DestroyObject(sess, key), CKR_OK);
	}
	report(file, root, &cnt);
	json_decref(root);
}

/* A session private key for ECDH: value v, left-padded (or stripped of
 * leading zeros) to fb bytes.  CKR_ARGUMENTS_BAD when it does not fit. */
static CK_RV ecdh_base(CK_KEY_TYPE kt, const CK_BYTE *params, size_t plen, const vec_bytes *v,
                       size_t fb, CK_OBJECT_HANDLE *o)
{
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_BYTE d[66] = { 0 };
	size_t off = 0;
	CK_ATTRIBUTE t[] = {
		CH_T_ULONG(CKA_CLASS, &cls),
		CH_T_ULONG(CKA_KEY_TYPE, &kt),
		CH_T_BOOL(CKA_TOKEN, false),
		CH_T_BOOL(CKA_DERIVE, true),
		CH_T_ATTR(CKA_EC_PARAMS, params, plen),
		CH_T_ATTR(CKA_VALUE, d, fb),
	};

	while (v->len - off > fb && v->p[off] == 0)
		off++;
	if (v->len - off > fb || fb > sizeof(d))
		return CKR_ARGUMENTS_BAD;
	memcpy(d + fb - (v->len - off), v->p + off, v->len - off);
	return P11->C_CreateObject(sess, t, CH_T_ARRAY_LEN(t), o);
}

/* C_DeriveKey with CKM_ECDH1_DERIVE and CKD_NULL into an extractable
 * generic secret of len bytes; *ok when its CKA_VALUE is exactly want.
 * Returns C_DeriveKey's code. */
static CK_RV ecdh_run(CK_OBJECT_HANDLE base, const CK_BYTE *pub, size_t pub_len, size_t len,
                      const vec_bytes *want, bool *ok)
{
	CK_ECDH1_DERIVE_PARAMS p = { CKD_NULL, 0, NULL, (CK_ULONG)pub_len, (CK_BYTE_PTR)pub };
	CK_MECHANISM m = { CKM_ECDH1_DERIVE, &p, sizeof(p) };
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE kt = CKK_GENERIC_SECRET;
	CK_ULONG vlen = len, n;
	CK_ATTRIBUTE t[] = {
		CH_T_ULONG(CKA_CLASS, &cls),      CH_T_ULONG(CKA_KEY_TYPE, &kt),
		CH_T_ULONG(CKA_VALUE_LEN, &vlen), CH_T_BOOL(CKA_TOKEN, false),
		CH_T_BOOL(CKA_SENSITIVE, false),  CH_T_BOOL(CKA_EXTRACTABLE, true),
	};
	CK_OBJECT_HANDLE key = CK_INVALID_HANDLE;
	CK_BYTE v[128];
	CK_RV rv;

	*ok = false;
	if ((rv = P11->C_DeriveKey(sess, &m, base, t, CH_T_ARRAY_LEN(t), &key)) != CKR_OK)
		return rv;
	n = sizeof(v);
	if (CHECK_RV(ch_t_get(sess, key, CKA_VALUE, v, &n), CKR_OK)) {
		*ok = n == want->len && memcmp(v, want->p, n) == 0;
		if (!*ok)
			fprintf(stderr, "\tderived a different secret\n");
	}
	CHECK_RV(P11->C_DestroyObject(sess, key), CKR_OK);
	return rv;
}

/* The point of an SPKI, into pt (*pt_len in: room; out: length), when it
 * decodes and names curve c.  False otherwise (the harness rejects it). */
static bool spki_point(const vec_bytes *spki, const tcurve *c, CK_BYTE *pt, size_t *pt_len)
{
	const unsigned char *p = spki->p;
	EVP_PKEY *pkey = d2i_PUBKEY(NULL, &p, (long)spki->len);
	char group[64];
	bool ok = false;

	if (pkey == NULL || p != spki->p + spki->len || !EVP_PKEY_is_a(pkey, "EC"))
		goto out;
	/* A named curve, and the private key's: OpenSSL names explicit
	 * parameters after the curve they resemble, cofactor or not. */
	if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_EC_ENCODING, group, sizeof(group),
	                                   NULL) != 1 ||
	    strcmp(group, OSSL_PKEY_EC_ENCODING_GROUP) != 0)
		goto out;
	if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
	                                   NULL) != 1 ||
	    strcmp(group, c->ossl) != 0)
		goto out;
	ok = EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pt, *pt_len,
	                                     pt_len) == 1;
out:
	EVP_PKEY_free(pkey);
	return ok;
}

/* One ECDH file (ecpoint or SPKI public keys) on a prime curve. */
static void ecdh_file(const char *file)
{
	char path[256];
	json_t *root;
	const json_t *groups, *g, *tests, *t;
	const tcurve *c;
	counts cnt = { 0 };
	vec_bytes pub = { 0 }, priv = { 0 }, shared = { 0 };
	CK_BYTE pt[300];
	size_t pt_len, i, j;
	CK_OBJECT_HANDLE base;
	bool asn, ok;
	CK_RV rv;

	snprintf(path, sizeof(path), VDIR "%s", file);
	if (!CHECK((root = vec_load(path)) != NULL))
		return;
	groups = json_object_get(root, "testGroups");
	for (i = 0; i < json_array_size(groups); i++) {
		g = json_array_get(groups, i);
		c = tcurve_find(vec_str(g, "curve"));
		asn = strcmp(vec_str(g, "encoding"), "asn") == 0;
		if (!CHECK(c != NULL) ||
		    !CHECK(asn || strcmp(vec_str(g, "encoding"), "ecpoint") == 0))
			continue;
		tests = json_object_get(g, "tests");
		for (j = 0; j < json_array_size(tests); j++) {
			t = json_array_get(tests, j);
			ok = false;
			base = CK_INVALID_HANDLE;
			if (!CHECK(vec_hex(t, "public", &pub) && vec_hex(t, "private", &priv) &&
			           vec_hex(t, "shared", &shared)))
				goto next;
			if (!CHECK_RV(ecdh_base(CKK_EC, c->oid, c->oid_len, &priv, c->fb, &base),
			              CKR_OK))
				goto next;
			pt_len = sizeof(pt);
			if (asn) {
				if (!spki_point(&pub, c, pt, &pt_len))
					goto count; /* rejected by the harness */
			} else if (j % 2 == 0 || pub.len + 4 > sizeof(pt)) {
				memcpy(pt, pub.p, pub.len < sizeof(pt) ? pub.len : sizeof(pt));
				pt_len = pub.len < sizeof(pt) ? pub.len : sizeof(pt);
			} else {
				pt_len = der_wrap(pub.p, pub.len, pt);
			}
			rv = ecdh_run(base, pt, pt_len, c->fb, &shared, &ok);
			if (rv != CKR_OK && rv != CKR_MECHANISM_PARAM_INVALID) {
				fprintf(stderr, "\ttcId %lld: derive answered %s\n",
				        vec_int(t, "tcId"), ch_test_rv_name(rv));
				CHECK(!"a bad point is CKR_MECHANISM_PARAM_INVALID");
			}
		count:
			tally(&cnt, t, ok, "derive");
		next:
			if (base != CK_INVALID_HANDLE)
				CHECK_RV(P11->C_DestroyObject(sess, base), CKR_OK);
			vec_bytes_free(&pub);
			vec_bytes_free(&priv);
			vec_bytes_free(&shared);
		}
	}
	report(file, root, &cnt);
	json_decref(root);
}

static void test_wycheproof_ecdh(void)
{
	static const char *const files[] = {
		"ecdh_secp256r1_ecpoint_test.json", "ecdh_secp384r1_ecpoint_test.json",
		"ecdh_secp521r1_ecpoint_test.json", "ecdh_secp256r1_test.json",
		"ecdh_secp384r1_test.json",         "ecdh_secp521r1_test.json",
	};

	for (size_t i = 0; i < CH_T_ARRAY_LEN(files); i++)
		ecdh_file(files[i]);
}

static void test_wycheproof_x25519(void)
{
	const char *file = "x25519_test.json";
	json_t *root = vec_load(VDIR "x25519_test.json");
	const json_t *groups, *g, *tests, *t;
	counts cnt = { 0 };
	vec_bytes pub = { 0 }, priv = { 0 }, shared = { 0 };
	CK_BYTE pt[40];
	size_t pt_len, i, j;
	CK_OBJECT_HANDLE base;
	bool ok;
	CK_RV rv;

	if (!CHECK(root != NULL))
		return;
	groups = json_object_get(root, "testGroups");
	for (i = 0; i < json_array_size(groups); i++) {
		g = json_array_get(groups, i);
		if (!CHECK(strcmp(vec_str(g, "curve"), "curve25519") == 0))
			continue;
		tests = json_object_get(g, "tests");
		for (j = 0; j < json_array_size(tests); j++) {
			t = json_array_get(tests, j);
			ok = false;
			base = CK_INVALID_HANDLE;
			if (!CHECK(vec_hex(t, "public", &pub) && vec_hex(t, "private", &priv) &&
			           vec_hex(t, "shared", &shared)) ||
			    !CHECK(pub.len == 32 && priv.len == 32))
				goto next;
			/* Alternate OID / curveName, bare / wrapped public data. */
			rv = j % 2 == 0 ? ecdh_base(CKK_EC_MONTGOMERY, oid_x25519,
			                            sizeof(oid_x25519), &priv, 32, &base)
			                : ecdh_base(CKK_EC_MONTGOMERY, name_x25519,
			                            sizeof(name_x25519), &priv, 32, &base);
			if (!CHECK_RV(rv, CKR_OK))
				goto next;
			if (j % 4 < 2) {
				memcpy(pt, pub.p, 32);
				pt_len = 32;
			} else {
				pt_len = der_wrap(pub.p, 32, pt);
			}
			rv = ecdh_run(base, pt, pt_len, 32, &shared, &ok);
			if (rv != CKR_OK && rv != CKR_MECHANISM_PARAM_INVALID) {
				fprintf(stderr, "\ttcId %lld: derive answered %s\n",
				        vec_int(t, "tcId"), ch_test_rv_name(rv));
				CHECK(!"a bad point is CKR_MECHANISM_PARAM_INVALID");
			}
			tally(&cnt, t, ok, "derive");
		next:
			if (base != CK_INVALID_HANDLE)
				CHECK_RV(P11->C_DestroyObject(sess, base), CKR_OK);
			vec_bytes_free(&pub);
			vec_bytes_free(&priv);
			vec_bytes_free(&shared);
		}
	}
	report(file, root, &cnt);
	json_decref(root);
}

/* Every ecdsa_*, ecdh_*, ed*, x25519* and x448* file in the vector
 * directory is one of those run above. */
static void test_wycheproof_every_ec_file_covered(void)
{
	static const char *const covered[] = {
		"ecdsa_secp256r1_sha256_p1363_test.json",
		"ecdsa_secp256r1_sha512_p1363_test.json",
		"ecdsa_secp384r1_sha384_p1363_test.json",
		"ecdsa_secp384r1_sha512_p1363_test.json",
		"ecdsa_secp521r1_sha512_p1363_test.json",
		"ecdsa_secp256k1_sha256_p1363_test.json",
		"ecdsa_secp256k1_sha512_p1363_test.json",
		"ecdsa_secp256r1_sha256_test.json",
		"ecdsa_secp256r1_sha512_test.json",
		"ecdsa_secp384r1_sha256_test.json",
		"ecdsa_secp384r1_sha384_test.json",
		"ecdsa_secp384r1_sha512_test.json",
		"ecdsa_secp521r1_sha512_test.json",
		"ecdsa_secp256k1_sha256_test.json",
		"ecdsa_secp256k1_sha512_test.json",
		"ed25519_test.json",
		"ecdh_secp256r1_ecpoint_test.json",
		"ecdh_secp384r1_ecpoint_test.json",
		"ecdh_secp521r1_ecpoint_test.json",
		"ecdh_secp256r1_test.json",
		"ecdh_secp384r1_test.json",
		"ecdh_secp521r1_test.json",
		"x25519_test.json",
	};
	const char *dir = getenv("CH_TEST_VECTORS");
	char path[4096];
	FILE *ls;
	char name[256];
	unsigned seen = 0;

	if (!CHECK(dir != NULL))
		return;
	snprintf(path, sizeof(path), "ls '%s/" VDIR "'", dir);
	if (!CHECK((ls = popen(path, "r")) != NULL))
		return;
	while (fgets(name, sizeof(name), ls) != NULL) {
		bool ours, found = false;

		name[strcspn(name, "\n")] = '\0';
		ours = strncmp(name, "ecdsa_", 6) == 0 || strncmp(name, "ecdh_", 5) == 0 ||
		       strncmp(name, "ed", 2) == 0 || strncmp(name, "x25519", 6) == 0 ||
		       strncmp(name, "x448", 4) == 0;
		if (!ours)
			continue;
		for (size_t i = 0; i < CH_T_ARRAY_LEN(covered); i++)
			found |= strcmp(covered[i], name) == 0;
		if (!CHECK(found))
			fprintf(stderr, "\t%s is not covered\n", name);
		seen++;
	}
	pclose(ls);
	CHECK_UL(seen, CH_T_ARRAY_LEN(covered));
}

int main(void)
{
	ch_t_env env;

	if (CHECK(ch_t_setup(&env)) && CHECK_RV(ch_t_user_session(&env, true, &sess), CKR_OK)) {
		test_wycheproof_every_ec_file_covered();
		test_wycheproof_ecdsa_p1363();
		test_wycheproof_ecdsa_der();
		test_wycheproof_ed25519();
		test_wycheproof_ecdh();
		test_wycheproof_x25519();
	}
	ch_t_env_free(&env);
	return ch_test_done();
}
