/*
 * The AES block modes and CCM (token/mech_aes.c, token/mech_aes_aead.c)
 * driven through token/mech.h: known answers from NIST SP 800-38A appendix
 * F (ECB F.1.1/F.1.3/F.1.5, CBC F.2.1/F.2.3/F.2.5, CTR F.5.1/F.5.3/F.5.5,
 * and their decryptions), CCM from SP 800-38C appendix C (C.1 to C.3) and
 * RFC 3610 packet vector #1; exact update and final lengths; CBC_PAD's
 * held-back last block, its upper-bound lengths and its one code for every
 * bad padding; CTR's refusal to wrap its counter; CCM's up-front length.
 */
#include <stdlib.h>
#include <string.h>

#include "attrs.h"
#include "check.h"
#include "mech.h"

static size_t unhex(const char *s, CK_BYTE *out, size_t max)
{
	size_t n = 0;

	for (; s[0] != '\0' && s[1] != '\0' && n < max; s += 2) {
		unsigned v;

		if (sscanf(s, "%2x", &v) != 1)
			break;
		out[n++] = (CK_BYTE)v;
	}
	return n;
}

static ch_attrs *aes_key(const CK_BYTE *v, CK_ULONG len)
{
	ch_attrs *a = ch_attrs_new();

	if (a == NULL || ch_attrs_set_ulong(a, CKA_CLASS, CKO_SECRET_KEY) != CKR_OK ||
	    ch_attrs_set_ulong(a, CKA_KEY_TYPE, CKK_AES) != CKR_OK ||
	    ch_attrs_set(a, CKA_VALUE, v, len) != CKR_OK ||
	    ch_attrs_set_bool(a, CKA_ENCRYPT, true) != CKR_OK ||
	    ch_attrs_set_bool(a, CKA_DECRYPT, true) != CKR_OK) {
		ch_attrs_free(a);
		return NULL;
	}
	return a;
}

/* Init + one-shot (after a length query) + free. */
static CK_RV run_oneshot(ch_op_kind kind, const CK_MECHANISM *m, const ch_attrs *key,
                         const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out, CK_ULONG *out_len)
{
	ch_op *op = NULL;
	CK_ULONG need = 0;
	CK_RV rv;

	if ((rv = ch_op_init(kind, m, key, &op)) == CKR_OK &&
	    (rv = ch_op_oneshot(op, in, in_len, NULL, &need)) == CKR_OK) {
		if (need > *out_len)
			rv = CKR_BUFFER_TOO_SMALL;
		else
			rv = ch_op_oneshot(op, in, in_len, out, out_len);
	}
	ch_op_free(op);
	return rv;
}

/* Init + updates of chunk bytes + final.  Each call first asks for its
 * length and is then given exactly that much room; an exact mode (bound
 * false) must then produce exactly that. */
static CK_RV run_parts(ch_op_kind kind, const CK_MECHANISM *m, const ch_attrs *key,
                       const CK_BYTE *in, CK_ULONG in_len, size_t chunk, bool bound, CK_BYTE *out,
                       CK_ULONG cap, CK_ULONG *out_len)
{
	ch_op *op = NULL;
	CK_ULONG done = 0, got = 0, n, q, room;
	CK_RV rv;

	if ((rv = ch_op_init(kind, m, key, &op)) != CKR_OK)
		goto out;
	while (done < in_len) {
		n = in_len - done < chunk ? in_len - done : chunk;
		q = 0;
		if ((rv = ch_op_update(op, in + done, n, NULL, &q)) != CKR_OK)
			goto out;
		rv = CKR_BUFFER_TOO_SMALL;
		if (q > cap - got)
			goto out;
		room = q;
		if ((rv = ch_op_update(op, in + done, n, out + got, &room)) != CKR_OK)
			goto out;
		if (!CHECK_UL(room, q))
			fprintf(stderr, "\tupdate of %lu bytes after %lu\n", n, done);
		got += room;
		done += n;
	}
	q = 0;
	if ((rv = ch_op_final(op, NULL, &q)) != CKR_OK)
		goto out;
	rv = CKR_BUFFER_TOO_SMALL;
	if (q > cap - got)
		goto out;
	room = q;
	if ((rv = ch_op_final(op, out + got, &room)) != CKR_OK)
		goto out;
	if (!bound)
		CHECK_UL(room, q);
	*out_len = got + room;
out:
	ch_op_free(op);
	return rv;
}

static bool same(const CK_BYTE *a, CK_ULONG alen, const CK_BYTE *b, size_t blen)
{
	return alen == blen && (blen == 0 || memcmp(a, b, blen) == 0);
}

/* SP 800-38A appendix F: the keys, the plaintext, the IV and counter. */
static const char *const kat_keys[3] = {
	"2b7e151628aed2a6abf7158809cf4f3c",
	"8e73b0f7da0e6452c810f32b809079e562f8ead2522c6b7b",
	"603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4",
};
static const char kat_plain[] = "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"
                                "30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710";
static const char kat_iv[] = "000102030405060708090a0b0c0d0e0f";
static const char kat_ctr[] = "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";

static const struct {
	const char *name;
	CK_MECHANISM_TYPE mech;
	const char *ct[3];
} kats[] = {
	{ "ECB (F.1.1, F.1.3, F.1.5)",
	  CKM_AES_ECB,
	  { "3ad77bb40d7a3660a89ecaf32466ef97f5d3d58503b9699de785895a96fdbaaf"
	    "43b1cd7f598ece23881b00e3ed0306887b0c785e27e8ad3f8223207104725dd4",
	    "bd334f1d6e45f25ff712a214571fa5cc974104846d0ad3ad7734ecb3ecee4eef"
	    "ef7afd2270e2e60adce0ba2face6444e9a4b41ba738d6c72fb16691603c18e0e",
	    "f3eed1bdb5d2a03c064b5a7e3db181f8591ccb10d410ed26dc5ba74a31362870"
	    "b6ed21b99ca6f4f9f153e7b1beafed1d23304b7a39f9f3ff067d8d8f9e24ecc7" } },
	{ "CBC (F.2.1, F.2.3, F.2.5)",
	  CKM_AES_CBC,
	  { "7649abac8119b246cee98e9b12e9197d5086cb9b507219ee95db113a917678b2"
	    "73bed6b8e3c1743b7116e69e222295163ff1caa1681fac09120eca307586e1a7",
	    "4f021db243bc633d7178183a9fa071e8b4d9ada9ad7dedf4e5e738763f69145a"
	    "571b242012fb7ae07fa9baac3df102e008b0e27988598881d920a9e64f5615cd",
	    "f58c4c04d6e5f1ba779eabfb5f7bfbd69cfc4e967edb808d679f777bc6702c7d"
	    "39f23369a9d9bacfa530e26304231461b2eb05e2c39be9fcda6c19078c6a9d1b" } },
	{ "CTR (F.5.1, F.5.3, F.5.5)",
	  CKM_AES_CTR,
	  { "874d6191b620e3261bef6864990db6ce9806f66b7970fdff8617187bb9fffdff"
	    "5ae4df3edbd5d35e5b4f09020db03eab1e031dda2fbe03d1792170a0f3009cee",
	    "1abc932417521ca24f2b0459fe7e6e0b090339ec0aa6faefd5ccc2c6f4ce8e94"
	    "1e36b26bd1ebc670d1bd1d665620abf74f78a7f6d29809585a97daec58c6b050",
	    "601ec313775789a5b7a7f504bbf3d228f443e3ca4d62b59aca84e990cacaf5c5"
	    "2b0930daa23de94ce87017ba2d84988ddfc9c58db67aada613c2dd08457941a6" } },
};

/* The mechanism for a KAT row: no parameter, the IV, or the counter
 * block with a 128-bit counter. */
static void kat_mech(CK_MECHANISM *m, CK_MECHANISM_TYPE type, CK_BYTE iv[16],
                     CK_AES_CTR_PARAMS *ctr)
{
	m->mechanism = type;
	m->pParameter = NULL;
	m->ulParameterLen = 0;
	if (type == CKM_AES_CBC || type == CKM_AES_CBC_PAD) {
		unhex(kat_iv, iv, 16);
		m->pParameter = iv;
		m->ulParameterLen = 16;
	} else if (type == CKM_AES_CTR) {
		ctr->ulCounterBits = 128;
		unhex(kat_ctr, ctr->cb, 16);
		m->pParameter = ctr;
		m->ulParameterLen = sizeof(*ctr);
	}
}

static void test_sp800_38a_known_answers(void)
{
	static const size_t chunks[] = { 1, 5, 16, 17, 33, 64 };
	CK_BYTE key[32], pt[64], want[64], out[128], iv[16];
	CK_AES_CTR_PARAMS ctr;
	CK_MECHANISM m;
	CK_ULONG n;
	ch_attrs *k;
	size_t r, s, c, klen;

	unhex(kat_plain, pt, sizeof(pt));
	for (r = 0; r < sizeof(kats) / sizeof(kats[0]); r++) {
		for (s = 0; s < 3; s++) {
			klen = unhex(kat_keys[s], key, sizeof(key));
			unhex(kats[r].ct[s], want, sizeof(want));
			kat_mech(&m, kats[r].mech, iv, &ctr);
			if (!CHECK((k = aes_key(key, klen)) != NULL))
				continue;
			n = sizeof(out);
			if (!CHECK_RV(run_oneshot(CH_OP_ENCRYPT, &m, k, pt, 64, out, &n), CKR_OK) ||
			    !CHECK(same(out, n, want, 64)))
				fprintf(stderr, "\t%s, %zu-bit key, encrypt\n", kats[r].name,
				        klen * 8);
			n = sizeof(out);
			if (!CHECK_RV(run_oneshot(CH_OP_DECRYPT, &m, k, want, 64, out, &n),
			              CKR_OK) ||
			    !CHECK(same(out, n, pt, 64)))
				fprintf(stderr, "\t%s, %zu-bit key, decrypt\n", kats[r].name,
				        klen * 8);
			for (c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
				n = sizeof(out);
				if (!CHECK_RV(run_parts(CH_OP_ENCRYPT, &m, k, pt, 64, chunks[c],
				                        false, out, sizeof(out), &n),
				              CKR_OK) ||
				    !CHECK(same(out, n, want, 64)))
					fprintf(stderr, "\t%s, %zu-bit key, chunks of %zu\n",
					        kats[r].name, klen * 8, chunks[c]);
				n = sizeof(out);
				if (!CHECK_RV(run_parts(CH_OP_DECRYPT, &m, k, want, 64, chunks[c],
				                        false, out, sizeof(out), &n),
				              CKR_OK) ||
				    !CHECK(same(out, n, pt, 64)))
					fprintf(stderr,
					        "\t%s, %zu-bit key, decrypt chunks of %zu\n",
					        kats[r].name, klen * 8, chunks[c]);
			}
			ch_attrs_free(k);
		}
	}
}

/* CBC_PAD is CBC over the data and its PKCS#7 padding: checked against
 * CBC (known-answer tested above) for every length 0..48, single and
 * multi-part, and back. */
static void test_cbc_pad_is_cbc_of_padded_data(void)
{
	CK_BYTE key[16], iv[16], data[64], padded[80], want[80], out[96];
	CK_MECHANISM cbc = { CKM_AES_CBC, iv, 16 }, pad = { CKM_AES_CBC_PAD, iv, 16 };
	CK_ULONG n, len, plen;
	ch_attrs *k;
	size_t c;

	unhex(kat_keys[0], key, 16);
	unhex(kat_iv, iv, 16);
	unhex(kat_plain, data, 64);
	if (!CHECK((k = aes_key(key, 16)) != NULL))
		return;
	for (len = 0; len <= 48; len++) {
		plen = (len / 16 + 1) * 16;
		memcpy(padded, data, len);
		memset(padded + len, (int)(plen - len), plen - len);
		n = sizeof(want);
		CHECK_RV(run_oneshot(CH_OP_ENCRYPT, &cbc, k, padded, plen, want, &n), CKR_OK);
		n = sizeof(out);
		if (!CHECK_RV(run_oneshot(CH_OP_ENCRYPT, &pad, k, data, len, out, &n), CKR_OK) ||
		    !CHECK(same(out, n, want, plen)))
			fprintf(stderr, "\tCBC_PAD of %lu bytes\n", len);
		n = sizeof(out);
		if (!CHECK_RV(run_oneshot(CH_OP_DECRYPT, &pad, k, want, plen, out, &n), CKR_OK) ||
		    !CHECK(same(out, n, data, len)))
			fprintf(stderr, "\tCBC_PAD decrypt to %lu bytes\n", len);
		for (c = 1; c <= 17; c += 4) {
			n = sizeof(out);
			if (!CHECK_RV(run_parts(CH_OP_ENCRYPT, &pad, k, data, len, c, false, out,
			                        sizeof(out), &n),
			              CKR_OK) ||
			    !CHECK(same(out, n, want, plen)))
				fprintf(stderr, "\tCBC_PAD of %lu bytes in chunks of %zu\n", len,
				        c);
			n = sizeof(out);
			if (!CHECK_RV(run_parts(CH_OP_DECRYPT, &pad, k, want, plen, c, true, out,
			                        sizeof(out), &n),
			              CKR_OK) ||
			    !CHECK(same(out, n, data, len)))
				fprintf(stderr, "\tCBC_PAD decrypt of %lu bytes in chunks of %zu\n",
				        plen, c);
		}
	}
	ch_attrs_free(k);
}

/* Multi-part CBC_PAD decryption holds back the last block it has, since it
 * may be the padded one; the final call releases it without the padding.
 * Lengths there are upper bounds, and a short buffer is answered with the
 * exact length, keeping the operation. */
static void test_cbc_pad_decrypt_holds_back_last_block(void)
{
	CK_BYTE key[16], iv[16], data[64], ct[48], out[64];
	CK_MECHANISM pad = { CKM_AES_CBC_PAD, iv, 16 };
	CK_ULONG n = sizeof(ct), q;
	ch_attrs *k;
	ch_op *op = NULL;

	unhex(kat_keys[0], key, 16);
	unhex(kat_iv, iv, 16);
	unhex(kat_plain, data, 64);
	if (!CHECK((k = aes_key(key, 16)) != NULL))
		return;
	CHECK_RV(run_oneshot(CH_OP_ENCRYPT, &pad, k, data, 20, ct, &n), CKR_OK);
	CHECK_UL(n, 32);

	if (!CHECK_RV(ch_op_init(CH_OP_DECRYPT, &pad, k, &op), CKR_OK))
		goto out;
	q = 0;
	CHECK_RV(ch_op_update(op, ct, 16, NULL, &q), CKR_OK);
	CHECK_UL(q, 0); /* one block: held back */
	q = sizeof(out);
	CHECK_RV(ch_op_update(op, ct, 16, out, &q), CKR_OK);
	CHECK_UL(q, 0);
	q = sizeof(out);
	CHECK_RV(ch_op_update(op, ct + 16, 16, out, &q), CKR_OK);
	CHECK_UL(q, 16); /* the first block out, the second held */
	CHECK(memcmp(out, data, 16) == 0);
	q = 0;
	CHECK_RV(ch_op_final(op, NULL, &q), CKR_OK);
	CHECK_UL(q, 16); /* an upper bound */
	q = 3;
	CHECK_RV(ch_op_final(op, out + 16, &q), CKR_BUFFER_TOO_SMALL);
	CHECK_UL(q, 4); /* the exact length */
	q = 4;
	CHECK_RV(ch_op_final(op, out + 16, &q), CKR_OK);
	CHECK_UL(q, 4);
	CHECK(memcmp(out, data, 20) == 0);
	ch_op_free(op);
	op = NULL;

	/* One-shot: the query gives the bound, a short buffer the exact
	 * length, and the retry still decrypts from the start. */
	if (!CHECK_RV(ch_op_init(CH_OP_DECRYPT, &pad, k, &op), CKR_OK))
		goto out;
	q = 0;
	CHECK_RV(ch_op_oneshot(op, ct, 32, NULL, &q), CKR_OK);
	CHECK_UL(q, 32);
	q = 19;
	CHECK_RV(ch_op_oneshot(op, ct, 32, out, &q), CKR_BUFFER_TOO_SMALL);
	CHECK_UL(q, 20);
	memset(out, 0, sizeof(out));
	q = 20;
	CHECK_RV(ch_op_oneshot(op, ct, 32, out, &q), CKR_OK);
	CHECK(same(out, q, data, 20));
	ch_op_free(op);
	op = NULL;

	/* Encrypt side: the short buffer of a one-shot call keeps it too. */
	if (!CHECK_RV(ch_op_init(CH_OP_ENCRYPT, &pad, k, &op), CKR_OK))
		goto out;
	q = 31;
	CHECK_RV(ch_op_oneshot(op, data, 20, out, &q), CKR_BUFFER_TOO_SMALL);
	CHECK_UL(q, 32);
	q = 32;
	CHECK_RV(ch_op_oneshot(op, data, 20, out, &q), CKR_OK);
	CHECK(same(out, q, ct, 32));
out:
	ch_op_free(op);
	ch_attrs_free(k);
}

/* Every malformed padding gives CKR_ENCRYPTED_DATA_INVALID and no output,
 * single and multi-part. */
static void test_cbc_pad_bad_padding_one_code(void)
{
	static const char *const last_blocks[] = {
		"00000000000000000000000000000000", /* pad 0 */
		"00000000000000000000000000000011", /* pad 17 */
		"000000000000000000000000000000ff", /* pad 255 */
		"00000000000000000000000000000202"
		"",                                 /* fine: control, pad 2 */
		"00000000000000000000000000000302", /* pad 2, byte before not 2 */
		"00000000000000000000000003030203", /* pad 3, middle byte wrong */
		"0f101010101010101010101010101010", /* pad 16, first byte wrong */
		"10101010101010101010101010101010", /* fine: control, pad 16 */
		"00000000000000000000080808080809", /* pad 9 over eight 8s */
	};
	CK_BYTE key[24], iv[16], blocks[32], ct[32], out[48];
	CK_MECHANISM cbc = { CKM_AES_CBC, iv, 16 }, pad = { CKM_AES_CBC_PAD, iv, 16 };
	CK_ULONG n, q;
	ch_attrs *k;
	size_t i, j;
	bool fine;
	ch_op *op = NULL;

	unhex(kat_keys[1], key, 24);
	unhex(kat_iv, iv, 16);
	if (!CHECK((k = aes_key(key, 24)) != NULL))
		return;
	memset(blocks, 0x61, 16);
	for (i = 0; i < sizeof(last_blocks) / sizeof(last_blocks[0]); i++) {
		fine = i == 3 || i == 7;
		unhex(last_blocks[i], blocks + 16, 16);
		n = sizeof(ct);
		CHECK_RV(run_oneshot(CH_OP_ENCRYPT, &cbc, k, blocks, 32, ct, &n), CKR_OK);
		memset(out, 0x77, sizeof(out));
		n = sizeof(out);
		if (!CHECK_RV(run_oneshot(CH_OP_DECRYPT, &pad, k, ct, 32, out, &n),
		              fine ? CKR_OK : CKR_ENCRYPTED_DATA_INVALID))
			fprintf(stderr, "\tlast block %s\n", last_blocks[i]);
		if (!fine) {
			for (j = 0; j < sizeof(out) && out[j] == 0x77; j++)
				;
			CHECK_UL(j, sizeof(out));
		}
		if (!CHECK_RV(ch_op_init(CH_OP_DECRYPT, &pad, k, &op), CKR_OK))
			continue;
		q = sizeof(out);
		CHECK_RV(ch_op_update(op, ct, 32, out, &q), CKR_OK);
		q = sizeof(out);
		if (!CHECK_RV(ch_op_final(op, out, &q), fine ? CKR_OK : CKR_ENCRYPTED_DATA_INVALID))
			fprintf(stderr, "\tmulti-part, last block %s\n", last_blocks[i]);
		ch_op_free(op);
		op = NULL;
	}
	ch_attrs_free(k);
}

static void test_block_mode_length_and_parameter_errors(void)
{
	CK_BYTE key[32] = { 1 }, iv[17] = { 0 }, data[64] = { 0 }, out[128];
	CK_AES_CTR_PARAMS ctr = { 128, { 0 } };
	CK_MECHANISM m;
	CK_ULONG n;
	ch_attrs *k = aes_key(key, 32), *bad = aes_key(key, 20);
	ch_op *op = NULL;
	static const CK_MECHANISM_TYPE modes[] = { CKM_AES_ECB, CKM_AES_CBC };
	size_t i;

	if (!CHECK(k != NULL && bad != NULL))
		goto out;
	for (i = 0; i < 2; i++) {
		m = (CK_MECHANISM){ modes[i], modes[i] == CKM_AES_ECB ? NULL : iv,
			            modes[i] == CKM_AES_ECB ? 0 : 16 };
		n = sizeof(out);
		CHECK_RV(run_oneshot(CH_OP_ENCRYPT, &m, k, data, 15, out, &n), CKR_DATA_LEN_RANGE);
		n = sizeof(out);
		CHECK_RV(run_oneshot(CH_OP_DECRYPT, &m, k, data, 17, out, &n),
		         CKR_ENCRYPTED_DATA_LEN_RANGE);
		n = sizeof(out);
		CHECK_RV(run_oneshot(CH_OP_ENCRYPT, &m, k, data, 0, out, &n), CKR_OK);
		CHECK_UL(n, 0);
		n = sizeof(out);
		CHECK_RV(run_parts(CH_OP_ENCRYPT, &m, k, data, 33, 8, false, out, sizeof(out), &n),
		         CKR_DATA_LEN_RANGE);
		n = sizeof(out);
		CHECK_RV(run_parts(CH_OP_DECRYPT, &m, k, data, 31, 8, false, out, sizeof(out), &n),
		         CKR_ENCRYPTED_DATA_LEN_RANGE);
		CHECK_RV(ch_op_init(CH_OP_ENCRYPT, &m, bad, &op), CKR_KEY_SIZE_RANGE);
		CHECK_RV(ch_op_init(CH_OP_SIGN, &m, k, &op), CKR_MECHANISM_INVALID);
	}
	/* CBC_PAD decryption of nothing or of a partial block. */
	m = (CK_MECHANISM){ CKM_AES_CBC_PAD, iv, 16 };
	n = sizeof(out);
	CHECK_RV(run_oneshot(CH_OP_DECRYPT, &m, k, data, 0, out, &n), CKR_ENCRYPTED_DATA_LEN_RANGE);
	n = sizeof(out);
	CHECK_RV(run_oneshot(CH_OP_DECRYPT, &m, k, data, 17, out, &n),
	         CKR_ENCRYPTED_DATA_LEN_RANGE);
	n = sizeof(out);
	CHECK_RV(run_parts(CH_OP_DECRYPT, &m, k, data, 0, 8, true, out, sizeof(out), &n),
	         CKR_ENCRYPTED_DATA_LEN_RANGE);
	n = sizeof(out);
	CHECK_RV(run_parts(CH_OP_DECRYPT, &m, k, data, 20, 8, true, out, sizeof(out), &n),
	         CKR_ENCRYPTED_DATA_LEN_RANGE);

	/* Parameters. */
	m = (CK_MECHANISM){ CKM_AES_ECB, iv, 16 };
	CHECK_RV(ch_op_init(CH_OP_ENCRYPT, &m, k, &op), CKR_MECHANISM_PARAM_INVALID);
	m = (CK_MECHANISM){ CKM_AES_CBC, iv, 15 };
	CHECK_RV(ch_op_init(CH_OP_ENCRYPT, &m, k, &op), CKR_MECHANISM_PARAM_INVALID);
	m = (CK_MECHANISM){ CKM_AES_CBC_PAD, iv, 17 };
	CHECK_RV(ch_op_init(CH_OP_DECRYPT, &m, k, &op), CKR_MECHANISM_PARAM_INVALID);
	m = (CK_MECHANISM){ CKM_AES_CBC, NULL, 16 };
	CHECK_RV(ch_op_init(CH_OP_ENCRYPT, &m, k, &op), CKR_MECHANISM_PARAM_INVALID);
	m = (CK_MECHANISM){ CKM_AES_CTR, &ctr, sizeof(ctr) - 1 };
	CHECK_RV(ch_op_init(CH_OP_ENCRYPT, &m, k, &op), CKR_MECHANISM_PARAM_INVALID);
	m.ulParameterLen = sizeof(ctr);
	ctr.ulCounterBits = 0;
	CHECK_RV(ch_op_init(CH_OP_ENCRYPT, &m, k, &op), CKR_MECHANISM_PARAM_INVALID);
	ctr.ulCounterBits = 129;
	CHECK_RV(ch_op_init(CH_OP_ENCRYPT, &m, k, &op), CKR_MECHANISM_PARAM_INVALID);
	/* The parameter is checked before the key. */
	CHECK_RV(ch_op_init(CH_OP_ENCRYPT, &m, bad, &op), CKR_MECHANISM_PARAM_INVALID);
	CHECK(op == NULL);
out:
	ch_op_free(op);
	ch_attrs_free(k);
	ch_attrs_free(bad);
}

/* The counter is the low ulCounterBits bits of cb; data that would take it
 * past its last value is refused before anything is encrypted, and up to
 * that point the keystream is AES of the successive counter blocks. */
static void test_ctr_counter_wrap_refused(void)
{
	static const struct {
		CK_ULONG bits;
		const char *cb;
		CK_ULONG blocks; /* blocks the counter allows */
	} cases[] = {
		{ 8, "000102030405060708090a0b0c0d0efe", 2 },
		{ 1, "000102030405060708090a0b0c0d0e01", 1 },
		{ 1, "000102030405060708090a0b0c0d0e00", 2 },
		{ 16, "0000000000000000000000000000fff0", 16 },
		{ 64, "0000000000000000ffffffffffffffff", 1 },
		{ 65, "0000000000000001fffffffffffffffe", 2 },
		{ 128, "ffffffffffffffffffffffffffffffff", 1 },
		{ 128, "fffffffffffffffffffffffffffffffd", 3 },
	};
	CK_BYTE key[16], data[300], out[320], ks[320], blocks[320];
	CK_AES_CTR_PARAMS ctr;
	CK_MECHANISM m = { CKM_AES_CTR, &ctr, sizeof(ctr) }, ecb = { CKM_AES_ECB, NULL, 0 };
	CK_ULONG n, len, b, i;
	ch_attrs *k;
	ch_op *op = NULL;
	size_t c;

	unhex(kat_keys[0], key, 16);
	memset(data, 0, sizeof(data)); /* so the output is the keystream */
	if (!CHECK((k = aes_key(key, 16)) != NULL))
		return;
	for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		ctr.ulCounterBits = cases[c].bits;
		unhex(cases[c].cb, ctr.cb, 16);
		len = cases[c].blocks * 16;
		/* The counter blocks: cb, cb + 1, ... within the counter bits. */
		for (b = 0; b < cases[c].blocks; b++) {
			memcpy(blocks + 16 * b, ctr.cb, 16);
			for (i = 0; i < b; i++) {
				int j = 15;

				while (j >= 0 && ++blocks[16 * b + j] == 0)
					j--;
			}
		}
		n = sizeof(ks);
		CHECK_RV(run_oneshot(CH_OP_ENCRYPT, &ecb, k, blocks, len, ks, &n), CKR_OK);
		n = sizeof(out);
		if (!CHECK_RV(run_oneshot(CH_OP_ENCRYPT, &m, k, data, len, out, &n), CKR_OK) ||
		    !CHECK(same(out, n, ks, len)))
			fprintf(stderr, "\t%lu counter bits, cb %s: %lu bytes\n", cases[c].bits,
			        cases[c].cb, len);
		n = sizeof(out);
		if (!CHECK_RV(run_oneshot(CH_OP_ENCRYPT, &m, k, data, len + 1, out, &n),
		              CKR_DATA_LEN_RANGE))
			fprintf(stderr, "\t%lu counter bits, cb %s: %lu bytes\n", cases[c].bits,
			        cases[c].cb, len + 1);
		n = sizeof(out);
		CHECK_RV(run_oneshot(CH_OP_DECRYPT, &m, k, data, len + 1, out, &n),
		         CKR_ENCRYPTED_DATA_LEN_RANGE);
		/* Multi-part: the update that would wrap is refused, and ends the
		 * operation. */
		if (!CHECK_RV(ch_op_init(CH_OP_ENCRYPT, &m, k, &op), CKR_OK))
			continue;
		n = sizeof(out);
		CHECK_RV(ch_op_update(op, data, len - 3, out, &n), CKR_OK);
		CHECK_UL(n, len - 3);
		n = sizeof(out);
		CHECK_RV(ch_op_update(op, data, 4, out, &n), CKR_DATA_LEN_RANGE);
		n = sizeof(out);
		CHECK_RV(ch_op_update(op, data, 1, out, &n), CKR_OPERATION_NOT_INITIALIZED);
		ch_op_free(op);
		op = NULL;
	}
	ch_attrs_free(k);
}

/* ---------------------------------------------------------------------- */
/* CCM                                                                     */
/* ---------------------------------------------------------------------- */

static const struct {
	const char *name, *key, *nonce, *aad, *pt, *ct;
	CK_ULONG mac;
} ccm_kats[] = {
	{ "SP 800-38C C.1", "404142434445464748494a4b4c4d4e4f", "10111213141516",
	  "0001020304050607", "20212223", "7162015b4dac255d", 4 },
	{ "SP 800-38C C.2", "404142434445464748494a4b4c4d4e4f", "1011121314151617",
	  "000102030405060708090a0b0c0d0e0f", "202122232425262728292a2b2c2d2e2f",
	  "d2a1f0e051ea5f62081a7792073d593d1fc64fbfaccd", 6 },
	{ "SP 800-38C C.3", "404142434445464748494a4b4c4d4e4f", "101112131415161718191a1b",
	  "000102030405060708090a0b0c0d0e0f10111213",
	  "202122232425262728292a2b2c2d2e2f3031323334353637",
	  "e3b201a9f5b71a7a9b1ceaeccd97e70b6176aad9a4428aa5484392fbc1b09951", 8 },
	{ "RFC 3610 packet vector #1", "c0c1c2c3c4c5c6c7c8c9cacbcccdcecf",
	  "00000003020100a0a1a2a3a4a5", "0001020304050607",
	  "08090a0b0c0d0e0f101112131415161718191a1b1c1d1e",
	  "588c979a61c663d2f066d0c2c0f989806d5f6b61dac38417e8d12cfdf926e0", 8 },
};

static void ccm_mech(CK_MECHANISM *m, CK_CCM_PARAMS *p, CK_ULONG data_len, const CK_BYTE *nonce,
                     CK_ULONG nonce_len, const CK_BYTE *aad, CK_ULONG aad_len, CK_ULONG mac)
{
	memset(p, 0, sizeof(*p));
	p->ulDataLen = data_len;
	p->pNonce = (CK_BYTE_PTR)nonce;
	p->ulNonceLen = nonce_len;
	p->pAAD = (CK_BYTE_PTR)aad;
	p->ulAADLen = aad_len;
	p->ulMACLen = mac;
	m->mechanism = CKM_AES_CCM;
	m->pParameter = p;
	m->ulParameterLen = sizeof(*p);
}

static void test_ccm_known_answers(void)
{
	CK_BYTE key[16], nonce[13], aad[32], pt[32], ct[48], out[64];
	CK_ULONG nl, al, pl, cl, n;
	CK_CCM_PARAMS p;
	CK_MECHANISM m;
	ch_attrs *k;
	size_t i, c;

	for (i = 0; i < sizeof(ccm_kats) / sizeof(ccm_kats[0]); i++) {
		unhex(ccm_kats[i].key, key, 16);
		nl = unhex(ccm_kats[i].nonce, nonce, sizeof(nonce));
		al = unhex(ccm_kats[i].aad, aad, sizeof(aad));
		pl = unhex(ccm_kats[i].pt, pt, sizeof(pt));
		cl = unhex(ccm_kats[i].ct, ct, sizeof(ct));
		if (!CHECK((k = aes_key(key, 16)) != NULL))
			continue;
		ccm_mech(&m, &p, pl, nonce, nl, aad, al, ccm_kats[i].mac);
		n = sizeof(out);
		if (!CHECK_RV(run_oneshot(CH_OP_ENCRYPT, &m, k, pt, pl, out, &n), CKR_OK) ||
		    !CHECK(same(out, n, ct, cl)))
			fprintf(stderr, "\t%s encrypt\n", ccm_kats[i].name);
		n = sizeof(out);
		if (!CHECK_RV(run_oneshot(CH_OP_DECRYPT, &m, k, ct, cl, out, &n), CKR_OK) ||
		    !CHECK(same(out, n, pt, pl)))
			fprintf(stderr, "\t%s decrypt\n", ccm_kats[i].name);
		for (c = 1; c < 20; c += 6) {
			n = sizeof(out);
			if (!CHECK_RV(run_parts(CH_OP_ENCRYPT, &m, k, pt, pl, c, false, out,
			                        sizeof(out), &n),
			              CKR_OK) ||
			    !CHECK(same(out, n, ct, cl)))
				fprintf(stderr, "\t%s encrypt in chunks of %zu\n", ccm_kats[i].name,
				        c);
			n = sizeof(out);
			if (!CHECK_RV(run_parts(CH_OP_DECRYPT, &m, k, ct, cl, c, false, out,
			                        sizeof(out), &n),
			              CKR_OK) ||
			    !CHECK(same(out, n, pt, pl)))
				fprintf(stderr, "\t%s decrypt in chunks of %zu\n", ccm_kats[i].name,
				        c);
		}
		/* A flipped bit anywhere fails, with the output wiped. */
		ct[i % cl] ^= 0x04;
		memset(out, 0x33, sizeof(out));
		n = sizeof(out);
		CHECK_RV(run_oneshot(CH_OP_DECRYPT, &m, k, ct, cl, out, &n),
		         CKR_ENCRYPTED_DATA_INVALID);
		for (n = 0; n < pl && out[n] == 0; n++)
			;
		CHECK_UL(n, pl);
		ch_attrs_free(k);
	}
}

static void test_ccm_lengths_and_parameters(void)
{
	CK_BYTE key[16] = { 5 }, nonce[14] = { 1 }, data[100] = { 2 }, out[140], ct[140];
	CK_CCM_PARAMS p;
	CK_MECHANISM m;
	CK_ULONG n, cl;
	ch_attrs *k = aes_key(key, 16);
	ch_op *op = NULL;
	static const CK_ULONG bad_macs[] = { 0, 2, 3, 5, 15, 17, 18 };
	size_t i;

	if (!CHECK(k != NULL))
		return;
	/* The empty message: a MAC alone. */
	ccm_mech(&m, &p, 0, nonce, 7, NULL, 0, 16);
	cl = sizeof(ct);
	CHECK_RV(run_oneshot(CH_OP_ENCRYPT, &m, k, NULL, 0, ct, &cl), CKR_OK);
	CHECK_UL(cl, 16);
	n = sizeof(out);
	CHECK_RV(run_oneshot(CH_OP_DECRYPT, &m, k, ct, cl, out, &n), CKR_OK);
	CHECK_UL(n, 0);
	ct[0] ^= 1;
	n = sizeof(out);
	CHECK_RV(run_oneshot(CH_OP_DECRYPT, &m, k, ct, cl, out, &n), CKR_ENCRYPTED_DATA_INVALID);

	/* ulDataLen is the plaintext's length, both ways. */
	ccm_mech(&m, &p, 100, nonce, 13, data, 10, 10);
	cl = sizeof(ct);
	CHECK_RV(run_oneshot(CH_OP_ENCRYPT, &m, k, data, 100, ct, &cl), CKR_OK);
	CHECK_UL(cl, 110);
	n = sizeof(out);
	CHECK_RV(run_oneshot(CH_OP_ENCRYPT, &m, k, data, 99, out, &n), CKR_DATA_LEN_RANGE);
	n = sizeof(out);
	CHECK_RV(run_oneshot(CH_OP_DECRYPT, &m, k, ct, 109, out, &n), CKR_ENCRYPTED_DATA_LEN_RANGE);
	n = sizeof(out);
	CHECK_RV(run_oneshot(CH_OP_DECRYPT, &m, k, ct, 110, out, &n), CKR_OK);
	CHECK(same(out, n, data, 100));
	/* Multi-part: updates return nothing; too much or too little is
	 * refused. */
	if (CHECK_RV(ch_op_init(CH_OP_ENCRYPT, &m, k, &op), CKR_OK)) {
		n = sizeof(out);
		CHECK_RV(ch_op_update(op, data, 60, out, &n), CKR_OK);
		CHECK_UL(n, 0);
		n = sizeof(out);
		CHECK_RV(ch_op_update(op, data, 41, out, &n), CKR_DATA_LEN_RANGE);
		ch_op_free(op);
		op = NULL;
	}
	n = sizeof(out);
	CHECK_RV(run_parts(CH_OP_ENCRYPT, &m, k, data, 99, 33, false, out, sizeof(out), &n),
	         CKR_DATA_LEN_RANGE);
	n = sizeof(out);
	CHECK_RV(run_parts(CH_OP_DECRYPT, &m, k, ct, 100, 33, false, out, sizeof(out), &n),
	         CKR_ENCRYPTED_DATA_LEN_RANGE);

	/* Nonce 7..13 bytes, MAC 4..16 and even, the length must fit. */
	ccm_mech(&m, &p, 10, nonce, 6, NULL, 0, 8);
	CHECK_RV(ch_op_init(CH_OP_ENCRYPT, &m, k, &op), CKR_MECHANISM_PARAM_INVALID);
	ccm_mech(&m, &p, 10, nonce, 14, NULL, 0, 8);
	CHECK_RV(ch_op_init(CH_OP_ENCRYPT, &m, k, &op), CKR_MECHANISM_PARAM_INVALID);
	ccm_mech(&m, &p, 10, NULL, 12, NULL, 0, 8);
	CHECK_RV(ch_op_init(CH_OP_ENCRYPT, &m, k, &op), CKR_MECHANISM_PARAM_INVALID);
	for (i = 0; i < sizeof(bad_macs) / sizeof(bad_macs[0]); i++) {
		ccm_mech(&m, &p, 10, nonce, 12, NULL, 0, bad_macs[i]);
		if (!CHECK_RV(ch_op_init(CH_OP_DECRYPT, &m, k, &op), CKR_MECHANISM_PARAM_INVALID))
			fprintf(stderr, "\tulMACLen %lu\n", bad_macs[i]);
	}
	ccm_mech(&m, &p, 10, nonce, 12, NULL, 3, 8);
	CHECK_RV(ch_op_init(CH_OP_ENCRYPT, &m, k, &op), CKR_MECHANISM_PARAM_INVALID);
	/* A 13-byte nonce leaves a 2-byte length field: at most 65535. */
	ccm_mech(&m, &p, 65535, nonce, 13, NULL, 0, 8);
	CHECK_RV(ch_op_init(CH_OP_ENCRYPT, &m, k, &op), CKR_OK);
	ch_op_free(op);
	op = NULL;
	ccm_mech(&m, &p, 65536, nonce, 13, NULL, 0, 8);
	CHECK_RV(ch_op_init(CH_OP_ENCRYPT, &m, k, &op), CKR_MECHANISM_PARAM_INVALID);
	ccm_mech(&m, &p, 65536, nonce, 12, NULL, 0, 8);
	CHECK_RV(ch_op_init(CH_OP_ENCRYPT, &m, k, &op), CKR_OK);
	ch_op_free(op);
	op = NULL;
	m.ulParameterLen = sizeof(p) - 1;
	CHECK_RV(ch_op_init(CH_OP_ENCRYPT, &m, k, &op), CKR_MECHANISM_PARAM_INVALID);
	CHECK(op == NULL);
	ch_attrs_free(k);
}

int main(void)
{
	test_sp800_38a_known_answers();
	test_cbc_pad_is_cbc_of_padded_data();
	test_cbc_pad_decrypt_holds_back_last_block();
	test_cbc_pad_bad_padding_one_code();
	test_block_mode_length_and_parameter_errors();
	test_ctr_counter_wrap_refused();
	test_ccm_known_answers();
	test_ccm_lengths_and_parameters();
	return ch_test_done();
}
