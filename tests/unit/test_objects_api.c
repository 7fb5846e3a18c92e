/*
 * Objects and the operations on them, through the module's function table
 * (PKCS#11 3.0 section 4 for the attribute rules, 5.7 for object
 * management, 5.8-5.15 for the cryptographic functions of the foundation):
 * every object class we hold created from known components, reading and
 * changing attributes with the spec's error codes, copies, searches, where
 * objects live (session or token) and who sees them, key generation, AES-GCM,
 * ECDSA, the mechanism list and random numbers.
 *
 * Known components: the P-256 key pair of RFC 6979 appendix A.2.5; the
 * AES-GCM vector of test case 16 of "The Galois/Counter Mode of Operation"
 * (McGrew and Viega); an RSA-2048 key and a self-signed certificate over the
 * RFC 6979 key, both generated once for this test.
 */
#include "module.h"

#define UNKNOWN_ATTRIBUTE 0x7ffffff0UL /* not defined by the spec, not vendor */

/* RFC 6979 A.2.5: the P-256 private key x and its public point (Ux, Uy). */
static const char ec_d_hex[] = "c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721";
static const char ec_point_hex[] =
        "044104"
        "60fed4ba255a9d31c961eb74c6356d68c049b8923b61fa6ce669622e60f29fb6"
        "7903fe1008b8bc99a41ae9e95628bc64f2f1b20c2d7e9f5177a3c294d4462299";

/* GCM test case 16: 256-bit key, 96-bit IV, 20 bytes of AAD, 60 of text. */
static const char gcm_key_hex[] =
        "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308";
static const char gcm_iv_hex[] = "cafebabefacedbaddecaf888";
static const char gcm_aad_hex[] = "feedfacedeadbeeffeedfacedeadbeefabaddad2";
static const char gcm_pt_hex[] = "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
                                 "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39";
static const char gcm_ct_tag_hex[] =
        "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
        "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f66276fc6ece"
        "0f4e1768cddf8853bb2d551b";

static const char rsa_n_hex[] = "a0bb049104fcdfe7faf887f570ff066f7e4031015f60bc4c30948f5b3cdbfa49"
                                "46d2f2e9bba193ac28c687baeb234f64cb5d6b32d06deb4d79dc00d42f3290c7"
                                "e5914c5a07e810f9b317d8fd7631fce762aadc98ec166f9be2605737a13db7d3"
                                "ef00138228c1df1b93d8fd09b13a0f77cb2e555767486d83a8052cda2037c0a6"
                                "fc7fd1a062853eb63bba513d33a03ebd64439013a3ae23b62906f5baf78d1325"
                                "7b9b4583ea74ed9d5003249a586468530b7dd92408ef8719e4d1916cd5fbbaaf"
                                "396289b95ef83805dee02c91883662db25fc31d475c216eb93bb0e37cc6b0096"
                                "aaf0f073ad585923b3a32105b0034d190000c42572ad00be6259632bcb4738f9";
static const char rsa_d_hex[] = "0d1a9f8e9a34955052b20b559ba0331c5e68e9db3b3530b783ce1784f5a88296"
                                "91a20bab64d5d16b665f4f3c124517493804f6588177e0b34e4027f224a49a50"
                                "add04e2f0338d73f75ab8d50417565b17b50c3a4ea64918b5e3b58090149e89a"
                                "ec5544d73baeee060fcefa4c4813c6cf3a5f07ebffba943123beee449ca951a3"
                                "ba861a49cad8903f4c03c878f3df01b0a7799f67f0c62ba041f81195650a68b1"
                                "d9623a493cedd473e1df0e60709674c629c7a9311e58c22c18809deb2def6290"
                                "883ae0f53451472ea8b6225f02ae8135bfafd59f4e10466313069f3fdc7399db"
                                "c828aec9714ba9e77e121ac90ac4a1557903650e16777bd68a353c83b7ab04fd";
static const char rsa_p_hex[] = "cd468611414ac9ee060324dd9569a532a966a899633e41b2f085cdb25e0a275f"
                                "489413ff0fd1e54d231ad3ab22d3420293f513128ab53f961cbf06837b664598"
                                "1a2a115984dcb53cf54ef5ab682b6bd799bbda44c4fee348abc5314e624a736f"
                                "b9b8951296bd95088585a08cab6bfaeedb785e2df354b78f60012e8d73003c75";
static const char rsa_q_hex[] = "c872a2a62014d41832f2e076023350997ba83bf4c14ee147021bb9297b48ba63"
                                "5b33f59e3cc11447f785212b8030049303c22466023b73c9f0de1e459cb94bbe"
                                "f1ec75cc947ac6d7e9ff12da977ad14f8496df7d7784f225b60de0b8bbe12808"
                                "db3efabce78caa8dab04ab8f1541a0f39f28b3b49c551ae52664b53fe59049f5";
static const char rsa_dp_hex[] = "7254f35b2cf890dbc7f17c59065d1f2bc67a6d3171bb3d308312a36cd33fe88a"
                                 "038ca64e8beb2641fe6974b77ee01786040e9e1ed7aef7c98e1d3f6d800f8877"
                                 "9d2b0d1ac50b80ce80fb078dfea92099a700a023696d65fe15ddf1066d6c763b"
                                 "26400e9799e9e1d62b383021e9606d15189c442867bd29b7eb8afcf8bfb2c3f9";
static const char rsa_dq_hex[] = "7b72ee6cf5911e5690fa37f735bfb8c1ee005c7c8e992ff0f5817175f4b183e9"
                                 "31003d22e933d873c223419c72e41fcd13217c1d3efeb27f0a5321bda99a0ce6"
                                 "5a4451005fe98590f051e1a0b26e377e8ba007a053fd92cc5ae50d2378c2604f"
                                 "a4079390c7e2401fe3d58a7b22923ab80fab9791823e7fc3e4f35d152f22c009";
static const char rsa_qi_hex[] = "661897ae69c1e26ce8a8df4213f26560cba7f066cc918bd2d46bcfe3ad73d5e5"
                                 "562c631c98a964756ada27f62824fea41a8147788e86955e65d350d6f7f9c99e"
                                 "beb00de0fc22568d0de6fa20a63dd3daadf08e1f524752ac92b24d073bdfc98e"
                                 "63e3f5ec5c274a8d34f80fdd09cdf9f3fda8e93e465598e10e8b29a200131cf6";

/* A self-signed certificate (CN=cipherhub test) and its subject. */
static const char cert_der_hex[] =
        "3082011f3081c6a00302010202021092300a06082a8648ce3d04030230193117"
        "301506035504030c0e6369706865726875622074657374301e170d3234303130"
        "313030303030305a170d3434303130313030303030305a301931173015060355"
        "04030c0e63697068657268756220746573743059301306072a8648ce3d020106"
        "082a8648ce3d0301070342000460fed4ba255a9d31c961eb74c6356d68c049b8"
        "923b61fa6ce669622e60f29fb67903fe1008b8bc99a41ae9e95628bc64f2f1b2"
        "0c2d7e9f5177a3c294d4462299300a06082a8648ce3d04030203480030450220"
        "65ec836ee30c0e4654d43a14a5373c2bb1a0f3257072663245a731a288025846"
        "022100b4eece69f1d9e4bd95a3010fc4d3fbb00304768b66b0c4223600bfa992"
        "82f207";
static const char cert_subject_hex[] = "30193117301506035504030c0e6369706865726875622074657374";

static const CK_BYTE key32[32] = { 0x10, 0x21, 0x32, 0x43, 0x54, 0x65, 0x76, 0x87, 0x98, 0xa9, 0xba,
	                           0xcb, 0xdc, 0xed, 0xfe, 0x0f, 0x1e, 0x2d, 0x3c, 0x4b, 0x5a, 0x69,
	                           0x78, 0x87, 0x96, 0xa5, 0xb4, 0xc3, 0xd2, 0xe1, 0xf0, 0x01 };

typedef struct blob {
	CK_BYTE v[512];
	CK_ULONG n;
} blob;

static blob unhex(const char *s)
{
	blob b;

	b.n = ch_t_unhex(s, b.v, sizeof(b.v));
	return b;
}

/* True when attribute type of o reads back as exactly want. */
static bool attr_is(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE type,
                    const void *want, CK_ULONG wlen)
{
	CK_BYTE buf[1024];
	CK_ULONG len = sizeof(buf);

	return ch_t_get(h, o, type, buf, &len) == CKR_OK && len == wlen &&
	       memcmp(buf, want, wlen) == 0;
}

static bool ulong_is(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE type, CK_ULONG v)
{
	return attr_is(h, o, type, &v, sizeof(v));
}

static CK_RV create_ec_private(CK_SESSION_HANDLE h, bool token, CK_OBJECT_HANDLE *o)
{
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_KEY_TYPE kt = CKK_EC;
	blob d = unhex(ec_d_hex);
	CK_ATTRIBUTE t[] = {
		CH_T_ULONG(CKA_CLASS, &cls),
		CH_T_ULONG(CKA_KEY_TYPE, &kt),
		CH_T_BOOL(CKA_TOKEN, token),
		CH_T_BOOL(CKA_PRIVATE, true),
		CH_T_BOOL(CKA_SENSITIVE, true),
		CH_T_BOOL(CKA_SIGN, true),
		CH_T_STR(CKA_LABEL, "ec-known"),
		CH_T_ATTR(CKA_EC_PARAMS, ch_t_p256_params, sizeof(ch_t_p256_params)),
		CH_T_ATTR(CKA_VALUE, d.v, d.n),
	};

	return P11->C_CreateObject(h, t, CH_T_ARRAY_LEN(t), o);
}

static CK_RV create_ec_public(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE *o)
{
	CK_OBJECT_CLASS cls = CKO_PUBLIC_KEY;
	CK_KEY_TYPE kt = CKK_EC;
	blob pt = unhex(ec_point_hex);
	CK_ATTRIBUTE t[] = {
		CH_T_ULONG(CKA_CLASS, &cls),
		CH_T_ULONG(CKA_KEY_TYPE, &kt),
		CH_T_BOOL(CKA_TOKEN, false),
		CH_T_BOOL(CKA_VERIFY, true),
		CH_T_STR(CKA_LABEL, "ec-known"),
		CH_T_ATTR(CKA_EC_PARAMS, ch_t_p256_params, sizeof(ch_t_p256_params)),
		CH_T_ATTR(CKA_EC_POINT, pt.v, pt.n),
	};

	return P11->C_CreateObject(h, t, CH_T_ARRAY_LEN(t), o);
}

static void test_data_object_roundtrip(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE o;
	CK_OBJECT_CLASS cls = 0;
	CK_BBOOL tok = 0, priv = 1;
	char label[32], app[32];
	CK_BYTE value[32];
	CK_ATTRIBUTE t[] = {
		CH_T_ATTR(CKA_CLASS, NULL, 0),       CH_T_ATTR(CKA_TOKEN, NULL, 0),
		CH_T_ATTR(CKA_PRIVATE, NULL, 0),     CH_T_ATTR(CKA_LABEL, NULL, 0),
		CH_T_ATTR(CKA_APPLICATION, NULL, 0), CH_T_ATTR(CKA_VALUE, NULL, 0),
	};

	REQUIRE(ch_t_setup(&e));
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	REQUIRE_RV(ch_t_create_data(h, true, false, "data-1", "hello, world", 12, &o), CKR_OK);

	/* First pass: lengths only. */
	REQUIRE_RV(P11->C_GetAttributeValue(h, o, t, CH_T_ARRAY_LEN(t)), CKR_OK);
	CHECK_UL(t[0].ulValueLen, sizeof(CK_OBJECT_CLASS));
	CHECK_UL(t[1].ulValueLen, 1);
	CHECK_UL(t[2].ulValueLen, 1);
	CHECK_UL(t[3].ulValueLen, 6);
	CHECK_UL(t[4].ulValueLen, strlen("cipherhub-tests"));
	CHECK_UL(t[5].ulValueLen, 12);
	/* Second pass: the values. */
	t[0].pValue = &cls;
	t[1].pValue = &tok;
	t[2].pValue = &priv;
	t[3].pValue = label;
	t[3].ulValueLen = sizeof(label);
	t[4].pValue = app;
	t[4].ulValueLen = sizeof(app);
	t[5].pValue = value;
	t[5].ulValueLen = sizeof(value);
	REQUIRE_RV(P11->C_GetAttributeValue(h, o, t, CH_T_ARRAY_LEN(t)), CKR_OK);
	CHECK_UL(cls, CKO_DATA);
	CHECK_UL(tok, CK_TRUE);
	CHECK_UL(priv, CK_FALSE);
	CHECK(t[3].ulValueLen == 6 && memcmp(label, "data-1", 6) == 0);
	CHECK(t[4].ulValueLen == 15 && memcmp(app, "cipherhub-tests", 15) == 0);
	CHECK(t[5].ulValueLen == 12 && memcmp(value, "hello, world", 12) == 0);
out:
	ch_t_env_free(&e);
}

static void test_get_attribute_value_reports_every_entry(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE o;
	CK_OBJECT_CLASS cls = 0;
	char small[1], dummy[8];
	CK_ATTRIBUTE t1[] = {
		CH_T_ATTR(CKA_LABEL, small, sizeof(small)),
		CH_T_ATTR(CKA_CLASS, &cls, sizeof(cls)),
	};
	CK_ATTRIBUTE t2[] = {
		CH_T_ATTR(UNKNOWN_ATTRIBUTE, dummy, sizeof(dummy)),
		CH_T_ATTR(CKA_CLASS, &cls, sizeof(cls)),
	};

	REQUIRE(ch_t_setup(&e));
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	REQUIRE_RV(ch_t_create_data(h, false, false, "a-long-label", "v", 1, &o), CKR_OK);

	CHECK_RV(P11->C_GetAttributeValue(h, o, t1, 2), CKR_BUFFER_TOO_SMALL);
	CHECK_UL(t1[0].ulValueLen, CK_UNAVAILABLE_INFORMATION);
	CHECK_UL(t1[1].ulValueLen, sizeof(cls));
	CHECK_UL(cls, CKO_DATA);

	cls = 0;
	CHECK_RV(P11->C_GetAttributeValue(h, o, t2, 2), CKR_ATTRIBUTE_TYPE_INVALID);
	CHECK_UL(t2[0].ulValueLen, CK_UNAVAILABLE_INFORMATION);
	CHECK_UL(cls, CKO_DATA);
out:
	ch_t_env_free(&e);
}

static void test_secret_key_value_sensitive_or_unextractable_is_unavailable(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE sens, unext, open_key;
	CK_BYTE buf[32];
	CK_ULONG vlen = 0;
	CK_ATTRIBUTE t[] = {
		CH_T_ATTR(CKA_VALUE, buf, sizeof(buf)),
		CH_T_ATTR(CKA_VALUE_LEN, &vlen, sizeof(vlen)),
	};

	REQUIRE(ch_t_setup(&e));
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	REQUIRE_RV(ch_t_create_aes(h, true, true, true, true, "sens", key32, 32, &sens), CKR_OK);
	REQUIRE_RV(ch_t_create_aes(h, true, true, false, false, "unext", key32, 32, &unext),
	           CKR_OK);
	REQUIRE_RV(ch_t_create_aes(h, true, true, false, true, "open", key32, 32, &open_key),
	           CKR_OK);

	memset(buf, 0, sizeof(buf));
	CHECK_RV(P11->C_GetAttributeValue(h, sens, t, 2), CKR_ATTRIBUTE_SENSITIVE);
	CHECK_UL(t[0].ulValueLen, CK_UNAVAILABLE_INFORMATION);
	CHECK_UL(vlen, 32);
	CHECK(!ch_t_contains(buf, sizeof(buf), key32, 8));

	t[0].ulValueLen = sizeof(buf);
	CHECK_RV(P11->C_GetAttributeValue(h, unext, t, 2), CKR_ATTRIBUTE_SENSITIVE);
	CHECK_UL(t[0].ulValueLen, CK_UNAVAILABLE_INFORMATION);
	CHECK(!ch_t_contains(buf, sizeof(buf), key32, 8));

	t[0].ulValueLen = sizeof(buf);
	CHECK_RV(P11->C_GetAttributeValue(h, open_key, t, 2), CKR_OK);
	CHECK(t[0].ulValueLen == 32 && memcmp(buf, key32, 32) == 0);
out:
	ch_t_env_free(&e);
}

static void test_every_class_can_be_created_from_known_components(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE aes, ecpriv, ecpub, rsapub, rsapriv, cert;
	CK_OBJECT_CLASS pub_cls = CKO_PUBLIC_KEY, priv_cls = CKO_PRIVATE_KEY,
	                cert_cls = CKO_CERTIFICATE;
	CK_KEY_TYPE rsa = CKK_RSA;
	CK_CERTIFICATE_TYPE x509 = CKC_X_509;
	CK_BYTE e65537[] = { 0x01, 0x00, 0x01 }, buf[512];
	CK_ULONG len;
	blob n = unhex(rsa_n_hex), d = unhex(rsa_d_hex), p = unhex(rsa_p_hex), q = unhex(rsa_q_hex),
	     dp = unhex(rsa_dp_hex), dq = unhex(rsa_dq_hex), qi = unhex(rsa_qi_hex),
	     der = unhex(cert_der_hex), subj = unhex(cert_subject_hex), point = unhex(ec_point_hex);
	CK_ATTRIBUTE rpub[] = {
		CH_T_ULONG(CKA_CLASS, &pub_cls),  CH_T_ULONG(CKA_KEY_TYPE, &rsa),
		CH_T_BOOL(CKA_TOKEN, true),       CH_T_STR(CKA_LABEL, "rsa-known"),
		CH_T_ATTR(CKA_MODULUS, n.v, n.n), CH_T_ATTR(CKA_PUBLIC_EXPONENT, e65537, 3),
	};
	CK_ATTRIBUTE rpriv[] = {
		CH_T_ULONG(CKA_CLASS, &priv_cls),
		CH_T_ULONG(CKA_KEY_TYPE, &rsa),
		CH_T_BOOL(CKA_TOKEN, true),
		CH_T_BOOL(CKA_PRIVATE, true),
		CH_T_BOOL(CKA_SENSITIVE, true),
		CH_T_STR(CKA_LABEL, "rsa-known"),
		CH_T_ATTR(CKA_MODULUS, n.v, n.n),
		CH_T_ATTR(CKA_PUBLIC_EXPONENT, e65537, 3),
		CH_T_ATTR(CKA_PRIVATE_EXPONENT, d.v, d.n),
		CH_T_ATTR(CKA_PRIME_1, p.v, p.n),
		CH_T_ATTR(CKA_PRIME_2, q.v, q.n),
		CH_T_ATTR(CKA_EXPONENT_1, dp.v, dp.n),
		CH_T_ATTR(CKA_EXPONENT_2, dq.v, dq.n),
		CH_T_ATTR(CKA_COEFFICIENT, qi.v, qi.n),
	};
	CK_ATTRIBUTE ct[] = {
		CH_T_ULONG(CKA_CLASS, &cert_cls),
		CH_T_ULONG(CKA_CERTIFICATE_TYPE, &x509),
		CH_T_BOOL(CKA_TOKEN, true),
		CH_T_STR(CKA_LABEL, "cert-known"),
		CH_T_ATTR(CKA_SUBJECT, subj.v, subj.n),
		CH_T_ATTR(CKA_VALUE, der.v, der.n),
	};

	REQUIRE(n.n == 256 && d.n == 256 && p.n == 128 && der.n > 200 && point.n == 67);
	REQUIRE(ch_t_setup(&e));
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	CHECK_RV(ch_t_create_aes(h, true, true, true, false, "aes-known", key32, 32, &aes), CKR_OK);
	CHECK_RV(create_ec_private(h, true, &ecpriv), CKR_OK);
	CHECK_RV(create_ec_public(h, &ecpub), CKR_OK);
	CHECK_RV(P11->C_CreateObject(h, rpub, CH_T_ARRAY_LEN(rpub), &rsapub), CKR_OK);
	CHECK_RV(P11->C_CreateObject(h, rpriv, CH_T_ARRAY_LEN(rpriv), &rsapriv), CKR_OK);
	CHECK_RV(P11->C_CreateObject(h, ct, CH_T_ARRAY_LEN(ct), &cert), CKR_OK);

	CHECK(ulong_is(h, aes, CKA_CLASS, CKO_SECRET_KEY));
	CHECK(ulong_is(h, aes, CKA_KEY_TYPE, CKK_AES));
	CHECK(ulong_is(h, aes, CKA_VALUE_LEN, 32));
	CHECK(ch_t_get_bool(h, aes, CKA_LOCAL) == 0);
	CHECK(ulong_is(h, ecpriv, CKA_KEY_TYPE, CKK_EC));
	CHECK(attr_is(h, ecpriv, CKA_EC_PARAMS, ch_t_p256_params, sizeof(ch_t_p256_params)));
	CHECK(ch_t_get_bool(h, ecpriv, CKA_LOCAL) == 0);
	CHECK(attr_is(h, ecpub, CKA_EC_POINT, point.v, point.n));
	CHECK(attr_is(h, rsapub, CKA_MODULUS, n.v, n.n));
	CHECK(attr_is(h, rsapub, CKA_PUBLIC_EXPONENT, e65537, 3));
	CHECK(attr_is(h, rsapriv, CKA_MODULUS, n.v, n.n));
	len = sizeof(buf);
	CHECK_RV(ch_t_get(h, rsapriv, CKA_PRIVATE_EXPONENT, buf, &len), CKR_ATTRIBUTE_SENSITIVE);
	len = sizeof(buf);
	CHECK_RV(ch_t_get(h, rsapriv, CKA_PRIME_1, buf, &len), CKR_ATTRIBUTE_SENSITIVE);
	CHECK(ulong_is(h, cert, CKA_CERTIFICATE_TYPE, CKC_X_509));
	CHECK(attr_is(h, cert, CKA_VALUE, der.v, der.n));
	CHECK(attr_is(h, cert, CKA_SUBJECT, subj.v, subj.n));

	/* Each class is found by class. */
	{
		CK_ATTRIBUTE by_cls[] = { CH_T_ULONG(CKA_CLASS, &cert_cls) };
		CHECK(ch_t_count(h, by_cls, 1) == 1);
		by_cls[0].pValue = &priv_cls;
		CHECK(ch_t_count(h, by_cls, 1) == 2);
	}
out:
	ch_t_env_free(&e);
}

static void test_created_ec_keys_sign_and_verify(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE priv, pub;
	CK_MECHANISM m = { CKM_ECDSA, NULL, 0 };
	CK_BYTE digest[32], sig[128];
	CK_ULONG slen;

	for (size_t i = 0; i < sizeof(digest); i++)
		digest[i] = (CK_BYTE)(i * 7 + 3);
	REQUIRE(ch_t_setup(&e));
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	REQUIRE_RV(create_ec_private(h, false, &priv), CKR_OK);
	REQUIRE_RV(create_ec_public(h, &pub), CKR_OK);
	REQUIRE_RV(P11->C_SignInit(h, &m, priv), CKR_OK);
	slen = sizeof(sig);
	REQUIRE_RV(P11->C_Sign(h, digest, sizeof(digest), sig, &slen), CKR_OK);
	CHECK_UL(slen, 64);
	REQUIRE_RV(P11->C_VerifyInit(h, &m, pub), CKR_OK);
	CHECK_RV(P11->C_Verify(h, digest, sizeof(digest), sig, slen), CKR_OK);
	digest[0] ^= 1;
	REQUIRE_RV(P11->C_VerifyInit(h, &m, pub), CKR_OK);
	CHECK_RV(P11->C_Verify(h, digest, sizeof(digest), sig, slen), CKR_SIGNATURE_INVALID);
out:
	ch_t_env_free(&e);
}

static void test_unique_id_assigned_distinct_and_read_only(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE a, b, c;
	char ida[128], idb[128], idc[128];
	CK_ULONG la = sizeof(ida), lb = sizeof(idb), lc = sizeof(idc);
	CK_OBJECT_CLASS cls = CKO_DATA;
	CK_ATTRIBUTE set[] = { CH_T_STR(CKA_UNIQUE_ID, "forged") };
	CK_ATTRIBUTE create[] = {
		CH_T_ULONG(CKA_CLASS, &cls),
		CH_T_BOOL(CKA_TOKEN, false),
		CH_T_STR(CKA_UNIQUE_ID, "forged"),
	};

	REQUIRE(ch_t_setup(&e));
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	REQUIRE_RV(ch_t_create_data(h, true, false, "u1", "x", 1, &a), CKR_OK);
	REQUIRE_RV(ch_t_create_data(h, false, false, "u2", "x", 1, &b), CKR_OK);
	REQUIRE_RV(ch_t_get(h, a, CKA_UNIQUE_ID, ida, &la), CKR_OK);
	REQUIRE_RV(ch_t_get(h, b, CKA_UNIQUE_ID, idb, &lb), CKR_OK);
	CHECK(la > 0 && lb > 0);
	CHECK(la != lb || memcmp(ida, idb, la) != 0);

	CHECK_RV(P11->C_SetAttributeValue(h, a, set, 1), CKR_ATTRIBUTE_READ_ONLY);
	CHECK_RV(P11->C_CreateObject(h, create, CH_T_ARRAY_LEN(create), &c),
	         CKR_ATTRIBUTE_READ_ONLY);
	/* A copy is a new object with a new ID. */
	REQUIRE_RV(P11->C_CopyObject(h, a, NULL, 0, &c), CKR_OK);
	REQUIRE_RV(ch_t_get(h, c, CKA_UNIQUE_ID, idc, &lc), CKR_OK);
	CHECK(la != lc || memcmp(ida, idc, la) != 0);
	/* And the ID of a token object survives a restart. */
	CHECK_RV(P11->C_Finalize(NULL), CKR_OK);
	REQUIRE_RV(ch_t_initialize(), CKR_OK);
	REQUIRE_RV(ch_t_user_session(&e, false, &h), CKR_OK);
	{
		CK_ATTRIBUTE by_id[] = { CH_T_ATTR(CKA_UNIQUE_ID, ida, la) };
		CHECK(ch_t_count(h, by_id, 1) == 1);
	}
out:
	ch_t_env_free(&e);
}

static void test_create_template_errors(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE o;
	CK_OBJECT_CLASS data = CKO_DATA, secret = CKO_SECRET_KEY, cert_cls = CKO_CERTIFICATE;
	CK_KEY_TYPE aes = CKK_AES;
	CK_CERTIFICATE_TYPE x509 = CKC_X_509;
	CK_BYTE three[3] = { 1, 2, 3 };
	long before;
	CK_ATTRIBUTE no_class[] = { CH_T_BOOL(CKA_TOKEN, false), CH_T_STR(CKA_LABEL, "x") };
	CK_ATTRIBUTE no_key_type[] = { CH_T_ULONG(CKA_CLASS, &secret),
		                       CH_T_ATTR(CKA_VALUE, key32, 32) };
	CK_ATTRIBUTE no_value[] = { CH_T_ULONG(CKA_CLASS, &secret),
		                    CH_T_ULONG(CKA_KEY_TYPE, &aes) };
	CK_ATTRIBUTE cert_no_value[] = { CH_T_ULONG(CKA_CLASS, &cert_cls),
		                         CH_T_ULONG(CKA_CERTIFICATE_TYPE, &x509),
		                         CH_T_ATTR(CKA_SUBJECT, three, 3) };
	CK_ATTRIBUTE short_aes[] = { CH_T_ULONG(CKA_CLASS, &secret), CH_T_ULONG(CKA_KEY_TYPE, &aes),
		                     CH_T_ATTR(CKA_VALUE, key32, 15) };
	CK_ATTRIBUTE bad_class_len[] = { CH_T_ATTR(CKA_CLASS, three, 3) };
	CK_ATTRIBUTE bad_bool_len[] = { CH_T_ULONG(CKA_CLASS, &data),
		                        CH_T_ATTR(CKA_TOKEN, three, 3) };
	CK_ATTRIBUTE unknown[] = { CH_T_ULONG(CKA_CLASS, &data),
		                   CH_T_ATTR(UNKNOWN_ATTRIBUTE, three, 3) };
	CK_ATTRIBUTE local[] = { CH_T_ULONG(CKA_CLASS, &secret), CH_T_ULONG(CKA_KEY_TYPE, &aes),
		                 CH_T_ATTR(CKA_VALUE, key32, 32), CH_T_BOOL(CKA_LOCAL, true) };
	CK_ATTRIBUTE always[] = { CH_T_ULONG(CKA_CLASS, &secret), CH_T_ULONG(CKA_KEY_TYPE, &aes),
		                  CH_T_ATTR(CKA_VALUE, key32, 32),
		                  CH_T_BOOL(CKA_ALWAYS_SENSITIVE, true) };
	CK_ATTRIBUTE never[] = { CH_T_ULONG(CKA_CLASS, &secret), CH_T_ULONG(CKA_KEY_TYPE, &aes),
		                 CH_T_ATTR(CKA_VALUE, key32, 32),
		                 CH_T_BOOL(CKA_NEVER_EXTRACTABLE, true) };

	REQUIRE(ch_t_setup(&e));
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	before = ch_t_count(h, NULL, 0);
	CHECK_RV(P11->C_CreateObject(h, no_class, 2, &o), CKR_TEMPLATE_INCOMPLETE);
	CHECK_RV(P11->C_CreateObject(h, no_key_type, 2, &o), CKR_TEMPLATE_INCOMPLETE);
	CHECK_RV(P11->C_CreateObject(h, no_value, 2, &o), CKR_TEMPLATE_INCOMPLETE);
	CHECK_RV(P11->C_CreateObject(h, cert_no_value, 3, &o), CKR_TEMPLATE_INCOMPLETE);
	CHECK_RV(P11->C_CreateObject(h, short_aes, 3, &o), CKR_ATTRIBUTE_VALUE_INVALID);
	CHECK_RV(P11->C_CreateObject(h, bad_class_len, 1, &o), CKR_ATTRIBUTE_VALUE_INVALID);
	CHECK_RV(P11->C_CreateObject(h, bad_bool_len, 2, &o), CKR_ATTRIBUTE_VALUE_INVALID);
	CHECK_RV(P11->C_CreateObject(h, unknown, 2, &o), CKR_ATTRIBUTE_TYPE_INVALID);
	CHECK_RV(P11->C_CreateObject(h, local, 4, &o), CKR_ATTRIBUTE_READ_ONLY);
	CHECK_RV(P11->C_CreateObject(h, always, 4, &o), CKR_ATTRIBUTE_READ_ONLY);
	CHECK_RV(P11->C_CreateObject(h, never, 4, &o), CKR_ATTRIBUTE_READ_ONLY);
	CHECK(ch_t_count(h, NULL, 0) == before);

	/* A generation mechanism fixes class and key type; a template that
	 * says otherwise is inconsistent. */
	{
		CK_MECHANISM m = { CKM_AES_KEY_GEN, NULL, 0 };
		CK_ULONG len = 32;
		CK_KEY_TYPE ec = CKK_EC;
		CK_OBJECT_CLASS pub = CKO_PUBLIC_KEY;
		CK_ATTRIBUTE wrong_type[] = { CH_T_ULONG(CKA_VALUE_LEN, &len),
			                      CH_T_ULONG(CKA_KEY_TYPE, &ec) };
		CK_ATTRIBUTE wrong_class[] = { CH_T_ULONG(CKA_VALUE_LEN, &len),
			                       CH_T_ULONG(CKA_CLASS, &pub) };
		CK_ATTRIBUTE no_len[] = { CH_T_BOOL(CKA_TOKEN, false) };

		CHECK_RV(P11->C_GenerateKey(h, &m, wrong_type, 2, &o), CKR_TEMPLATE_INCONSISTENT);
		CHECK_RV(P11->C_GenerateKey(h, &m, wrong_class, 2, &o), CKR_TEMPLATE_INCONSISTENT);
		CHECK_RV(P11->C_GenerateKey(h, &m, no_len, 1, &o), CKR_TEMPLATE_INCOMPLETE);
	}
	CHECK(ch_t_count(h, NULL, 0) == before);
out:
	ch_t_env_free(&e);
}

static void test_set_attribute_value_rules(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE key, data;
	CK_OBJECT_CLASS cls = CKO_DATA;
	CK_KEY_TYPE kt = CKK_DES3;
	CK_BYTE dummy[4] = { 0 };
	CK_ATTRIBUTE relabel[] = { CH_T_STR(CKA_LABEL, "relabelled") };
	CK_ATTRIBUTE set_cls[] = { CH_T_ULONG(CKA_CLASS, &cls) };
	CK_ATTRIBUTE set_kt[] = { CH_T_ULONG(CKA_KEY_TYPE, &kt) };
	CK_ATTRIBUTE set_val[] = { CH_T_ATTR(CKA_VALUE, key32, 32) };
	CK_ATTRIBUTE set_tok[] = { CH_T_BOOL(CKA_TOKEN, false) };
	CK_ATTRIBUTE set_unknown[] = { CH_T_ATTR(UNKNOWN_ATTRIBUTE, dummy, 4) };
	CK_ATTRIBUTE set_enc[] = { CH_T_BOOL(CKA_ENCRYPT, false) };

	REQUIRE(ch_t_setup(&e));
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	REQUIRE_RV(ch_t_create_aes(h, true, true, false, true, "key", key32, 32, &key), CKR_OK);
	REQUIRE_RV(ch_t_create_data(h, true, false, "data", "abc", 3, &data), CKR_OK);

	CHECK_RV(P11->C_SetAttributeValue(h, key, relabel, 1), CKR_OK);
	CHECK(attr_is(h, key, CKA_LABEL, "relabelled", 10));
	CHECK_RV(P11->C_SetAttributeValue(h, key, set_enc, 1), CKR_OK);
	CHECK(ch_t_get_bool(h, key, CKA_ENCRYPT) == 0);
	CHECK_RV(P11->C_SetAttributeValue(h, key, set_cls, 1), CKR_ATTRIBUTE_READ_ONLY);
	CHECK_RV(P11->C_SetAttributeValue(h, key, set_kt, 1), CKR_ATTRIBUTE_READ_ONLY);
	CHECK_RV(P11->C_SetAttributeValue(h, key, set_val, 1), CKR_ATTRIBUTE_READ_ONLY);
	CHECK_RV(P11->C_SetAttributeValue(h, key, set_tok, 1), CKR_ATTRIBUTE_READ_ONLY);
	CHECK_RV(P11->C_SetAttributeValue(h, key, set_unknown, 1), CKR_ATTRIBUTE_TYPE_INVALID);
	CHECK(ulong_is(h, key, CKA_KEY_TYPE, CKK_AES));
	/* A data object's value may change. */
	set_val[0].ulValueLen = 5;
	CHECK_RV(P11->C_SetAttributeValue(h, data, set_val, 1), CKR_OK);
	CHECK(attr_is(h, data, CKA_VALUE, key32, 5));

	/* Changes to token objects persist; refused ones changed nothing. */
	CHECK_RV(P11->C_Finalize(NULL), CKR_OK);
	REQUIRE_RV(ch_t_initialize(), CKR_OK);
	REQUIRE_RV(ch_t_user_session(&e, false, &h), CKR_OK);
	CHECK(attr_is(h, key, CKA_LABEL, "relabelled", 10));
	CHECK(attr_is(h, key, CKA_VALUE, key32, 32));
	CHECK(attr_is(h, data, CKA_VALUE, key32, 5));
	CHECK(ch_t_get_bool(h, key, CKA_TOKEN) == 1);
out:
	ch_t_env_free(&e);
}

static void test_sensitive_and_extractable_change_one_way_only(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE k;
	CK_ATTRIBUTE sens_on[] = { CH_T_BOOL(CKA_SENSITIVE, true) };
	CK_ATTRIBUTE sens_off[] = { CH_T_BOOL(CKA_SENSITIVE, false) };
	CK_ATTRIBUTE ext_off[] = { CH_T_BOOL(CKA_EXTRACTABLE, false) };
	CK_ATTRIBUTE ext_on[] = { CH_T_BOOL(CKA_EXTRACTABLE, true) };
	CK_BYTE buf[32];
	CK_ULONG len = sizeof(buf);

	REQUIRE(ch_t_setup(&e));
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	REQUIRE_RV(ch_t_create_aes(h, true, true, false, true, "k", key32, 32, &k), CKR_OK);
	CHECK(ch_t_get_bool(h, k, CKA_ALWAYS_SENSITIVE) == 0);
	CHECK(ch_t_get_bool(h, k, CKA_NEVER_EXTRACTABLE) == 0);

	CHECK_RV(P11->C_SetAttributeValue(h, k, sens_on, 1), CKR_OK);
	CHECK(ch_t_get_bool(h, k, CKA_SENSITIVE) == 1);
	CHECK_RV(ch_t_get(h, k, CKA_VALUE, buf, &len), CKR_ATTRIBUTE_SENSITIVE);
	CHECK_RV(P11->C_SetAttributeValue(h, k, sens_off, 1), CKR_ATTRIBUTE_READ_ONLY);
	CHECK(ch_t_get_bool(h, k, CKA_SENSITIVE) == 1);
	/* Becoming sensitive later does not make it "always" sensitive. */
	CHECK(ch_t_get_bool(h, k, CKA_ALWAYS_SENSITIVE) == 0);

	CHECK_RV(P11->C_SetAttributeValue(h, k, ext_off, 1), CKR_OK);
	CHECK(ch_t_get_bool(h, k, CKA_EXTRACTABLE) == 0);
	CHECK_RV(P11->C_SetAttributeValue(h, k, ext_on, 1), CKR_ATTRIBUTE_READ_ONLY);
	CHECK(ch_t_get_bool(h, k, CKA_EXTRACTABLE) == 0);
	CHECK(ch_t_get_bool(h, k, CKA_NEVER_EXTRACTABLE) == 0);

	/* Setting the value it already has is not a change. */
	CHECK_RV(P11->C_SetAttributeValue(h, k, sens_on, 1), CKR_OK);
out:
	ch_t_env_free(&e);
}

static void test_modifiable_copyable_destroyable_false_prohibit(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE fixed, nocopy, keep, copy;
	CK_OBJECT_CLASS cls = CKO_DATA;
	CK_ATTRIBUTE t_fixed[] = { CH_T_ULONG(CKA_CLASS, &cls), CH_T_BOOL(CKA_TOKEN, true),
		                   CH_T_STR(CKA_LABEL, "fixed"), CH_T_BOOL(CKA_MODIFIABLE, false) };
	CK_ATTRIBUTE t_nocopy[] = { CH_T_ULONG(CKA_CLASS, &cls), CH_T_BOOL(CKA_TOKEN, true),
		                    CH_T_STR(CKA_LABEL, "nocopy"), CH_T_BOOL(CKA_COPYABLE, false) };
	CK_ATTRIBUTE t_keep[] = { CH_T_ULONG(CKA_CLASS, &cls), CH_T_BOOL(CKA_TOKEN, true),
		                  CH_T_STR(CKA_LABEL, "keep"), CH_T_BOOL(CKA_DESTROYABLE, false) };
	CK_ATTRIBUTE relabel[] = { CH_T_STR(CKA_LABEL, "changed") };
	CK_ATTRIBUTE copy_on[] = { CH_T_BOOL(CKA_COPYABLE, true) };

	REQUIRE(ch_t_setup(&e));
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	REQUIRE_RV(P11->C_CreateObject(h, t_fixed, 4, &fixed), CKR_OK);
	REQUIRE_RV(P11->C_CreateObject(h, t_nocopy, 4, &nocopy), CKR_OK);
	REQUIRE_RV(P11->C_CreateObject(h, t_keep, 4, &keep), CKR_OK);

	CHECK_RV(P11->C_SetAttributeValue(h, fixed, relabel, 1), CKR_ACTION_PROHIBITED);
	CHECK(attr_is(h, fixed, CKA_LABEL, "fixed", 5));
	/* A non-modifiable object can still be copied and destroyed. */
	CHECK_RV(P11->C_CopyObject(h, fixed, NULL, 0, &copy), CKR_OK);
	CHECK(ch_t_get_bool(h, copy, CKA_MODIFIABLE) == 0);

	CHECK_RV(P11->C_CopyObject(h, nocopy, NULL, 0, &copy), CKR_ACTION_PROHIBITED);
	CHECK_RV(P11->C_SetAttributeValue(h, nocopy, copy_on, 1), CKR_ATTRIBUTE_READ_ONLY);
	CHECK(ch_t_count_label(h, "nocopy") == 1);

	CHECK_RV(P11->C_DestroyObject(h, keep), CKR_ACTION_PROHIBITED);
	CHECK(ch_t_count_label(h, "keep") == 1);
	CHECK_RV(P11->C_DestroyObject(h, fixed), CKR_OK);
	CHECK(ch_t_count_label(h, "fixed") == 1); /* the copy */
out:
	ch_t_env_free(&e);
}

static void test_copy_object(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE orig, copy;
	CK_ATTRIBUTE changes[] = { CH_T_STR(CKA_LABEL, "the-copy"), CH_T_BOOL(CKA_TOKEN, false) };

	REQUIRE(ch_t_setup(&e));
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	REQUIRE_RV(ch_t_create_data(h, true, true, "orig", "copied value", 12, &orig), CKR_OK);
	REQUIRE_RV(P11->C_CopyObject(h, orig, changes, 2, &copy), CKR_OK);
	CHECK(copy != orig);
	CHECK(attr_is(h, copy, CKA_LABEL, "the-copy", 8));
	CHECK(attr_is(h, copy, CKA_VALUE, "copied value", 12));
	CHECK(ch_t_get_bool(h, copy, CKA_TOKEN) == 0);
	CHECK(ch_t_get_bool(h, copy, CKA_PRIVATE) == 1);
	CHECK(attr_is(h, orig, CKA_LABEL, "orig", 4));
	CHECK_RV(P11->C_DestroyObject(h, orig), CKR_OK);
	CHECK(attr_is(h, copy, CKA_VALUE, "copied value", 12));
	CHECK_RV(P11->C_CopyObject(h, orig, NULL, 0, &copy), CKR_OBJECT_HANDLE_INVALID);
out:
	ch_t_env_free(&e);
}

static void test_destroy_object_removes_it(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE tok, ses;
	CK_BYTE buf[8];
	CK_ULONG len = sizeof(buf);

	REQUIRE(ch_t_setup(&e));
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	REQUIRE_RV(ch_t_create_data(h, true, false, "doomed", "x", 1, &tok), CKR_OK);
	REQUIRE_RV(ch_t_create_data(h, false, false, "doomed", "y", 1, &ses), CKR_OK);
	CHECK(ch_t_count_label(h, "doomed") == 2);
	CHECK_RV(P11->C_DestroyObject(h, tok), CKR_OK);
	CHECK_RV(P11->C_DestroyObject(h, ses), CKR_OK);
	CHECK(ch_t_count_label(h, "doomed") == 0);
	CHECK_RV(ch_t_get(h, tok, CKA_VALUE, buf, &len), CKR_OBJECT_HANDLE_INVALID);
	CHECK_RV(P11->C_DestroyObject(h, tok), CKR_OBJECT_HANDLE_INVALID);
	CHECK_RV(P11->C_DestroyObject(h, ses), CKR_OBJECT_HANDLE_INVALID);
	CHECK_RV(P11->C_Finalize(NULL), CKR_OK);
	REQUIRE_RV(ch_t_initialize(), CKR_OK);
	REQUIRE_RV(ch_t_user_session(&e, false, &h), CKR_OK);
	CHECK(ch_t_count_label(h, "doomed") == 0);
out:
	ch_t_env_free(&e);
}

static void test_object_size(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE o;
	CK_ULONG size = 0;

	REQUIRE(ch_t_setup(&e));
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	REQUIRE_RV(ch_t_create_data(h, true, false, "sized", "0123456789", 10, &o), CKR_OK);
	CHECK_RV(P11->C_GetObjectSize(h, o, &size), CKR_OK);
	CHECK(size != 0);
	CHECK_RV(P11->C_GetObjectSize(h, 0x7777, &size), CKR_OBJECT_HANDLE_INVALID);
out:
	ch_t_env_free(&e);
}

static void test_find_objects_by_template_and_in_chunks(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE o, made[5], got[8];
	CK_OBJECT_CLASS data = CKO_DATA, secret = CKO_SECRET_KEY;
	CK_ULONG n, total = 0;
	char label[16];
	CK_ATTRIBUTE by_app[] = { CH_T_STR(CKA_APPLICATION, "cipherhub-tests"),
		                  CH_T_ULONG(CKA_CLASS, &data) };
	CK_ATTRIBUTE by_value[] = { CH_T_ATTR(CKA_VALUE, "value-3", 7) };
	CK_ATTRIBUTE by_secret[] = { CH_T_ULONG(CKA_CLASS, &secret) };
	CK_ATTRIBUTE by_private[] = { CH_T_STR(CKA_LABEL, "find-4"), CH_T_BOOL(CKA_PRIVATE, true) };
	CK_ATTRIBUTE nothing[] = { CH_T_STR(CKA_LABEL, "find-") };

	REQUIRE(ch_t_setup(&e));
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	for (int i = 0; i < 5; i++) {
		char value[16];
		snprintf(label, sizeof(label), "find-%d", i);
		snprintf(value, sizeof(value), "value-%d", i);
		REQUIRE_RV(ch_t_create_data(h, i % 2 == 0, i == 4, label, value, strlen(value),
		                            &made[i]),
		           CKR_OK);
	}
	REQUIRE_RV(ch_t_create_aes(h, true, true, true, false, "find-key", key32, 32, &o), CKR_OK);

	CHECK(ch_t_count(h, by_app, 2) == 5);
	CHECK(ch_t_count(h, by_secret, 1) == 1);
	CHECK(ch_t_count(h, NULL, 0) == 6);
	CHECK(ch_t_count(h, nothing, 1) == 0);
	CHECK(ch_t_count(h, by_private, 2) == 1);
	REQUIRE_RV(ch_t_find(h, by_value, 1, got, 8, &n), CKR_OK);
	CHECK(n == 1 && got[0] == made[3]);

	/* Two at a time: 2, 2, 1, then nothing. */
	REQUIRE_RV(P11->C_FindObjectsInit(h, by_app, 2), CKR_OK);
	for (int round = 0; round < 4; round++) {
		CK_ULONG want = round < 2 ? 2 : round == 2 ? 1 : 0;
		n = 99;
		CHECK_RV(P11->C_FindObjects(h, got + total, 2, &n), CKR_OK);
		CHECK_UL(n, want);
		if (n > 2)
			break;
		total += n;
	}
	CHECK_RV(P11->C_FindObjectsFinal(h), CKR_OK);
	REQUIRE(total == 5);
	for (int i = 0; i < 5; i++) {
		int seen = 0;
		for (CK_ULONG j = 0; j < total; j++)
			seen += got[j] == made[i];
		CHECK_UL(seen, 1);
	}
out:
	ch_t_env_free(&e);
}

static void test_find_operation_state_rules(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h, other;
	CK_OBJECT_HANDLE got[4];
	CK_ULONG n;

	REQUIRE(ch_t_setup(&e));
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	REQUIRE_RV(ch_t_open(e.slot, false, &other), CKR_OK);
	CHECK_RV(P11->C_FindObjects(h, got, 4, &n), CKR_OPERATION_NOT_INITIALIZED);
	CHECK_RV(P11->C_FindObjectsFinal(h), CKR_OPERATION_NOT_INITIALIZED);
	REQUIRE_RV(P11->C_FindObjectsInit(h, NULL, 0), CKR_OK);
	CHECK_RV(P11->C_FindObjectsInit(h, NULL, 0), CKR_OPERATION_ACTIVE);
	/* The search belongs to its session only. */
	CHECK_RV(P11->C_FindObjects(other, got, 4, &n), CKR_OPERATION_NOT_INITIALIZED);
	CHECK_RV(P11->C_FindObjectsInit(other, NULL, 0), CKR_OK);
	CHECK_RV(P11->C_FindObjectsFinal(other), CKR_OK);
	CHECK_RV(P11->C_FindObjects(h, got, 4, &n), CKR_OK);
	CHECK_RV(P11->C_FindObjectsFinal(h), CKR_OK);
	CHECK_RV(P11->C_FindObjectsFinal(h), CKR_OPERATION_NOT_INITIALIZED);
	CHECK_RV(P11->C_FindObjects(h, got, 4, &n), CKR_OPERATION_NOT_INITIALIZED);
out:
	ch_t_env_free(&e);
}

static void test_private_objects_invisible_before_login(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h, pub;
	CK_OBJECT_HANDLE priv_tok, priv_ses, public_tok;
	CK_BYTE buf[16];
	CK_ULONG len = sizeof(buf);

	REQUIRE(ch_t_setup(&e));
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	REQUIRE_RV(ch_t_create_data(h, true, true, "hidden", "h", 1, &priv_tok), CKR_OK);
	REQUIRE_RV(ch_t_create_data(h, false, true, "hidden", "s", 1, &priv_ses), CKR_OK);
	REQUIRE_RV(ch_t_create_data(h, true, false, "shown", "p", 1, &public_tok), CKR_OK);
	CHECK(ch_t_count(h, NULL, 0) == 3);
	REQUIRE_RV(P11->C_Logout(h), CKR_OK);

	REQUIRE_RV(ch_t_open(e.slot, false, &pub), CKR_OK);
	CHECK(ch_t_count(pub, NULL, 0) == 1);
	CHECK(ch_t_count_label(pub, "hidden") == 0);
	CHECK_RV(ch_t_get(pub, priv_tok, CKA_VALUE, buf, &len), CKR_OBJECT_HANDLE_INVALID);
	len = sizeof(buf);
	CHECK_RV(ch_t_get(pub, priv_ses, CKA_VALUE, buf, &len), CKR_OBJECT_HANDLE_INVALID);
	len = sizeof(buf);
	CHECK_RV(ch_t_get(pub, public_tok, CKA_VALUE, buf, &len), CKR_OK);

	/* The SO sees public objects only. */
	CHECK_RV(P11->C_CloseSession(pub), CKR_OK);
	REQUIRE_RV(ch_t_login(h, CKU_SO, CH_T_SO_PIN), CKR_OK);
	CHECK(ch_t_count_label(h, "hidden") == 0);
	CHECK(ch_t_count_label(h, "shown") == 1);
	CHECK_RV(P11->C_Logout(h), CKR_OK);

	/* C_Logout destroyed the private session object (PKCS#11 3.0, 5.6
	 * C_Logout); the private token object is back with the login. */
	REQUIRE_RV(ch_t_login_user(h), CKR_OK);
	CHECK(ch_t_count_label(h, "hidden") == 1);
	len = sizeof(buf);
	CHECK_RV(ch_t_get(h, priv_ses, CKA_VALUE, buf, &len), CKR_OBJECT_HANDLE_INVALID);
out:
	ch_t_env_free(&e);
}

static void test_session_objects_end_with_their_session(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE a, b;
	CK_OBJECT_HANDLE o;
	CK_BYTE buf[8];
	CK_ULONG len = sizeof(buf);

	REQUIRE(ch_t_setup(&e));
	REQUIRE_RV(ch_t_user_session(&e, false, &a), CKR_OK);
	REQUIRE_RV(ch_t_open(e.slot, false, &b), CKR_OK);
	REQUIRE_RV(ch_t_create_data(a, false, false, "ephemeral", "e", 1, &o), CKR_OK);
	/* Visible from every session of the application... */
	CHECK(ch_t_count_label(b, "ephemeral") == 1);
	CHECK_RV(ch_t_get(b, o, CKA_VALUE, buf, &len), CKR_OK);
	/* ...until the session that made it closes. */
	CHECK_RV(P11->C_CloseSession(a), CKR_OK);
	CHECK(ch_t_count_label(b, "ephemeral") == 0);
	len = sizeof(buf);
	CHECK_RV(ch_t_get(b, o, CKA_VALUE, buf, &len), CKR_OBJECT_HANDLE_INVALID);
	/* And none survives the module. */
	REQUIRE_RV(ch_t_create_data(b, false, false, "ephemeral", "e", 1, &o), CKR_OK);
	CHECK_RV(P11->C_Finalize(NULL), CKR_OK);
	REQUIRE_RV(ch_t_initialize(), CKR_OK);
	REQUIRE_RV(ch_t_user_session(&e, false, &b), CKR_OK);
	CHECK(ch_t_count_label(b, "ephemeral") == 0);
out:
	ch_t_env_free(&e);
}

static void test_token_objects_persist_across_reinitialize(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE o, found = CK_INVALID_HANDLE;
	CK_ULONG n;
	CK_ATTRIBUTE t[] = { CH_T_STR(CKA_LABEL, "persistent") };

	REQUIRE(ch_t_setup(&e));
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	REQUIRE_RV(ch_t_create_data(h, true, true, "persistent", "still here", 10, &o), CKR_OK);
	REQUIRE_RV(ch_t_create_aes(h, true, true, true, false, "persistent-key", key32, 32, &o),
	           CKR_OK);
	CHECK_RV(P11->C_Finalize(NULL), CKR_OK);
	REQUIRE_RV(ch_t_initialize(), CKR_OK);
	REQUIRE_RV(ch_t_user_session(&e, false, &h), CKR_OK);
	REQUIRE_RV(ch_t_find(h, t, 1, &found, 1, &n), CKR_OK);
	REQUIRE(n == 1);
	CHECK(attr_is(h, found, CKA_VALUE, "still here", 10));
	CHECK(ch_t_get_bool(h, found, CKA_PRIVATE) == 1);
	CHECK(ch_t_count_label(h, "persistent-key") == 1);
out:
	ch_t_env_free(&e);
}

static void test_read_only_session_cannot_write_token_objects(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE rw, ro;
	CK_OBJECT_HANDLE tok, o;
	CK_ATTRIBUTE relabel[] = { CH_T_STR(CKA_LABEL, "nope") };
	CK_ATTRIBUTE to_token[] = { CH_T_BOOL(CKA_TOKEN, true) };

	REQUIRE(ch_t_setup(&e));
	REQUIRE_RV(ch_t_user_session(&e, true, &rw), CKR_OK);
	REQUIRE_RV(ch_t_create_data(rw, true, false, "ro-test", "x", 1, &tok), CKR_OK);
	REQUIRE_RV(ch_t_open(e.slot, false, &ro), CKR_OK);
	CHECK_RV(ch_t_create_data(ro, true, false, "ro-new", "x", 1, &o), CKR_SESSION_READ_ONLY);
	CHECK_RV(P11->C_SetAttributeValue(ro, tok, relabel, 1), CKR_SESSION_READ_ONLY);
	CHECK_RV(P11->C_DestroyObject(ro, tok), CKR_SESSION_READ_ONLY);
	CHECK_RV(P11->C_CopyObject(ro, tok, NULL, 0, &o), CKR_SESSION_READ_ONLY);
	CHECK(ch_t_count_label(ro, "ro-new") == 0);
	CHECK(ch_t_count_label(ro, "ro-test") == 1);
	/* Session objects are fine in a read-only session, but not copied
	 * into the token. */
	CHECK_RV(ch_t_create_data(ro, false, false, "ro-session", "x", 1, &o), CKR_OK);
	CHECK_RV(P11->C_CopyObject(ro, o, to_token, 1, &o), CKR_SESSION_READ_ONLY);
	CHECK_RV(ch_t_gen_aes(ro, true, "ro-gen", &o), CKR_SESSION_READ_ONLY);
out:
	ch_t_env_free(&e);
}

static void test_private_object_needs_user_login(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE o;

	REQUIRE(ch_t_setup(&e));
	REQUIRE_RV(ch_t_open(e.slot, true, &h), CKR_OK);
	CHECK_RV(ch_t_create_data(h, false, true, "p", "x", 1, &o), CKR_USER_NOT_LOGGED_IN);
	CHECK_RV(ch_t_create_data(h, true, true, "p", "x", 1, &o), CKR_USER_NOT_LOGGED_IN);
	/* The SO is not the user either. */
	REQUIRE_RV(ch_t_login(h, CKU_SO, CH_T_SO_PIN), CKR_OK);
	CHECK_RV(ch_t_create_data(h, true, true, "p", "x", 1, &o), CKR_USER_NOT_LOGGED_IN);
	CHECK_RV(P11->C_Logout(h), CKR_OK);
	REQUIRE_RV(ch_t_login_user(h), CKR_OK);
	CHECK(ch_t_count_label(h, "p") == 0);
out:
	ch_t_env_free(&e);
}

static void test_aes_gcm_known_answer(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE k;
	CK_MECHANISM m;
	CK_GCM_PARAMS gp;
	blob key = unhex(gcm_key_hex), iv = unhex(gcm_iv_hex), aad = unhex(gcm_aad_hex),
	     pt = unhex(gcm_pt_hex), ct = unhex(gcm_ct_tag_hex);
	CK_BYTE out[128];
	CK_ULONG len;

	REQUIRE(key.n == 32 && iv.n == 12 && aad.n == 20 && pt.n == 60 && ct.n == 76);
	REQUIRE(ch_t_setup(&e));
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	REQUIRE_RV(ch_t_create_aes(h, false, true, true, false, "gcm", key.v, 32, &k), CKR_OK);
	ch_t_gcm(&m, &gp, iv.v, aad.v, aad.n);
	REQUIRE_RV(P11->C_EncryptInit(h, &m, k), CKR_OK);
	len = sizeof(out);
	REQUIRE_RV(P11->C_Encrypt(h, pt.v, pt.n, out, &len), CKR_OK);
	CHECK(len == ct.n && memcmp(out, ct.v, ct.n) == 0);

	REQUIRE_RV(P11->C_DecryptInit(h, &m, k), CKR_OK);
	len = sizeof(out);
	REQUIRE_RV(P11->C_Decrypt(h, ct.v, ct.n, out, &len), CKR_OK);
	CHECK(len == pt.n && memcmp(out, pt.v, pt.n) == 0);
out:
	ch_t_env_free(&e);
}

static void test_generated_aes_key_gcm_roundtrip(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE k;
	CK_MECHANISM m;
	CK_GCM_PARAMS gp;
	CK_BYTE iv[12] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 }, aad[4] = { 'h', 'd', 'r', '1' };
	CK_BYTE msg[] = "envelope-encrypted stream chunk, 45 bytes ...";
	CK_BYTE ct[128], back[128];
	CK_ULONG ct_len, len;

	REQUIRE(ch_t_setup(&e));
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	REQUIRE_RV(ch_t_gen_aes(h, true, "gen-aes", &k), CKR_OK);
	CHECK(ulong_is(h, k, CKA_CLASS, CKO_SECRET_KEY));
	CHECK(ulong_is(h, k, CKA_KEY_TYPE, CKK_AES));
	CHECK(ulong_is(h, k, CKA_VALUE_LEN, 32));
	CHECK(ch_t_get_bool(h, k, CKA_LOCAL) == 1);
	CHECK(ulong_is(h, k, CKA_KEY_GEN_MECHANISM, CKM_AES_KEY_GEN));

	ch_t_gcm(&m, &gp, iv, aad, sizeof(aad));
	REQUIRE_RV(P11->C_EncryptInit(h, &m, k), CKR_OK);
	CHECK_RV(P11->C_EncryptInit(h, &m, k), CKR_OPERATION_ACTIVE);
	/* Length query, then a short buffer: both leave the operation going. */
	ct_len = 0;
	REQUIRE_RV(P11->C_Encrypt(h, msg, sizeof(msg), NULL, &ct_len), CKR_OK);
	CHECK(ct_len >= sizeof(msg) + 16);
	len = 8;
	CHECK_RV(P11->C_Encrypt(h, msg, sizeof(msg), ct, &len), CKR_BUFFER_TOO_SMALL);
	ct_len = sizeof(ct);
	REQUIRE_RV(P11->C_Encrypt(h, msg, sizeof(msg), ct, &ct_len), CKR_OK);
	CHECK_UL(ct_len, sizeof(msg) + 16);
	CHECK(!ch_t_contains(ct, ct_len, msg, 16));
	/* One-shot C_Encrypt ended the operation. */
	len = sizeof(back);
	CHECK_RV(P11->C_Encrypt(h, msg, sizeof(msg), back, &len), CKR_OPERATION_NOT_INITIALIZED);

	REQUIRE_RV(P11->C_DecryptInit(h, &m, k), CKR_OK);
	len = sizeof(back);
	REQUIRE_RV(P11->C_Decrypt(h, ct, ct_len, back, &len), CKR_OK);
	CHECK(len == sizeof(msg) && memcmp(back, msg, sizeof(msg)) == 0);

	/* A flipped bit fails the tag and releases no plaintext. */
	ct[5] ^= 0x20;
	memset(back, 0xEE, sizeof(back));
	REQUIRE_RV(P11->C_DecryptInit(h, &m, k), CKR_OK);
	len = sizeof(back);
	CHECK_RV2(P11->C_Decrypt(h, ct, ct_len, back, &len), CKR_ENCRYPTED_DATA_INVALID,
	          CKR_AEAD_DECRYPT_FAILED);
	CHECK(!ch_t_contains(back, sizeof(back), msg + 8, 16));
	/* Different AAD fails too. */
	ct[5] ^= 0x20;
	aad[0] = 'H';
	REQUIRE_RV(P11->C_DecryptInit(h, &m, k), CKR_OK);
	len = sizeof(back);
	CHECK_RV2(P11->C_Decrypt(h, ct, ct_len, back, &len), CKR_ENCRYPTED_DATA_INVALID,
	          CKR_AEAD_DECRYPT_FAILED);

	/* The generated token key works after a restart. */
	aad[0] = 'h';
	CHECK_RV(P11->C_Finalize(NULL), CKR_OK);
	REQUIRE_RV(ch_t_initialize(), CKR_OK);
	REQUIRE_RV(ch_t_user_session(&e, false, &h), CKR_OK);
	REQUIRE_RV(P11->C_DecryptInit(h, &m, k), CKR_OK);
	len = sizeof(back);
	CHECK_RV(P11->C_Decrypt(h, ct, ct_len, back, &len), CKR_OK);
	CHECK(len == sizeof(msg) && memcmp(back, msg, sizeof(msg)) == 0);
out:
	ch_t_env_free(&e);
}

static void test_generated_ec_pair_signs_with_ecdsa_and_ecdsa_sha256(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE pub, priv;
	CK_MECHANISM raw = { CKM_ECDSA, NULL, 0 }, sha = { CKM_ECDSA_SHA256, NULL, 0 };
	CK_BYTE digest[32], msg[100], sig[128], sig2[128], point[128];
	CK_ULONG slen, slen2, plen = sizeof(point);

	memset(digest, 0x5a, sizeof(digest));
	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = (CK_BYTE)i;
	REQUIRE(ch_t_setup(&e));
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	REQUIRE_RV(ch_t_gen_ec(h, true, "gen-ec", &pub, &priv), CKR_OK);
	CHECK(ulong_is(h, pub, CKA_CLASS, CKO_PUBLIC_KEY));
	CHECK(ulong_is(h, priv, CKA_CLASS, CKO_PRIVATE_KEY));
	CHECK(ulong_is(h, priv, CKA_KEY_TYPE, CKK_EC));
	CHECK_RV(ch_t_get(h, pub, CKA_EC_POINT, point, &plen), CKR_OK);
	CHECK(plen == 67 && point[0] == 0x04 && point[1] == 0x41 && point[2] == 0x04);
	CHECK(ch_t_get_bool(h, priv, CKA_LOCAL) == 1);
	CHECK(ch_t_get_bool(h, priv, CKA_ALWAYS_SENSITIVE) == 1);
	CHECK(ch_t_get_bool(h, priv, CKA_SENSITIVE) == 1);
	CHECK(attr_is(h, priv, CKA_EC_PARAMS, ch_t_p256_params, sizeof(ch_t_p256_params)));
	{
		CK_BYTE d[64];
		CK_ULONG dlen = sizeof(d);
		CHECK_RV(ch_t_get(h, priv, CKA_VALUE, d, &dlen), CKR_ATTRIBUTE_SENSITIVE);
	}

	/* CKM_ECDSA over a digest; the length query first. */
	REQUIRE_RV(P11->C_SignInit(h, &raw, priv), CKR_OK);
	slen = 0;
	REQUIRE_RV(P11->C_Sign(h, digest, sizeof(digest), NULL, &slen), CKR_OK);
	CHECK_UL(slen, 64);
	slen = sizeof(sig);
	REQUIRE_RV(P11->C_Sign(h, digest, sizeof(digest), sig, &slen), CKR_OK);
	REQUIRE_RV(P11->C_VerifyInit(h, &raw, pub), CKR_OK);
	CHECK_RV(P11->C_Verify(h, digest, sizeof(digest), sig, slen), CKR_OK);
	sig[10] ^= 1;
	REQUIRE_RV(P11->C_VerifyInit(h, &raw, pub), CKR_OK);
	CHECK_RV(P11->C_Verify(h, digest, sizeof(digest), sig, slen), CKR_SIGNATURE_INVALID);
	REQUIRE_RV(P11->C_VerifyInit(h, &raw, pub), CKR_OK);
	CHECK_RV2(P11->C_Verify(h, digest, sizeof(digest), sig, slen - 1), CKR_SIGNATURE_LEN_RANGE,
	          CKR_SIGNATURE_INVALID);

	/* CKM_ECDSA_SHA256 one-shot, and in parts; each verifies the other. */
	REQUIRE_RV(P11->C_SignInit(h, &sha, priv), CKR_OK);
	slen = sizeof(sig);
	REQUIRE_RV(P11->C_Sign(h, msg, sizeof(msg), sig, &slen), CKR_OK);
	CHECK_UL(slen, 64);
	REQUIRE_RV(P11->C_SignInit(h, &sha, priv), CKR_OK);
	REQUIRE_RV(P11->C_SignUpdate(h, msg, 33), CKR_OK);
	REQUIRE_RV(P11->C_SignUpdate(h, msg + 33, sizeof(msg) - 33), CKR_OK);
	slen2 = sizeof(sig2);
	REQUIRE_RV(P11->C_SignFinal(h, sig2, &slen2), CKR_OK);
	REQUIRE_RV(P11->C_VerifyInit(h, &sha, pub), CKR_OK);
	CHECK_RV(P11->C_Verify(h, msg, sizeof(msg), sig2, slen2), CKR_OK);
	REQUIRE_RV(P11->C_VerifyInit(h, &sha, pub), CKR_OK);
	CHECK_RV(P11->C_VerifyUpdate(h, msg, 50), CKR_OK);
	CHECK_RV(P11->C_VerifyUpdate(h, msg + 50, sizeof(msg) - 50), CKR_OK);
	CHECK_RV(P11->C_VerifyFinal(h, sig, slen), CKR_OK);
	msg[0] ^= 1;
	REQUIRE_RV(P11->C_VerifyInit(h, &sha, pub), CKR_OK);
	CHECK_RV(P11->C_Verify(h, msg, sizeof(msg), sig, slen), CKR_SIGNATURE_INVALID);
out:
	ch_t_env_free(&e);
}

static void test_operation_key_and_state_rules(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE aes, no_enc, pub, priv;
	CK_MECHANISM m, ecdsa = { CKM_ECDSA, NULL, 0 }, bogus = { 0x7ffffff0UL, NULL, 0 };
	CK_GCM_PARAMS gp;
	CK_BYTE iv[12] = { 0 }, buf[64];
	CK_ULONG len = sizeof(buf);
	CK_ATTRIBUTE enc_off[] = { CH_T_BOOL(CKA_ENCRYPT, false) };

	REQUIRE(ch_t_setup(&e));
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	REQUIRE_RV(ch_t_gen_aes(h, false, "ops", &aes), CKR_OK);
	REQUIRE_RV(ch_t_gen_aes(h, false, "ops-noenc", &no_enc), CKR_OK);
	REQUIRE_RV(P11->C_SetAttributeValue(h, no_enc, enc_off, 1), CKR_OK);
	REQUIRE_RV(ch_t_gen_ec(h, false, "ops-ec", &pub, &priv), CKR_OK);
	ch_t_gcm(&m, &gp, iv, NULL, 0);

	CHECK_RV(P11->C_Encrypt(h, buf, 16, buf, &len), CKR_OPERATION_NOT_INITIALIZED);
	CHECK_RV(P11->C_EncryptInit(h, &m, no_enc), CKR_KEY_FUNCTION_NOT_PERMITTED);
	/* A key of the wrong type (or class) for the mechanism: these keys also
	 * lack the usage attribute, so either code is right. */
	CHECK_RV2(P11->C_EncryptInit(h, &m, priv), CKR_KEY_TYPE_INCONSISTENT,
	          CKR_KEY_FUNCTION_NOT_PERMITTED);
	CHECK_RV2(P11->C_SignInit(h, &ecdsa, aes), CKR_KEY_TYPE_INCONSISTENT,
	          CKR_KEY_FUNCTION_NOT_PERMITTED);
	CHECK_RV2(P11->C_SignInit(h, &ecdsa, pub), CKR_KEY_TYPE_INCONSISTENT,
	          CKR_KEY_FUNCTION_NOT_PERMITTED);
	CHECK_RV2(P11->C_VerifyInit(h, &ecdsa, priv), CKR_KEY_TYPE_INCONSISTENT,
	          CKR_KEY_FUNCTION_NOT_PERMITTED);
	CHECK_RV(P11->C_EncryptInit(h, &bogus, aes), CKR_MECHANISM_INVALID);
	CHECK_RV(P11->C_SignInit(h, &m, priv), CKR_MECHANISM_INVALID);
	/* A GCM mechanism without its parameters. */
	{
		CK_MECHANISM naked = { CKM_AES_GCM, NULL, 0 };
		CHECK_RV(P11->C_EncryptInit(h, &naked, aes), CKR_MECHANISM_PARAM_INVALID);
	}
	/* Failed inits left nothing running. */
	CHECK_RV(P11->C_EncryptInit(h, &m, aes), CKR_OK);
	CHECK_RV(P11->C_SignInit(h, &ecdsa, priv), CKR_OK);
	CHECK_RV(P11->C_SignInit(h, &ecdsa, priv), CKR_OPERATION_ACTIVE);
out:
	ch_t_env_free(&e);
}

static void test_crypto_and_key_generation_need_login(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE k, pub, priv;
	CK_MECHANISM m;
	CK_GCM_PARAMS gp;
	CK_BYTE iv[12] = { 0 };

	REQUIRE(ch_t_setup(&e));
	REQUIRE_RV(ch_t_open(e.slot, true, &h), CKR_OK);
	CHECK_RV(ch_t_gen_aes(h, false, "anon", &k), CKR_USER_NOT_LOGGED_IN);
	CHECK_RV(ch_t_gen_ec(h, false, "anon", &pub, &priv), CKR_USER_NOT_LOGGED_IN);
	/* A public session key may be created, but not used, without a login. */
	REQUIRE_RV(ch_t_create_aes(h, false, false, false, true, "anon", key32, 32, &k), CKR_OK);
	ch_t_gcm(&m, &gp, iv, NULL, 0);
	CHECK_RV(P11->C_EncryptInit(h, &m, k), CKR_USER_NOT_LOGGED_IN);
	REQUIRE_RV(ch_t_login_user(h), CKR_OK);
	CHECK_RV(P11->C_EncryptInit(h, &m, k), CKR_OK);
out:
	ch_t_env_free(&e);
}

static bool has_mech(const CK_MECHANISM_TYPE *list, CK_ULONG n, CK_MECHANISM_TYPE m)
{
	for (CK_ULONG i = 0; i < n; i++)
		if (list[i] == m)
			return true;
	return false;
}

static void test_mechanism_list_and_info(void)
{
	ch_t_env e;
	CK_MECHANISM_TYPE list[128];
	CK_ULONG n = 0, small = 1;
	CK_MECHANISM_INFO mi;
	static const CK_MECHANISM_TYPE want[] = { CKM_AES_KEY_GEN, CKM_AES_GCM, CKM_EC_KEY_PAIR_GEN,
		                                  CKM_ECDSA, CKM_ECDSA_SHA256 };

	REQUIRE(ch_t_setup(&e));
	REQUIRE_RV(P11->C_GetMechanismList(e.slot, NULL, &n), CKR_OK);
	REQUIRE(n >= CH_T_ARRAY_LEN(want) && n <= CH_T_ARRAY_LEN(list));
	CHECK_RV(P11->C_GetMechanismList(e.slot, list, &small), CKR_BUFFER_TOO_SMALL);
	CHECK_UL(small, n);
	REQUIRE_RV(P11->C_GetMechanismList(e.slot, list, &n), CKR_OK);
	for (size_t i = 0; i < CH_T_ARRAY_LEN(want); i++) {
		if (!CHECK(has_mech(list, n, want[i])))
			fprintf(stderr, "\tmechanism 0x%lx missing\n", (unsigned long)want[i]);
	}
	for (CK_ULONG i = 0; i < n; i++)
		CHECK_RV(P11->C_GetMechanismInfo(e.slot, list[i], &mi), CKR_OK);

	REQUIRE_RV(P11->C_GetMechanismInfo(e.slot, CKM_AES_KEY_GEN, &mi), CKR_OK);
	CHECK(mi.flags & CKF_GENERATE);
	CHECK_UL(mi.ulMinKeySize, 16);
	CHECK_UL(mi.ulMaxKeySize, 32);
	REQUIRE_RV(P11->C_GetMechanismInfo(e.slot, CKM_AES_GCM, &mi), CKR_OK);
	CHECK((mi.flags & (CKF_ENCRYPT | CKF_DECRYPT)) == (CKF_ENCRYPT | CKF_DECRYPT));
	CHECK(!(mi.flags & CKF_SIGN));
	REQUIRE_RV(P11->C_GetMechanismInfo(e.slot, CKM_EC_KEY_PAIR_GEN, &mi), CKR_OK);
	CHECK(mi.flags & CKF_GENERATE_KEY_PAIR);
	CHECK(mi.ulMinKeySize <= 256 && mi.ulMaxKeySize >= 256);
	REQUIRE_RV(P11->C_GetMechanismInfo(e.slot, CKM_ECDSA, &mi), CKR_OK);
	CHECK((mi.flags & (CKF_SIGN | CKF_VERIFY)) == (CKF_SIGN | CKF_VERIFY));
	CHECK(!(mi.flags & CKF_ENCRYPT));
	REQUIRE_RV(P11->C_GetMechanismInfo(e.slot, CKM_ECDSA_SHA256, &mi), CKR_OK);
	CHECK((mi.flags & (CKF_SIGN | CKF_VERIFY)) == (CKF_SIGN | CKF_VERIFY));
	CHECK(!(mi.flags & CKF_HW));
	CHECK_RV(P11->C_GetMechanismInfo(e.slot, 0x7ffffff0UL, &mi), CKR_MECHANISM_INVALID);
out:
	ch_t_env_free(&e);
}

static void test_generate_random(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h;
	CK_BYTE a[64], b[64], zero[64] = { 0 };

	memset(a, 0, sizeof(a));
	memset(b, 0, sizeof(b));
	REQUIRE(ch_t_setup(&e));
	REQUIRE_RV(ch_t_user_session(&e, false, &h), CKR_OK);
	CHECK_RV(P11->C_GenerateRandom(h, a, sizeof(a)), CKR_OK);
	CHECK_RV(P11->C_GenerateRandom(h, b, sizeof(b)), CKR_OK);
	CHECK(memcmp(a, b, sizeof(a)) != 0);
	CHECK(memcmp(a, zero, sizeof(a)) != 0);
	CHECK(memcmp(a + 32, zero, 32) != 0);
	CHECK_RV(P11->C_GenerateRandom(h, a, 0), CKR_OK);
	{
		CK_BYTE big[4096];
		int ones = 0;
		CHECK_RV(P11->C_GenerateRandom(h, big, sizeof(big)), CKR_OK);
		for (size_t i = 0; i < sizeof(big); i++)
			ones += __builtin_popcount(big[i]);
		/* 32768 fair bits: far outside 15000..17768 means no RNG. */
		CHECK(ones > 15000 && ones < 17768);
	}
out:
	ch_t_env_free(&e);
}

static const ch_t_case tests[] = {
	CH_T_CASE(test_data_object_roundtrip),
	CH_T_CASE(test_get_attribute_value_reports_every_entry),
	CH_T_CASE(test_secret_key_value_sensitive_or_unextractable_is_unavailable),
	CH_T_CASE(test_every_class_can_be_created_from_known_components),
	CH_T_CASE(test_created_ec_keys_sign_and_verify),
	CH_T_CASE(test_unique_id_assigned_distinct_and_read_only),
	CH_T_CASE(test_create_template_errors),
	CH_T_CASE(test_set_attribute_value_rules),
	CH_T_CASE(test_sensitive_and_extractable_change_one_way_only),
	CH_T_CASE(test_modifiable_copyable_destroyable_false_prohibit),
	CH_T_CASE(test_copy_object),
	CH_T_CASE(test_destroy_object_removes_it),
	CH_T_CASE(test_object_size),
	CH_T_CASE(test_find_objects_by_template_and_in_chunks),
	CH_T_CASE(test_find_operation_state_rules),
	CH_T_CASE(test_private_objects_invisible_before_login),
	CH_T_CASE(test_session_objects_end_with_their_session),
	CH_T_CASE(test_token_objects_persist_across_reinitialize),
	CH_T_CASE(test_read_only_session_cannot_write_token_objects),
	CH_T_CASE(test_private_object_needs_user_login),
	CH_T_CASE(test_aes_gcm_known_answer),
	CH_T_CASE(test_generated_aes_key_gcm_roundtrip),
	CH_T_CASE(test_generated_ec_pair_signs_with_ecdsa_and_ecdsa_sha256),
	CH_T_CASE(test_operation_key_and_state_rules),
	CH_T_CASE(test_crypto_and_key_generation_need_login),
	CH_T_CASE(test_mechanism_list_and_info),
	CH_T_CASE(test_generate_random),
};

int main(void)
{
	return ch_t_run(tests, CH_T_ARRAY_LEN(tests));
}
