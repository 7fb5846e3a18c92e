/*
 * The digest family (token/mech_digest.c) through the module's PKCS#11
 * calls: known answers from FIPS 180-4 and FIPS 202's examples ("abc",
 * the empty message, the 448- and 896-bit messages, one million 'a'),
 * multi-part in odd chunk sizes equal to single-part, the buffer
 * convention (length query, CKR_BUFFER_TOO_SMALL keeping the operation),
 * C_DigestKey between data parts, the mechanism list and info, and the
 * state rules.
 */
#include <stdlib.h>
#include <string.h>

#include "module.h"

#define M448 "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
#define M896                                                                                       \
	"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqr" \
	"lmnopqrsmnopqrstnopqrstu"

typedef struct kat {
	CK_MECHANISM_TYPE mech;
	const char *name;
	const char *msg;
	const char *hex;
} kat;

/* The standards' example digests (FIPS 180-4 via NIST's examples page,
 * FIPS 202 likewise; the empty-message values are the same examples'). */
static const kat kats[] = {
	{ CKM_SHA_1, "SHA-1", "abc", "a9993e364706816aba3e25717850c26c9cd0d89d" },
	{ CKM_SHA_1, "SHA-1", "", "da39a3ee5e6b4b0d3255bfef95601890afd80709" },
	{ CKM_SHA_1, "SHA-1", M448, "84983e441c3bd26ebaae4aa1f95129e5e54670f1" },
	{ CKM_SHA224, "SHA-224", "abc",
	  "23097d223405d8228642a477bda255b32aadbce4bda0b3f7e36c9da7" },
	{ CKM_SHA224, "SHA-224", "", "d14a028c2a3a2bc9476102bb288234c415a2b01f828ea62ac5b3e42f" },
	{ CKM_SHA224, "SHA-224", M448, "75388b16512776cc5dba5da1fd890150b0c6455cb4f58b1952522525" },
	{ CKM_SHA256, "SHA-256", "abc",
	  "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
	{ CKM_SHA256, "SHA-256", "",
	  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
	{ CKM_SHA256, "SHA-256", M448,
	  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
	{ CKM_SHA384, "SHA-384", "abc",
	  "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed"
	  "8086072ba1e7cc2358baeca134c825a7" },
	{ CKM_SHA384, "SHA-384", "",
	  "38b060a751ac96384cd9327eb1b1e36a21fdb71114be07434c0cc7bf63f6e1da"
	  "274edebfe76f65fbd51ad2f14898b95b" },
	{ CKM_SHA384, "SHA-384", M896,
	  "09330c33f71147e83d192fc782cd1b4753111b173b3b05d22fa08086e3b0f712"
	  "fcc7c71a557e2db966c3e9fa91746039" },
	{ CKM_SHA512, "SHA-512", "abc",
	  "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
	  "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f" },
	{ CKM_SHA512, "SHA-512", "",
	  "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
	  "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e" },
	{ CKM_SHA512, "SHA-512", M896,
	  "8e959b75dae313da8cf4f72814fc143f8f7779c6eb9f7fa17299aeadb6889018"
	  "501d289e4900f7e4331b99dec4b5433ac7d329eeb6dd26545e96e55b874be909" },
	{ CKM_SHA512_224, "SHA-512/224", "abc",
	  "4634270f707b6a54daae7530460842e20e37ed265ceee9a43e8924aa" },
	{ CKM_SHA512_224, "SHA-512/224", M896,
	  "23fec5bb94d60b23308192640b0c453335d664734fe40e7268674af9" },
	{ CKM_SHA512_256, "SHA-512/256", "abc",
	  "53048e2681941ef99b2e29b76b4c7dabe4c2d0c634fc6d46e0e2f13107e7af23" },
	{ CKM_SHA512_256, "SHA-512/256", M896,
	  "3928e184fb8690f840da3988121d31be65cb9d3ef83ee6146feac861e19b563a" },
	{ CKM_SHA3_224, "SHA3-224", "abc",
	  "e642824c3f8cf24ad09234ee7d3c766fc9a3a5168d0c94ad73b46fdf" },
	{ CKM_SHA3_224, "SHA3-224", "",
	  "6b4e03423667dbb73b6e15454f0eb1abd4597f9a1b078e3f5b5a6bc7" },
	{ CKM_SHA3_256, "SHA3-256", "abc",
	  "3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532" },
	{ CKM_SHA3_256, "SHA3-256", "",
	  "a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a" },
	{ CKM_SHA3_256, "SHA3-256", M448,
	  "41c0dba2a9d6240849100376a8235e2c82e1b9998a999e21db32dd97496d3376" },
	{ CKM_SHA3_384, "SHA3-384", "abc",
	  "ec01498288516fc926459f58e2c6ad8df9b473cb0fc08c2596da7cf0e49be4b2"
	  "98d88cea927ac7f539f1edf228376d25" },
	{ CKM_SHA3_384, "SHA3-384", "",
	  "0c63a75b845e4f7d01107d852e4c2485c51a50aaaa94fc61995e71bbee983a2a"
	  "c3713831264adb47fb6bd1e058d5f004" },
	{ CKM_SHA3_512, "SHA3-512", "abc",
	  "b751850b1a57168a5693cd924b6b096e08f621827444f70d884f5d0240d2712e"
	  "10e116e9192af3c91a7ec57647e3934057340b4cf408d5a56592f8274eec53f0" },
	{ CKM_SHA3_512, "SHA3-512", "",
	  "a69f73cca23a9ac5c8b567dc185a756e97c982164fe25859e0d1dcc1475c80a6"
	  "15b2123af1f5f94c11e3e9402c3ac558f500199d95b6d3e301758586281dcd26" },
	{ CKM_SHA3_512, "SHA3-512", M896,
	  "afebb2ef542e6579c50cad06d2e578f9f8dd6881d7dc824d26360feebf18a4fa"
	  "73e3261122948efcfd492e74e82e2189ed0fb440d187f382270cb455f21dd185" },
};

/* Every digest mechanism with its size. */
static const struct {
	CK_MECHANISM_TYPE mech;
	CK_ULONG size;
} digests[] = {
	{ CKM_SHA_1, 20 },    { CKM_SHA224, 28 },     { CKM_SHA256, 32 },     { CKM_SHA384, 48 },
	{ CKM_SHA512, 64 },   { CKM_SHA512_224, 28 }, { CKM_SHA512_256, 32 }, { CKM_SHA3_224, 28 },
	{ CKM_SHA3_256, 32 }, { CKM_SHA3_384, 48 },   { CKM_SHA3_512, 64 },
};

/* Prints a digest mismatch. */
static bool same_digest(const char *what, const CK_BYTE *got, CK_ULONG got_len, const CK_BYTE *want,
                        CK_ULONG want_len)
{
	char hg[2 * 64 + 1], hw[2 * 64 + 1];

	if (got_len == want_len && memcmp(got, want, want_len) == 0)
		return true;
	ch_t_hex(got, got_len < 64 ? got_len : 64, hg, false);
	ch_t_hex(want, want_len < 64 ? want_len : 64, hw, false);
	fprintf(stderr, "%s:\n    expected %s\n    got      %s\n", what, hw, hg);
	return false;
}

/* C_DigestInit + C_Digest (after a length query) into out. */
static CK_RV digest_once(CK_SESSION_HANDLE h, CK_MECHANISM_TYPE mech, const CK_BYTE *in,
                         CK_ULONG in_len, CK_BYTE *out, CK_ULONG *out_len)
{
	CK_MECHANISM m = { mech, NULL, 0 };
	CK_ULONG need = 0;
	CK_RV rv;

	if ((rv = P11->C_DigestInit(h, &m)) != CKR_OK)
		return rv;
	if ((rv = P11->C_Digest(h, (CK_BYTE_PTR)in, in_len, NULL, &need)) != CKR_OK)
		return rv;
	if (need > *out_len)
		return CKR_GENERAL_ERROR;
	*out_len = need;
	return P11->C_Digest(h, (CK_BYTE_PTR)in, in_len, out, out_len);
}

/* C_DigestInit, C_DigestUpdate in chunks of chunk bytes, C_DigestFinal. */
static CK_RV digest_parts(CK_SESSION_HANDLE h, CK_MECHANISM_TYPE mech, const CK_BYTE *in,
                          CK_ULONG in_len, CK_ULONG chunk, CK_BYTE *out, CK_ULONG *out_len)
{
	CK_MECHANISM m = { mech, NULL, 0 };
	CK_ULONG done = 0, n;
	CK_RV rv;

	if ((rv = P11->C_DigestInit(h, &m)) != CKR_OK)
		return rv;
	while (done < in_len) {
		n = in_len - done < chunk ? in_len - done : chunk;
		if ((rv = P11->C_DigestUpdate(h, (CK_BYTE_PTR)in + done, n)) != CKR_OK)
			return rv;
		done += n;
	}
	return P11->C_DigestFinal(h, out, out_len);
}

static void test_digest_known_answers_single_and_multi_part(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h = CK_INVALID_HANDLE;
	CK_BYTE want[64], got[64];
	CK_ULONG want_len, got_len;
	char what[128];

	if (!CHECK(ch_t_setup(&e)))
		goto out;
	REQUIRE_RV(ch_t_user_session(&e, false, &h), CKR_OK);
	for (size_t i = 0; i < CH_T_ARRAY_LEN(kats); i++) {
		const kat *k = &kats[i];
		CK_ULONG len = (CK_ULONG)strlen(k->msg);

		want_len = ch_t_unhex(k->hex, want, sizeof(want));
		snprintf(what, sizeof(what), "C_Digest %s(\"%.8s...\", %lu bytes)", k->name, k->msg,
		         (unsigned long)len);
		got_len = sizeof(got);
		CHECK_RV(digest_once(h, k->mech, (const CK_BYTE *)k->msg, len, got, &got_len),
		         CKR_OK);
		CHECK(same_digest(what, got, got_len, want, want_len));
		snprintf(what, sizeof(what), "C_DigestUpdate x3 + C_DigestFinal %s(%lu bytes)",
		         k->name, (unsigned long)len);
		got_len = sizeof(got);
		CHECK_RV(digest_parts(h, k->mech, (const CK_BYTE *)k->msg, len, 3, got, &got_len),
		         CKR_OK);
		CHECK(same_digest(what, got, got_len, want, want_len));
	}
out:
	ch_t_env_free(&e);
}

/* One million 'a' (FIPS 180-4 / FIPS 202 examples), one part and 1000. */
static void test_digest_one_million_a(void)
{
	static const kat mil[] = {
		{ CKM_SHA_1, "SHA-1", NULL, "34aa973cd4c4daa4f61eeb2bdbad27316534016f" },
		{ CKM_SHA256, "SHA-256", NULL,
		  "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0" },
		{ CKM_SHA3_256, "SHA3-256", NULL,
		  "5c8875ae474a3634ba4fd55ec85bffd661f32aca75c6d699d0cdcb6c115891c1" },
	};
	ch_t_env e;
	CK_SESSION_HANDLE h = CK_INVALID_HANDLE;
	CK_BYTE *msg = NULL, want[64], got[64];
	CK_ULONG want_len, got_len;

	if (!CHECK(ch_t_setup(&e)))
		goto out;
	REQUIRE_RV(ch_t_user_session(&e, false, &h), CKR_OK);
	REQUIRE((msg = malloc(1000000)) != NULL);
	memset(msg, 'a', 1000000);
	for (size_t i = 0; i < CH_T_ARRAY_LEN(mil); i++) {
		want_len = ch_t_unhex(mil[i].hex, want, sizeof(want));
		got_len = sizeof(got);
		CHECK_RV(digest_once(h, mil[i].mech, msg, 1000000, got, &got_len), CKR_OK);
		CHECK(same_digest(mil[i].name, got, got_len, want, want_len));
		got_len = sizeof(got);
		CHECK_RV(digest_parts(h, mil[i].mech, msg, 1000000, 1000, got, &got_len), CKR_OK);
		CHECK(same_digest(mil[i].name, got, got_len, want, want_len));
	}
out:
	free(msg);
	ch_t_env_free(&e);
}

static void test_digest_odd_chunks_equal_single_part(void)
{
	static const CK_ULONG chunks[] = { 1, 7, 13, 63, 64, 65, 127, 200, 1001 };
	ch_t_env e;
	CK_SESSION_HANDLE h = CK_INVALID_HANDLE;
	CK_BYTE msg[1001], one[64], parts[64];
	CK_ULONG one_len, parts_len;
	char what[96];

	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = (CK_BYTE)(i * 31 + 7);
	if (!CHECK(ch_t_setup(&e)))
		goto out;
	REQUIRE_RV(ch_t_user_session(&e, false, &h), CKR_OK);
	for (size_t d = 0; d < CH_T_ARRAY_LEN(digests); d++) {
		one_len = sizeof(one);
		CHECK_RV(digest_once(h, digests[d].mech, msg, sizeof(msg), one, &one_len), CKR_OK);
		CHECK_UL(one_len, digests[d].size);
		for (size_t c = 0; c < CH_T_ARRAY_LEN(chunks); c++) {
			parts_len = sizeof(parts);
			CHECK_RV(digest_parts(h, digests[d].mech, msg, sizeof(msg), chunks[c],
			                      parts, &parts_len),
			         CKR_OK);
			snprintf(what, sizeof(what), "mechanism 0x%lx in chunks of %lu",
			         (unsigned long)digests[d].mech, (unsigned long)chunks[c]);
			CHECK(same_digest(what, parts, parts_len, one, one_len));
		}
	}
out:
	ch_t_env_free(&e);
}

static void test_digest_length_query_and_short_buffer_keep_operation(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h = CK_INVALID_HANDLE;
	CK_MECHANISM m = { CKM_SHA384, NULL, 0 };
	CK_BYTE want[48], got[64];
	CK_ULONG len;

	ch_t_unhex(kats[9].hex, want, sizeof(want)); /* SHA-384("abc") */
	if (!CHECK(ch_t_setup(&e)))
		goto out;
	REQUIRE_RV(ch_t_user_session(&e, false, &h), CKR_OK);

	/* C_Digest: query, short buffer, then the digest; then it is over. */
	REQUIRE_RV(P11->C_DigestInit(h, &m), CKR_OK);
	len = 0;
	CHECK_RV(P11->C_Digest(h, (CK_BYTE_PTR) "abc", 3, NULL, &len), CKR_OK);
	CHECK_UL(len, 48);
	len = 47;
	CHECK_RV(P11->C_Digest(h, (CK_BYTE_PTR) "abc", 3, got, &len), CKR_BUFFER_TOO_SMALL);
	CHECK_UL(len, 48);
	len = sizeof(got);
	CHECK_RV(P11->C_Digest(h, (CK_BYTE_PTR) "abc", 3, got, &len), CKR_OK);
	CHECK(same_digest("C_Digest after a short buffer", got, len, want, 48));
	len = sizeof(got);
	CHECK_RV(P11->C_Digest(h, (CK_BYTE_PTR) "abc", 3, got, &len),
	         CKR_OPERATION_NOT_INITIALIZED);

	/* C_DigestFinal likewise, after updates. */
	REQUIRE_RV(P11->C_DigestInit(h, &m), CKR_OK);
	CHECK_RV(P11->C_DigestUpdate(h, (CK_BYTE_PTR) "a", 1), CKR_OK);
	CHECK_RV(P11->C_DigestUpdate(h, (CK_BYTE_PTR) "bc", 2), CKR_OK);
	len = 0;
	CHECK_RV(P11->C_DigestFinal(h, NULL, &len), CKR_OK);
	CHECK_UL(len, 48);
	len = 10;
	CHECK_RV(P11->C_DigestFinal(h, got, &len), CKR_BUFFER_TOO_SMALL);
	CHECK_UL(len, 48);
	len = 48;
	CHECK_RV(P11->C_DigestFinal(h, got, &len), CKR_OK);
	CHECK(same_digest("C_DigestFinal after a short buffer", got, len, want, 48));
	len = sizeof(got);
	CHECK_RV(P11->C_DigestFinal(h, got, &len), CKR_OPERATION_NOT_INITIALIZED);
out:
	ch_t_env_free(&e);
}

static void test_digest_state_and_parameter_rules(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h = CK_INVALID_HANDLE;
	CK_MECHANISM m = { CKM_SHA256, NULL, 0 };
	CK_ULONG junk = 1;
	CK_MECHANISM with_param = { CKM_SHA256, &junk, sizeof(junk) };
	CK_MECHANISM hmac = { CKM_SHA256_HMAC, NULL, 0 };
	CK_BYTE out[64];
	CK_ULONG len;

	if (!CHECK(ch_t_setup(&e)))
		goto out;
	REQUIRE_RV(ch_t_user_session(&e, false, &h), CKR_OK);
	CHECK_RV(P11->C_DigestInit(h, &with_param), CKR_MECHANISM_PARAM_INVALID);
	CHECK_RV(P11->C_DigestInit(h, &hmac), CKR_MECHANISM_INVALID);
	REQUIRE_RV(P11->C_DigestInit(h, &m), CKR_OK);
	CHECK_RV(P11->C_DigestInit(h, &m), CKR_OPERATION_ACTIVE);
	CHECK_RV(P11->C_DigestUpdate(h, (CK_BYTE_PTR) "x", 1), CKR_OK);
	/* A single-part call cannot finish a multi-part digest, and ends it. */
	len = sizeof(out);
	CHECK_RV(P11->C_Digest(h, (CK_BYTE_PTR) "x", 1, out, &len), CKR_OPERATION_ACTIVE);
	CHECK_RV(P11->C_DigestUpdate(h, (CK_BYTE_PTR) "x", 1), CKR_OPERATION_NOT_INITIALIZED);
	/* An empty update changes nothing. */
	REQUIRE_RV(P11->C_DigestInit(h, &m), CKR_OK);
	CHECK_RV(P11->C_DigestUpdate(h, NULL, 0), CKR_OK);
	len = sizeof(out);
	CHECK_RV(P11->C_DigestFinal(h, out, &len), CKR_OK);
	CHECK(same_digest(
	        "SHA-256 of no updates", out, len,
	        (const CK_BYTE *)"\xe3\xb0\xc4\x42\x98\xfc\x1c\x14\x9a\xfb\xf4\xc8\x99\x6f"
	                         "\xb9\x24\x27\xae\x41\xe4\x64\x9b\x93\x4c\xa4\x95\x99"
	                         "\x1b\x78\x52\xb8\x55",
	        32));
out:
	ch_t_env_free(&e);
}

/* C_DigestKey feeds a secret key's value into the running digest, in
 * order with the data: SHA-256(M448 || key || "abc") equals the digest of
 * the same bytes given as data. */
static void test_digest_key_mixes_with_data(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h = CK_INVALID_HANDLE;
	CK_MECHANISM m = { CKM_SHA256, NULL, 0 };
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE kt = CKK_GENERIC_SECRET;
	CK_BYTE key[40], all[sizeof(M448) - 1 + sizeof(key) + 3], want[32], got[32];
	CK_ATTRIBUTE t[] = {
		CH_T_ULONG(CKA_CLASS, &cls),
		CH_T_ULONG(CKA_KEY_TYPE, &kt),
		CH_T_ATTR(CKA_VALUE, key, sizeof(key)),
	};
	CK_OBJECT_HANDLE k;
	CK_ULONG wlen = sizeof(want), glen = sizeof(got);

	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (CK_BYTE)(0x40 + i);
	memcpy(all, M448, sizeof(M448) - 1);
	memcpy(all + sizeof(M448) - 1, key, sizeof(key));
	memcpy(all + sizeof(M448) - 1 + sizeof(key), "abc", 3);
	if (!CHECK(ch_t_setup(&e)))
		goto out;
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	REQUIRE_RV(P11->C_CreateObject(h, t, CH_T_ARRAY_LEN(t), &k), CKR_OK);
	REQUIRE_RV(digest_once(h, CKM_SHA256, all, sizeof(all), want, &wlen), CKR_OK);
	REQUIRE_RV(P11->C_DigestInit(h, &m), CKR_OK);
	CHECK_RV(P11->C_DigestUpdate(h, (CK_BYTE_PTR)M448, sizeof(M448) - 1), CKR_OK);
	CHECK_RV(P11->C_DigestKey(h, k), CKR_OK);
	CHECK_RV(P11->C_DigestUpdate(h, (CK_BYTE_PTR) "abc", 3), CKR_OK);
	CHECK_RV(P11->C_DigestFinal(h, got, &glen), CKR_OK);
	CHECK(same_digest("data || key || data", got, glen, want, wlen));
out:
	ch_t_env_free(&e);
}

static void test_digest_mechanisms_listed_with_info(void)
{
	ch_t_env e;
	CK_MECHANISM_TYPE list[256];
	CK_MECHANISM_INFO info;
	CK_ULONG n = CH_T_ARRAY_LEN(list);

	if (!CHECK(ch_t_setup(&e)))
		goto out;
	REQUIRE_RV(P11->C_GetMechanismList(e.slot, list, &n), CKR_OK);
	for (size_t d = 0; d < CH_T_ARRAY_LEN(digests); d++) {
		bool listed = false;

		for (CK_ULONG i = 0; i < n; i++)
			listed |= list[i] == digests[d].mech;
		if (!listed)
			fprintf(stderr, "mechanism 0x%lx not listed\n",
			        (unsigned long)digests[d].mech);
		CHECK(listed);
		CHECK_RV(P11->C_GetMechanismInfo(e.slot, digests[d].mech, &info), CKR_OK);
		CHECK_UL(info.ulMinKeySize, 0);
		CHECK_UL(info.ulMaxKeySize, 0);
		CHECK_UL(info.flags, CKF_DIGEST);
	}
out:
	ch_t_env_free(&e);
}

int main(void)
{
	static const ch_t_case cases[] = {
		CH_T_CASE(test_digest_known_answers_single_and_multi_part),
		CH_T_CASE(test_digest_one_million_a),
		CH_T_CASE(test_digest_odd_chunks_equal_single_part),
		CH_T_CASE(test_digest_length_query_and_short_buffer_keep_operation),
		CH_T_CASE(test_digest_state_and_parameter_rules),
		CH_T_CASE(test_digest_key_mixes_with_data),
		CH_T_CASE(test_digest_mechanisms_listed_with_info),
	};

	return ch_t_run(cases, CH_T_ARRAY_LEN(cases));
}
