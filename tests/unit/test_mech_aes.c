/*
 * The mechanism registry (token/mech.c) and the AES family
 * (token/mech_aes.c), driven through token/mech.h: CKM_AES_KEY_GEN,
 * CKM_AES_GCM against Wycheproof's aes_gcm_test.json, the buffer convention,
 * parameter and key checks, and C_GenerateRandom's source.
 */
#include <stdlib.h>
#include <string.h>

#include "attrs.h"
#include "check.h"
#include "mech.h"
#include "vectors.h"

/* An AES secret key object with value v and the given usage. */
static ch_attrs *aes_key_usage(const CK_BYTE *v, CK_ULONG len, bool enc, bool dec)
{
	ch_attrs *a = ch_attrs_new();

	if (a == NULL || ch_attrs_set_ulong(a, CKA_CLASS, CKO_SECRET_KEY) != CKR_OK ||
	    ch_attrs_set_ulong(a, CKA_KEY_TYPE, CKK_AES) != CKR_OK ||
	    ch_attrs_set(a, CKA_VALUE, v, len) != CKR_OK ||
	    ch_attrs_set_bool(a, CKA_ENCRYPT, enc) != CKR_OK ||
	    ch_attrs_set_bool(a, CKA_DECRYPT, dec) != CKR_OK) {
		ch_attrs_free(a);
		return NULL;
	}
	return a;
}

static ch_attrs *aes_key(const CK_BYTE *v, CK_ULONG len)
{
	return aes_key_usage(v, len, true, true);
}

/* Fills p and m for CKM_AES_GCM. */
static void gcm_mech(CK_MECHANISM *m, CK_GCM_PARAMS *p, const CK_BYTE *iv, CK_ULONG iv_len,
                     const CK_BYTE *aad, CK_ULONG aad_len, CK_ULONG tag_bits)
{
	memset(p, 0, sizeof(*p));
	p->pIv = (CK_BYTE *)iv;
	p->ulIvLen = iv_len;
	p->ulIvBits = iv_len * 8;
	p->pAAD = (CK_BYTE *)aad;
	p->ulAADLen = aad_len;
	p->ulTagBits = tag_bits;
	m->mechanism = CKM_AES_GCM;
	m->pParameter = p;
	m->ulParameterLen = sizeof(*p);
}

/* Init + one-shot call + free. */
static CK_RV run_oneshot(ch_op_kind kind, const CK_MECHANISM *m, const ch_attrs *key,
                         const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out, CK_ULONG *out_len)
{
	ch_op *op = NULL;
	CK_RV rv;

	if ((rv = ch_op_init(kind, m, key, &op)) == CKR_OK)
		rv = ch_op_oneshot(op, in, in_len, out, out_len);
	ch_op_free(op);
	return rv;
}

/* Init + updates of chunk bytes + final, output concatenated into out
 * (cap bytes).  Each update and the final are given the room left. */
static CK_RV run_parts(ch_op_kind kind, const CK_MECHANISM *m, const ch_attrs *key,
                       const CK_BYTE *in, CK_ULONG in_len, size_t chunk, CK_BYTE *out, CK_ULONG cap,
                       CK_ULONG *out_len)
{
	ch_op *op = NULL;
	CK_ULONG done = 0, got = 0, n, room;
	CK_RV rv;

	if ((rv = ch_op_init(kind, m, key, &op)) != CKR_OK)
		goto out;
	while (done < in_len) {
		n = in_len - done < chunk ? in_len - done : chunk;
		room = cap - got;
		if ((rv = ch_op_update(op, in + done, n, out + got, &room)) != CKR_OK)
			goto out;
		got += room;
		done += n;
	}
	room = cap - got;
	if ((rv = ch_op_final(op, out + got, &room)) != CKR_OK)
		goto out;
	*out_len = got + room;
out:
	ch_op_free(op);
	return rv;
}

static bool all_zero(const CK_BYTE *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] != 0)
			return false;
	return true;
}

static void test_registry_lists_and_describes_mechanisms(void)
{
	CK_MECHANISM_INFO info;
	CK_KEY_TYPE kt = 0;
	CK_ULONG i, n = ch_mech_count();
	bool seen_gcm = false, seen_gen = false;

	CHECK(n >= 5);
	for (i = 0; i < n; i++) {
		CHECK_RV(ch_mech_info(ch_mech_type_at(i), &info), CKR_OK);
		seen_gcm |= ch_mech_type_at(i) == CKM_AES_GCM;
		seen_gen |= ch_mech_type_at(i) == CKM_AES_KEY_GEN;
	}
	CHECK(seen_gcm && seen_gen);

	CHECK_RV(ch_mech_info(CKM_AES_GCM, &info), CKR_OK);
	CHECK_UL(info.ulMinKeySize, 16);
	CHECK_UL(info.ulMaxKeySize, 32);
	CHECK_UL(info.flags, CKF_ENCRYPT | CKF_DECRYPT | CKF_WRAP | CKF_UNWRAP |
	                             CKF_MESSAGE_ENCRYPT | CKF_MESSAGE_DECRYPT);
	CHECK_RV(ch_mech_info(CKM_AES_KEY_GEN, &info), CKR_OK);
	CHECK_UL(info.ulMinKeySize, 16);
	CHECK_UL(info.ulMaxKeySize, 32);
	CHECK_UL(info.flags, CKF_GENERATE);
	CHECK_RV(ch_mech_info(CKM_VENDOR_DEFINED | 0x1234, &info), CKR_MECHANISM_INVALID);

	CHECK_RV(ch_mech_keygen_type(CKM_AES_KEY_GEN, false, &kt), CKR_OK);
	CHECK_UL(kt, CKK_AES);
	CHECK_RV(ch_mech_keygen_type(CKM_AES_KEY_GEN, true, &kt), CKR_MECHANISM_INVALID);
	CHECK_RV(ch_mech_keygen_type(CKM_AES_GCM, false, &kt), CKR_MECHANISM_INVALID);
}

static void test_aes_keygen_sizes_and_errors(void)
{
	static const CK_ULONG sizes[] = { 16, 24, 32 };
	CK_MECHANISM m = { CKM_AES_KEY_GEN, NULL, 0 };
	CK_BYTE junk[4] = { 0 };
	ch_attrs *a = NULL, *b = NULL;
	const ch_attr *va, *vb;
	size_t i;

	for (i = 0; i < 3; i++) {
		a = ch_attrs_new();
		b = ch_attrs_new();
		if (!CHECK(a != NULL && b != NULL))
			goto next;
		CHECK_RV(ch_attrs_set_ulong(a, CKA_VALUE_LEN, sizes[i]), CKR_OK);
		CHECK_RV(ch_attrs_set_ulong(b, CKA_VALUE_LEN, sizes[i]), CKR_OK);
		CHECK_RV(ch_mech_generate_key(&m, a), CKR_OK);
		CHECK_RV(ch_mech_generate_key(&m, b), CKR_OK);
		va = ch_attrs_get(a, CKA_VALUE);
		vb = ch_attrs_get(b, CKA_VALUE);
		if (CHECK(va != NULL && vb != NULL)) {
			CHECK_UL(va->len, sizes[i]);
			CHECK(memcmp(va->value, vb->value, va->len) != 0);
		}
	next:
		ch_attrs_free(a);
		ch_attrs_free(b);
	}

	a = ch_attrs_new();
	if (!CHECK(a != NULL))
		return;
	CHECK_RV(ch_mech_generate_key(&m, a), CKR_TEMPLATE_INCOMPLETE);
	CHECK_RV(ch_attrs_set_ulong(a, CKA_VALUE_LEN, 20), CKR_OK);
	CHECK_RV(ch_mech_generate_key(&m, a), CKR_KEY_SIZE_RANGE);
	CHECK_RV(ch_attrs_set_ulong(a, CKA_VALUE_LEN, 64), CKR_OK);
	CHECK_RV(ch_mech_generate_key(&m, a), CKR_KEY_SIZE_RANGE);
	CHECK(ch_attrs_get(a, CKA_VALUE) == NULL);
	CHECK_RV(ch_attrs_set_ulong(a, CKA_VALUE_LEN, 16), CKR_OK);
	m.pParameter = junk;
	m.ulParameterLen = sizeof(junk);
	CHECK_RV(ch_mech_generate_key(&m, a), CKR_MECHANISM_PARAM_INVALID);
	m = (CK_MECHANISM){ CKM_AES_GCM, NULL, 0 };
	CHECK_RV(ch_mech_generate_key(&m, a), CKR_MECHANISM_INVALID);
	m = (CK_MECHANISM){ CKM_ECDSA, NULL, 0 };
	CHECK_RV(ch_mech_generate_key(&m, a), CKR_MECHANISM_INVALID);
	ch_attrs_free(a);
}

/* Whether CKM_AES_GCM takes these sizes (in bits, as Wycheproof gives
 * them): IV 1..128 bytes, tag 4..16 whole bytes. */
static bool gcm_accepts(long long iv_bits, long long tag_bits)
{
	return iv_bits >= 8 && iv_bits <= 128 * 8 && iv_bits % 8 == 0 && tag_bits >= 32 &&
	       tag_bits <= 128 && tag_bits % 8 == 0;
}

/* One Wycheproof AEAD test against CKM_AES_GCM; counts what it checked. */
static void gcm_vector(const json_t *t, long long iv_bits, long long tag_bits, unsigned *n_valid,
                       unsigned *n_invalid, unsigned *n_param)
{
	vec_bytes key = { 0 }, iv = { 0 }, aad = { 0 }, msg = { 0 }, ct = { 0 }, tag = { 0 };
	long long id = vec_int(t, "tcId");
	const char *result = vec_str(t, "result");
	CK_GCM_PARAMS p;
	CK_MECHANISM m;
	ch_attrs *k = NULL;
	CK_BYTE *ctt = NULL, *out = NULL;
	CK_ULONG ctt_len, n;
	ch_op *op = NULL;

	if (!CHECK(vec_hex(t, "key", &key) && vec_hex(t, "iv", &iv) && vec_hex(t, "aad", &aad) &&
	           vec_hex(t, "msg", &msg) && vec_hex(t, "ct", &ct) && vec_hex(t, "tag", &tag)))
		goto out;
	ctt_len = ct.len + tag.len;
	ctt = malloc(ctt_len + 1);
	out = malloc(ctt_len + 1);
	k = aes_key(key.p, key.len);
	if (!CHECK(ctt != NULL && out != NULL && k != NULL))
		goto out;
	memcpy(ctt, ct.p, ct.len);
	memcpy(ctt + ct.len, tag.p, tag.len);
	gcm_mech(&m, &p, iv.p, iv.len, aad.p, aad.len, (CK_ULONG)tag_bits);

	if (!gcm_accepts(iv_bits, tag_bits)) {
		if (!CHECK_RV(ch_op_init(CH_OP_ENCRYPT, &m, k, &op), CKR_MECHANISM_PARAM_INVALID) ||
		    !CHECK_RV(ch_op_init(CH_OP_DECRYPT, &m, k, &op), CKR_MECHANISM_PARAM_INVALID))
			fprintf(stderr, "\ttcId %lld\n", id);
		CHECK(op == NULL);
		(*n_param)++;
		goto out;
	}
	if (strcmp(result, "valid") == 0) {
		n = ctt_len + 1;
		if (!CHECK_RV(run_oneshot(CH_OP_ENCRYPT, &m, k, msg.p, msg.len, out, &n), CKR_OK) ||
		    !CHECK_UL(n, ctt_len) || !CHECK(memcmp(out, ctt, ctt_len) == 0))
			fprintf(stderr, "\ttcId %lld (encrypt)\n", id);
		n = ctt_len + 1;
		if (!CHECK_RV(run_parts(CH_OP_ENCRYPT, &m, k, msg.p, msg.len, 7, out, n, &n),
		              CKR_OK) ||
		    !CHECK_UL(n, ctt_len) || !CHECK(memcmp(out, ctt, ctt_len) == 0))
			fprintf(stderr, "\ttcId %lld (multi-part encrypt)\n", id);
		n = ctt_len + 1;
		if (!CHECK_RV(run_oneshot(CH_OP_DECRYPT, &m, k, ctt, ctt_len, out, &n), CKR_OK) ||
		    !CHECK_UL(n, msg.len) || !CHECK(memcmp(out, msg.p, msg.len) == 0))
			fprintf(stderr, "\ttcId %lld (decrypt)\n", id);
		n = ctt_len + 1;
		if (!CHECK_RV(run_parts(CH_OP_DECRYPT, &m, k, ctt, ctt_len, 5, out, n, &n),
		              CKR_OK) ||
		    !CHECK_UL(n, msg.len) || !CHECK(memcmp(out, msg.p, msg.len) == 0))
			fprintf(stderr, "\ttcId %lld (multi-part decrypt)\n", id);
		(*n_valid)++;
	} else {
		n = ctt_len + 1;
		memset(out, 0xa5, n);
		if (!CHECK_RV(run_oneshot(CH_OP_DECRYPT, &m, k, ctt, ctt_len, out, &n),
		              CKR_ENCRYPTED_DATA_INVALID) ||
		    !CHECK(all_zero(out, msg.len)))
			fprintf(stderr, "\ttcId %lld (decrypt of a bad ciphertext)\n", id);
		n = ctt_len + 1;
		if (!CHECK_RV(run_parts(CH_OP_DECRYPT, &m, k, ctt, ctt_len, 16, out, n, &n),
		              CKR_ENCRYPTED_DATA_INVALID))
			fprintf(stderr, "\ttcId %lld (multi-part decrypt of a bad ciphertext)\n",
			        id);
		(*n_invalid)++;
	}
out:
	ch_op_free(op);
	ch_attrs_free(k);
	free(ctt);
	free(out);
	vec_bytes_free(&key);
	vec_bytes_free(&iv);
	vec_bytes_free(&aad);
	vec_bytes_free(&msg);
	vec_bytes_free(&ct);
	vec_bytes_free(&tag);
}

static void test_gcm_wycheproof(void)
{
	json_t *root = vec_load("wycheproof/testvectors_v1/aes_gcm_test.json");
	const json_t *groups, *g, *tests, *t;
	unsigned n_valid = 0, n_invalid = 0, n_param = 0;
	size_t i, j;

	if (!CHECK(root != NULL))
		return;
	groups = json_object_get(root, "testGroups");
	CHECK(json_array_size(groups) > 0);
	for (i = 0; i < json_array_size(groups); i++) {
		g = json_array_get(groups, i);
		tests = json_object_get(g, "tests");
		for (j = 0; j < json_array_size(tests); j++) {
			t = json_array_get(tests, j);
			gcm_vector(t, vec_int(g, "ivSize"), vec_int(g, "tagSize"), &n_valid,
			           &n_invalid, &n_param);
		}
	}
	printf("aes_gcm_test.json: %u valid (encrypt, decrypt, single and multi-part), "
	       "%u invalid (CKR_ENCRYPTED_DATA_INVALID), %u outside the parameter set "
	       "(CKR_MECHANISM_PARAM_INVALID), of %lld\n",
	       n_valid, n_invalid, n_param, vec_int(root, "numberOfTests"));
	CHECK_UL(n_valid + n_invalid + n_param, vec_int(root, "numberOfTests"));
	CHECK(n_valid > 200 && n_invalid > 50 && n_param > 0);
	json_decref(root);
}

/* Fixed inputs for the tests below. */
static CK_BYTE k256[32], iv12[12], aad[20], msg[1000];

static void fill_inputs(void)
{
	CHECK_RV(ch_random(k256, sizeof(k256)), CKR_OK);
	CHECK_RV(ch_random(iv12, sizeof(iv12)), CKR_OK);
	CHECK_RV(ch_random(aad, sizeof(aad)), CKR_OK);
	CHECK_RV(ch_random(msg, sizeof(msg)), CKR_OK);
}

static void test_gcm_multipart_equals_single_part(void)
{
	static const size_t chunks[] = { 1, 7, 15, 16, 17, 100, 999, 1000, 4096 };
	CK_BYTE one[sizeof(msg) + 16], parts[sizeof(msg) + 16], back[sizeof(msg) + 16];
	CK_ULONG n1 = sizeof(one), n2, n3;
	CK_GCM_PARAMS p;
	CK_MECHANISM m;
	ch_attrs *k = aes_key(k256, 32);
	size_t i;

	if (!CHECK(k != NULL))
		return;
	gcm_mech(&m, &p, iv12, sizeof(iv12), aad, sizeof(aad), 128);
	CHECK_RV(run_oneshot(CH_OP_ENCRYPT, &m, k, msg, sizeof(msg), one, &n1), CKR_OK);
	CHECK_UL(n1, sizeof(msg) + 16);
	for (i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		n2 = sizeof(parts);
		CHECK_RV(run_parts(CH_OP_ENCRYPT, &m, k, msg, sizeof(msg), chunks[i], parts, n2,
		                   &n2),
		         CKR_OK);
		CHECK_UL(n2, n1);
		CHECK(memcmp(one, parts, n1) == 0);
		n3 = sizeof(back);
		CHECK_RV(run_parts(CH_OP_DECRYPT, &m, k, one, n1, chunks[i], back, n3, &n3),
		         CKR_OK);
		CHECK_UL(n3, sizeof(msg));
		CHECK(memcmp(back, msg, sizeof(msg)) == 0);
	}
	ch_attrs_free(k);
}

static void test_gcm_decrypt_update_releases_no_plaintext(void)
{
	CK_BYTE ct[sizeof(msg) + 16], out[sizeof(msg) + 16];
	CK_ULONG n = sizeof(ct), room;
	CK_GCM_PARAMS p;
	CK_MECHANISM m;
	ch_attrs *k = aes_key(k256, 32);
	ch_op *op = NULL;

	if (!CHECK(k != NULL))
		return;
	gcm_mech(&m, &p, iv12, sizeof(iv12), NULL, 0, 128);
	CHECK_RV(run_oneshot(CH_OP_ENCRYPT, &m, k, msg, sizeof(msg), ct, &n), CKR_OK);
	if (!CHECK_RV(ch_op_init(CH_OP_DECRYPT, &m, k, &op), CKR_OK))
		goto out;
	memset(out, 0, sizeof(out));
	room = sizeof(out);
	CHECK_RV(ch_op_update(op, ct, 600, out, &room), CKR_OK);
	CHECK_UL(room, 0);
	room = sizeof(out);
	CHECK_RV(ch_op_update(op, ct + 600, n - 600, out, &room), CKR_OK);
	CHECK_UL(room, 0);
	CHECK(all_zero(out, sizeof(out)));
	room = sizeof(out);
	CHECK_RV(ch_op_final(op, out, &room), CKR_OK);
	CHECK_UL(room, sizeof(msg));
	CHECK(memcmp(out, msg, sizeof(msg)) == 0);
out:
	ch_op_free(op);
	ch_attrs_free(k);
}

static void test_gcm_buffer_convention_keeps_operation(void)
{
	CK_BYTE ct[sizeof(msg) + 16], ct2[sizeof(msg) + 16], out[sizeof(msg) + 16];
	CK_ULONG n, room;
	CK_GCM_PARAMS p;
	CK_MECHANISM m;
	ch_attrs *k = aes_key(k256, 16);
	ch_op *op = NULL;
	CK_RV rv;

	if (!CHECK(k != NULL))
		return;
	gcm_mech(&m, &p, iv12, sizeof(iv12), aad, sizeof(aad), 96);

	/* One-shot encrypt: length query, short buffer, then the real call. */
	if (!CHECK_RV(ch_op_init(CH_OP_ENCRYPT, &m, k, &op), CKR_OK))
		goto out;
	n = 0;
	rv = ch_op_oneshot(op, msg, sizeof(msg), NULL, &n);
	CHECK_RV(rv, CKR_OK);
	CHECK(!ch_op_ends(rv, NULL));
	CHECK_UL(n, sizeof(msg) + 12);
	n = sizeof(msg) + 11;
	rv = ch_op_oneshot(op, msg, sizeof(msg), ct, &n);
	CHECK_RV(rv, CKR_BUFFER_TOO_SMALL);
	CHECK(!ch_op_ends(rv, ct));
	CHECK_UL(n, sizeof(msg) + 12);
	n = sizeof(ct);
	rv = ch_op_oneshot(op, msg, sizeof(msg), ct, &n);
	CHECK_RV(rv, CKR_OK);
	CHECK(ch_op_ends(rv, ct));
	CHECK_UL(n, sizeof(msg) + 12);
	ch_op_free(op);
	op = NULL;

	/* Multi-part encrypt: a length query on update consumes nothing. */
	if (!CHECK_RV(ch_op_init(CH_OP_ENCRYPT, &m, k, &op), CKR_OK))
		goto out;
	room = 0;
	CHECK_RV(ch_op_update(op, msg, 500, NULL, &room), CKR_OK);
	CHECK_UL(room, 500);
	room = 499;
	CHECK_RV(ch_op_update(op, msg, 500, ct2, &room), CKR_BUFFER_TOO_SMALL);
	CHECK_UL(room, 500);
	room = 500;
	CHECK_RV(ch_op_update(op, msg, 500, ct2, &room), CKR_OK);
	CHECK_UL(room, 500);
	room = sizeof(ct2) - 500;
	CHECK_RV(ch_op_update(op, msg + 500, 500, ct2 + 500, &room), CKR_OK);
	CHECK_UL(room, 500);
	room = 0;
	CHECK_RV(ch_op_final(op, NULL, &room), CKR_OK);
	CHECK_UL(room, 12);
	room = 11;
	CHECK_RV(ch_op_final(op, ct2 + 1000, &room), CKR_BUFFER_TOO_SMALL);
	CHECK_UL(room, 12);
	room = 12;
	CHECK_RV(ch_op_final(op, ct2 + 1000, &room), CKR_OK);
	CHECK_UL(room, 12);
	CHECK(memcmp(ct, ct2, sizeof(msg) + 12) == 0);
	/* The operation is over. */
	room = sizeof(out);
	CHECK_RV(ch_op_final(op, out, &room), CKR_OPERATION_NOT_INITIALIZED);
	ch_op_free(op);
	op = NULL;

	/* One-shot decrypt: the length query is exact for GCM. */
	if (!CHECK_RV(ch_op_init(CH_OP_DECRYPT, &m, k, &op), CKR_OK))
		goto out;
	CHECK(ch_op_kind_of(op) == CH_OP_DECRYPT);
	n = 0;
	CHECK_RV(ch_op_oneshot(op, ct, sizeof(msg) + 12, NULL, &n), CKR_OK);
	CHECK_UL(n, sizeof(msg));
	n = 10;
	CHECK_RV(ch_op_oneshot(op, ct, sizeof(msg) + 12, out, &n), CKR_BUFFER_TOO_SMALL);
	CHECK_UL(n, sizeof(msg));
	n = sizeof(msg);
	CHECK_RV(ch_op_oneshot(op, ct, sizeof(msg) + 12, out, &n), CKR_OK);
	CHECK_UL(n, sizeof(msg));
	CHECK(memcmp(out, msg, sizeof(msg)) == 0);
	ch_op_free(op);
	op = NULL;

	/* Multi-part decrypt: final's length query and short buffer. */
	if (!CHECK_RV(ch_op_init(CH_OP_DECRYPT, &m, k, &op), CKR_OK))
		goto out;
	room = sizeof(out);
	CHECK_RV(ch_op_update(op, ct, sizeof(msg) + 12, out, &room), CKR_OK);
	CHECK_UL(room, 0);
	room = 0;
	CHECK_RV(ch_op_final(op, NULL, &room), CKR_OK);
	CHECK_UL(room, sizeof(msg));
	room = sizeof(msg) - 1;
	CHECK_RV(ch_op_final(op, out, &room), CKR_BUFFER_TOO_SMALL);
	CHECK_UL(room, sizeof(msg));
	memset(out, 0, sizeof(out));
	room = sizeof(msg);
	CHECK_RV(ch_op_final(op, out, &room), CKR_OK);
	CHECK_UL(room, sizeof(msg));
	CHECK(memcmp(out, msg, sizeof(msg)) == 0);
out:
	ch_op_free(op);
	ch_attrs_free(k);
}

static void test_gcm_bad_tag_clears_output(void)
{
	CK_BYTE ct[sizeof(msg) + 16], out[sizeof(msg) + 16];
	CK_ULONG n = sizeof(ct), room;
	CK_GCM_PARAMS p;
	CK_MECHANISM m;
	ch_attrs *k = aes_key(k256, 32);
	ch_op *op = NULL;

	if (!CHECK(k != NULL))
		return;
	gcm_mech(&m, &p, iv12, sizeof(iv12), aad, sizeof(aad), 128);
	CHECK_RV(run_oneshot(CH_OP_ENCRYPT, &m, k, msg, sizeof(msg), ct, &n), CKR_OK);
	ct[n - 1] ^= 0x01;

	memset(out, 0x5a, sizeof(out));
	room = sizeof(out);
	CHECK_RV(run_oneshot(CH_OP_DECRYPT, &m, k, ct, n, out, &room), CKR_ENCRYPTED_DATA_INVALID);
	CHECK(all_zero(out, sizeof(msg)));

	memset(out, 0x5a, sizeof(out));
	if (!CHECK_RV(ch_op_init(CH_OP_DECRYPT, &m, k, &op), CKR_OK))
		goto out;
	room = sizeof(out);
	CHECK_RV(ch_op_update(op, ct, n, out, &room), CKR_OK);
	room = sizeof(out);
	CHECK_RV(ch_op_final(op, out, &room), CKR_ENCRYPTED_DATA_INVALID);
	CHECK(all_zero(out, sizeof(msg)));
	ch_op_free(op);
	op = NULL;

	/* A different AAD fails the same way. */
	ct[n - 1] ^= 0x01;
	gcm_mech(&m, &p, iv12, sizeof(iv12), aad, sizeof(aad) - 1, 128);
	room = sizeof(out);
	CHECK_RV(run_oneshot(CH_OP_DECRYPT, &m, k, ct, n, out, &room), CKR_ENCRYPTED_DATA_INVALID);
	CHECK(all_zero(out, sizeof(msg)));
out:
	ch_op_free(op);
	ch_attrs_free(k);
}

static void test_gcm_ciphertext_shorter_than_tag(void)
{
	CK_BYTE ct[16] = { 0 }, out[16];
	CK_ULONG room;
	CK_GCM_PARAMS p;
	CK_MECHANISM m;
	ch_attrs *k = aes_key(k256, 32);
	ch_op *op = NULL;

	if (!CHECK(k != NULL))
		return;
	gcm_mech(&m, &p, iv12, sizeof(iv12), NULL, 0, 128);
	room = sizeof(out);
	CHECK_RV(run_oneshot(CH_OP_DECRYPT, &m, k, ct, 15, out, &room),
	         CKR_ENCRYPTED_DATA_LEN_RANGE);
	room = 0;
	CHECK_RV(run_oneshot(CH_OP_DECRYPT, &m, k, ct, 0, NULL, &room),
	         CKR_ENCRYPTED_DATA_LEN_RANGE);
	if (!CHECK_RV(ch_op_init(CH_OP_DECRYPT, &m, k, &op), CKR_OK))
		goto out;
	room = sizeof(out);
	CHECK_RV(ch_op_update(op, ct, 10, out, &room), CKR_OK);
	room = sizeof(out);
	CHECK_RV(ch_op_final(op, out, &room), CKR_ENCRYPTED_DATA_LEN_RANGE);
	/* Exactly a tag long is an empty message: it decrypts or fails the tag. */
	room = sizeof(out);
	CHECK_RV(run_oneshot(CH_OP_DECRYPT, &m, k, ct, 16, out, &room), CKR_ENCRYPTED_DATA_INVALID);
out:
	ch_op_free(op);
	ch_attrs_free(k);
}

static void test_gcm_empty_message_and_short_tag_round_trip(void)
{
	CK_BYTE ct[64], out[64];
	CK_ULONG n = sizeof(ct), room;
	CK_GCM_PARAMS p;
	CK_MECHANISM m;
	ch_attrs *k = aes_key(k256, 24);

	if (!CHECK(k != NULL))
		return;
	/* 32-bit tag, one-byte IV, AAD only. */
	gcm_mech(&m, &p, iv12, 1, aad, sizeof(aad), 32);
	CHECK_RV(run_oneshot(CH_OP_ENCRYPT, &m, k, NULL, 0, ct, &n), CKR_OK);
	CHECK_UL(n, 4);
	room = sizeof(out);
	CHECK_RV(run_oneshot(CH_OP_DECRYPT, &m, k, ct, n, out, &room), CKR_OK);
	CHECK_UL(room, 0);
	/* 128-byte IV, ulIvBits 0 (allowed), 104-bit tag. */
	{
		CK_BYTE iv128[128];

		CHECK_RV(ch_random(iv128, sizeof(iv128)), CKR_OK);
		gcm_mech(&m, &p, iv128, sizeof(iv128), NULL, 0, 104);
		p.ulIvBits = 0;
		n = sizeof(ct);
		CHECK_RV(run_oneshot(CH_OP_ENCRYPT, &m, k, msg, 20, ct, &n), CKR_OK);
		CHECK_UL(n, 33);
		room = sizeof(out);
		CHECK_RV(run_oneshot(CH_OP_DECRYPT, &m, k, ct, n, out, &room), CKR_OK);
		CHECK_UL(room, 20);
		CHECK(memcmp(out, msg, 20) == 0);
	}
	ch_attrs_free(k);
}

static void test_gcm_parameter_errors(void)
{
	static const CK_ULONG bad_tags[] = { 0, 8, 24, 31, 33, 100, 136, 256 };
	CK_GCM_PARAMS p;
	CK_MECHANISM m;
	CK_BYTE iv[200] = { 0 };
	ch_attrs *k = aes_key(k256, 32), *bad = aes_key(k256, 20);
	ch_op *op = NULL;
	size_t i;

	if (!CHECK(k != NULL && bad != NULL))
		goto out;
	m = (CK_MECHANISM){ CKM_AES_GCM, NULL, 0 };
	CHECK_RV(ch_op_init(CH_OP_ENCRYPT, &m, k, &op), CKR_MECHANISM_PARAM_INVALID);
	CHECK(op == NULL);
	gcm_mech(&m, &p, iv, 12, NULL, 0, 128);
	m.ulParameterLen = sizeof(p) - sizeof(CK_ULONG); /* the 2.40 layout's size */
	CHECK_RV(ch_op_init(CH_OP_ENCRYPT, &m, k, &op), CKR_MECHANISM_PARAM_INVALID);
	m.pParameter = NULL;
	m.ulParameterLen = sizeof(p);
	CHECK_RV(ch_op_init(CH_OP_ENCRYPT, &m, k, &op), CKR_MECHANISM_PARAM_INVALID);

	gcm_mech(&m, &p, NULL, 12, NULL, 0, 128);
	CHECK_RV(ch_op_init(CH_OP_ENCRYPT, &m, k, &op), CKR_MECHANISM_PARAM_INVALID);
	gcm_mech(&m, &p, iv, 0, NULL, 0, 128);
	CHECK_RV(ch_op_init(CH_OP_DECRYPT, &m, k, &op), CKR_MECHANISM_PARAM_INVALID);
	gcm_mech(&m, &p, iv, 129, NULL, 0, 128);
	CHECK_RV(ch_op_init(CH_OP_ENCRYPT, &m, k, &op), CKR_MECHANISM_PARAM_INVALID);
	gcm_mech(&m, &p, iv, 12, NULL, 0, 128);
	p.ulIvBits = 95;
	CHECK_RV(ch_op_init(CH_OP_ENCRYPT, &m, k, &op), CKR_MECHANISM_PARAM_INVALID);
	gcm_mech(&m, &p, iv, 12, NULL, 5, 128);
	CHECK_RV(ch_op_init(CH_OP_ENCRYPT, &m, k, &op), CKR_MECHANISM_PARAM_INVALID);
	for (i = 0; i < sizeof(bad_tags) / sizeof(bad_tags[0]); i++) {
		gcm_mech(&m, &p, iv, 12, NULL, 0, bad_tags[i]);
		if (!CHECK_RV(ch_op_init(CH_OP_ENCRYPT, &m, k, &op), CKR_MECHANISM_PARAM_INVALID))
			fprintf(stderr, "\tulTagBits %lu\n", bad_tags[i]);
	}
	CHECK(op == NULL);

	/* The parameter is checked before the key. */
	gcm_mech(&m, &p, iv, 0, NULL, 0, 128);
	CHECK_RV(ch_op_init(CH_OP_ENCRYPT, &m, bad, &op), CKR_MECHANISM_PARAM_INVALID);
	gcm_mech(&m, &p, iv, 12, NULL, 0, 128);
	CHECK_RV(ch_op_init(CH_OP_ENCRYPT, &m, bad, &op), CKR_KEY_SIZE_RANGE);
	CHECK(op == NULL);
out:
	ch_op_free(op);
	ch_attrs_free(k);
	ch_attrs_free(bad);
}

static void test_gcm_key_class_type_and_usage(void)
{
	CK_GCM_PARAMS p;
	CK_MECHANISM m;
	ch_attrs *k = aes_key(k256, 32), *enc_only = aes_key_usage(k256, 32, true, false);
	ch_attrs *dec_only = aes_key_usage(k256, 32, false, true);
	ch_op *op = NULL;

	if (!CHECK(k != NULL && enc_only != NULL && dec_only != NULL))
		goto out;
	gcm_mech(&m, &p, iv12, sizeof(iv12), NULL, 0, 128);

	CHECK_RV(ch_op_init(CH_OP_ENCRYPT, &m, enc_only, &op), CKR_OK);
	ch_op_free(op);
	op = NULL;
	CHECK_RV(ch_op_init(CH_OP_DECRYPT, &m, enc_only, &op), CKR_KEY_FUNCTION_NOT_PERMITTED);
	CHECK_RV(ch_op_init(CH_OP_ENCRYPT, &m, dec_only, &op), CKR_KEY_FUNCTION_NOT_PERMITTED);
	CHECK_RV(ch_op_init(CH_OP_DECRYPT, &m, dec_only, &op), CKR_OK);
	ch_op_free(op);
	op = NULL;
	/* A key with no CKA_ENCRYPT at all is not permitted either. */
	ch_attrs_remove(dec_only, CKA_ENCRYPT);
	CHECK_RV(ch_op_init(CH_OP_ENCRYPT, &m, dec_only, &op), CKR_KEY_FUNCTION_NOT_PERMITTED);

	CHECK_RV(ch_attrs_set_ulong(k, CKA_KEY_TYPE, CKK_EC), CKR_OK);
	CHECK_RV(ch_op_init(CH_OP_ENCRYPT, &m, k, &op), CKR_KEY_TYPE_INCONSISTENT);
	CHECK_RV(ch_attrs_set_ulong(k, CKA_KEY_TYPE, CKK_AES), CKR_OK);
	CHECK_RV(ch_attrs_set_ulong(k, CKA_CLASS, CKO_PRIVATE_KEY), CKR_OK);
	CHECK_RV(ch_op_init(CH_OP_ENCRYPT, &m, k, &op), CKR_KEY_TYPE_INCONSISTENT);
	CHECK_RV(ch_attrs_set_ulong(k, CKA_CLASS, CKO_SECRET_KEY), CKR_OK);
	ch_attrs_remove(k, CKA_VALUE);
	CHECK_RV(ch_op_init(CH_OP_ENCRYPT, &m, k, &op), CKR_KEY_TYPE_INCONSISTENT);
	/* GCM neither signs nor digests. */
	CHECK_RV(ch_op_init(CH_OP_SIGN, &m, enc_only, &op), CKR_MECHANISM_INVALID);
	CHECK_RV(ch_op_init(CH_OP_DIGEST, &m, NULL, &op), CKR_MECHANISM_INVALID);
	m.mechanism = CKM_VENDOR_DEFINED | 0x77;
	CHECK_RV(ch_op_init(CH_OP_ENCRYPT, &m, enc_only, &op), CKR_MECHANISM_INVALID);
	CHECK(op == NULL);
out:
	ch_op_free(op);
	ch_attrs_free(k);
	ch_attrs_free(enc_only);
	ch_attrs_free(dec_only);
}

static void test_op_state_rules(void)
{
	CK_BYTE out[sizeof(msg) + 16];
	CK_ULONG room;
	CK_GCM_PARAMS p;
	CK_MECHANISM m;
	ch_attrs *k = aes_key(k256, 32);
	ch_op *op = NULL;

	if (!CHECK(k != NULL))
		return;
	gcm_mech(&m, &p, iv12, sizeof(iv12), NULL, 0, 128);
	/* A one-shot call cannot end a multi-part operation, and ends it. */
	if (!CHECK_RV(ch_op_init(CH_OP_ENCRYPT, &m, k, &op), CKR_OK))
		goto out;
	room = sizeof(out);
	CHECK_RV(ch_op_update(op, msg, 10, out, &room), CKR_OK);
	room = sizeof(out);
	CHECK_RV(ch_op_oneshot(op, msg, 10, out, &room), CKR_OPERATION_ACTIVE);
	room = sizeof(out);
	CHECK_RV(ch_op_update(op, msg, 10, out, &room), CKR_OPERATION_NOT_INITIALIZED);
	ch_op_free(op);
	op = NULL;
	/* After a one-shot call nothing more. */
	if (!CHECK_RV(ch_op_init(CH_OP_ENCRYPT, &m, k, &op), CKR_OK))
		goto out;
	room = sizeof(out);
	CHECK_RV(ch_op_oneshot(op, msg, 10, out, &room), CKR_OK);
	room = sizeof(out);
	CHECK_RV(ch_op_oneshot(op, msg, 10, out, &room), CKR_OPERATION_NOT_INITIALIZED);
	/* Encrypt has no verify. */
	CHECK_RV(ch_op_verify(op, msg, 10, out, 16), CKR_OPERATION_NOT_INITIALIZED);
	ch_op_free(op);
	op = NULL;
	if (!CHECK_RV(ch_op_init(CH_OP_ENCRYPT, &m, k, &op), CKR_OK))
		goto out;
	CHECK_RV(ch_op_verify(op, msg, 10, out, 16), CKR_ARGUMENTS_BAD);
	CHECK(ch_op_ends(CKR_OK, out) && ch_op_ends(CKR_ARGUMENTS_BAD, NULL) &&
	      !ch_op_ends(CKR_OK, NULL) && !ch_op_ends(CKR_BUFFER_TOO_SMALL, out));
	ch_op_free(NULL);
out:
	ch_op_free(op);
	ch_attrs_free(k);
}

static void test_random(void)
{
	CK_BYTE a[64] = { 0 }, b[64] = { 0 };

	CHECK_RV(ch_random(a, sizeof(a)), CKR_OK);
	CHECK_RV(ch_random(b, sizeof(b)), CKR_OK);
	CHECK(memcmp(a, b, sizeof(a)) != 0);
	CHECK(!all_zero(a, sizeof(a)));
	CHECK_RV(ch_random(a, 0), CKR_OK);
	CHECK_RV(ch_random(NULL, 0), CKR_OK);
	CHECK_RV(ch_random(NULL, 1), CKR_ARGUMENTS_BAD);
}

int main(void)
{
	fill_inputs();
	test_registry_lists_and_describes_mechanisms();
	test_aes_keygen_sizes_and_errors();
	test_gcm_wycheproof();
	test_gcm_multipart_equals_single_part();
	test_gcm_decrypt_update_releases_no_plaintext();
	test_gcm_buffer_convention_keeps_operation();
	test_gcm_bad_tag_clears_output();
	test_gcm_ciphertext_shorter_than_tag();
	test_gcm_empty_message_and_short_tag_round_trip();
	test_gcm_parameter_errors();
	test_gcm_key_class_type_and_usage();
	test_op_state_rules();
	test_random();
	return ch_test_done();
}
