/*
 * test_header_abi: include/cipherhub/pkcs11.h describes the ABI every
 * PKCS#11 application uses, and a wrong constant or a misplaced field there
 * would make the module and its callers disagree silently.  This test
 * checks the header three ways:
 *
 *  1. against p11-kit's independent <p11-kit/pkcs11.h> (PKCS#11 2.40): the
 *     program abi_p11kit prints every listed constant, type size and field
 *     offset as p11-kit's header has them; this test prints the same records
 *     from ours and compares every record both have.  Where p11-kit is
 *     known to differ from the specification, the difference is listed
 *     below with the reason, and must still be there (a fixed p11-kit makes
 *     the entry stale, and the test says so);
 *  2. against itself: the function tables hold 68 and 92 pointers, in the
 *     order of the X-macro lists, with no padding; CK_FUNCTION_LIST_3_0
 *     starts with CK_FUNCTION_LIST's layout;
 *  3. against its source text: every constant, type and structure field in
 *     the header is in abi_names.inc (so nothing escapes the comparison),
 *     and check.h's ch_test_rv_name() knows every CKR_ constant.
 *
 * Usage: test_header_abi            run the checks
 *        test_header_abi --dump     print our records (same format as
 *                                   abi_p11kit) and exit
 *
 * Finds abi_p11kit in $CH_ABI_P11KIT, else next to this executable, and the
 * header source in $CH_TEST_SRC/include, else relative to this file.
 */
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* See abi_p11kit.c: the listed names exist as enumerators until the header
 * defines them as macros. */
#define ABI_C(name) name = 0,
#define ABI_T(type)
#define ABI_F(s, f)
#define ABI_TN(type)
#define ABI_FN(s, f)
enum abi_undefined_names {
#include "abi_names.inc"
	abi_undefined_names_end
};
#undef ABI_C
#undef ABI_T
#undef ABI_F
#undef ABI_TN
#undef ABI_FN

#include "check.h"
#include "cipherhub/pkcs11.h"

#define ABI_STR_(x)  #x
#define ABI_XSTR_(x) ABI_STR_(x)

/*
 * Where p11-kit 0.24's header differs from the PKCS#11 specification.  Each
 * entry is a record key and the reason; the test requires the difference
 * to exist.
 */
static const struct {
	const char *key;
	const char *why;
} p11kit_wrong[] = {
	{ "const CKR_EXCEEDED_MAX_ITERATIONS",
	  "p11-kit has 0x1c0; PKCS#11 2.40 and 3.0 (5.1) define 0x1b5" },
	{ "const CKR_FIPS_SELF_TEST_FAILED",
	  "p11-kit has 0x1c1; PKCS#11 2.40 and 3.0 (5.1) define 0x1b6" },
	{ "const CKR_LIBRARY_LOAD_FAILED",
	  "p11-kit has 0x1c2; PKCS#11 2.40 and 3.0 (5.1) define 0x1b7" },
	{ "const CKR_PIN_TOO_WEAK", "p11-kit has 0x1c3; PKCS#11 2.40 and 3.0 (5.1) define 0x1b8" },
	{ "const CKR_PUBLIC_KEY_INVALID",
	  "p11-kit has 0x1c4; PKCS#11 2.40 and 3.0 (5.1) define 0x1b9" },
	{ "const CRYPTOKI_VERSION_MINOR", "p11-kit's header is 2.40, ours 3.0" },
	{ "const CRYPTOKI_VERSION_MAJOR", "p11-kit's header is 2.40, ours 3.0" },
};

/* Names p11-kit defines that are not PKCS#11 3.0: its own additions. */
static const struct {
	const char *key;
	const char *why;
} p11kit_only[] = {
	{ "const CKC_OPENPGP", "p11-kit's vendor-defined certificate type" },
	{ "const CK_OTP_FORMAT",
	  "p11-kit's name for the OTP parameter type 7, CK_OTP_OUTPUT_FORMAT in the spec" },
};

/* ---- records ---- */

typedef struct abi_rec {
	char *key; /* "const NAME", "size TYPE", "field STRUCT.FIELD" */
	char *val; /* "0x..", "N", "OFFSET N" */
} abi_rec;

typedef struct abi_set {
	abi_rec *r;
	size_t n, cap;
} abi_set;

static int rec_cmp(const void *a, const void *b)
{
	return strcmp(((const abi_rec *)a)->key, ((const abi_rec *)b)->key);
}

/* Parses "kind name value..." lines; returns 0, or -1 on a malformed line
 * or no memory. */
static int set_parse(abi_set *s, const char *text)
{
	const char *line = text;

	while (*line != '\0') {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);
		const char *sp1 = memchr(line, ' ', len), *sp2;
		abi_rec r;

		if (sp1 == NULL ||
		    (sp2 = memchr(sp1 + 1, ' ', len - (size_t)(sp1 + 1 - line))) == NULL)
			return -1;
		r.key = strndup(line, (size_t)(sp2 - line));
		r.val = strndup(sp2 + 1, len - (size_t)(sp2 + 1 - line));
		if (r.key == NULL || r.val == NULL)
			return -1;
		if (s->n == s->cap) {
			size_t cap = s->cap ? 2 * s->cap : 1024;
			abi_rec *nr = realloc(s->r, cap * sizeof(*nr));

			if (nr == NULL)
				return -1;
			s->r = nr;
			s->cap = cap;
		}
		s->r[s->n++] = r;
		line += len + (end != NULL);
	}
	qsort(s->r, s->n, sizeof(*s->r), rec_cmp);
	return 0;
}

static const abi_rec *set_find(const abi_set *s, const char *key)
{
	abi_rec k = { (char *)key, NULL };

	return s->n ? bsearch(&k, s->r, s->n, sizeof(*s->r), rec_cmp) : NULL;
}

static void set_free(abi_set *s)
{
	size_t i;

	for (i = 0; i < s->n; i++) {
		free(s->r[i].key);
		free(s->r[i].val);
	}
	free(s->r);
	memset(s, 0, sizeof(*s));
}

/* Our header's records, in abi_p11kit's format. */
static void dump_ours(FILE *out)
{
#define ABI_C(name)                                                                                \
	if (strcmp(#name, ABI_XSTR_(name)) != 0)                                                   \
		fprintf(out, "const %s 0x%lx\n", #name, (unsigned long)(name));
#define ABI_T(type) fprintf(out, "size %s %zu\n", #type, sizeof(type));
#define ABI_F(s, f)                                                                                \
	fprintf(out, "field %s.%s %zu %zu\n", #s, #f, offsetof(s, f), sizeof(((s *)0)->f));
#define ABI_TN(type) ABI_T(type)
#define ABI_FN(s, f) ABI_F(s, f)
#include "abi_names.inc"
#undef ABI_C
#undef ABI_T
#undef ABI_F
#undef ABI_TN
#undef ABI_FN
}

/* Reads a whole stream into a NUL-terminated buffer (caller frees). */
static char *read_all(FILE *f)
{
	char *buf = NULL;
	size_t len = 0, cap = 0, got;

	do {
		if (cap - len < 4096) {
			char *nb = realloc(buf, cap + 65536);

			if (nb == NULL) {
				free(buf);
				return NULL;
			}
			buf = nb;
			cap += 65536;
		}
		got = fread(buf + len, 1, cap - len - 1, f);
		len += got;
	} while (got > 0);
	buf[len] = '\0';
	return buf;
}

/* ---- 1. comparison with p11-kit ---- */

static const char *p11kit_program(char *buf, size_t cap)
{
	const char *env = getenv("CH_ABI_P11KIT");
	ssize_t n;
	char *slash;

	if (env != NULL && *env != '\0')
		return env;
	n = readlink("/proc/self/exe", buf, cap - 1);
	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	slash = strrchr(buf, '/');
	if (slash == NULL || (size_t)(slash - buf) + sizeof("/abi_p11kit") > cap)
		return NULL;
	strcpy(slash, "/abi_p11kit");
	return buf;
}

static const char *listed_reason(const char *key, int wrong)
{
	size_t i;

	if (wrong) {
		for (i = 0; i < sizeof(p11kit_wrong) / sizeof(p11kit_wrong[0]); i++)
			if (strcmp(key, p11kit_wrong[i].key) == 0)
				return p11kit_wrong[i].why;
	} else {
		for (i = 0; i < sizeof(p11kit_only) / sizeof(p11kit_only[0]); i++)
			if (strcmp(key, p11kit_only[i].key) == 0)
				return p11kit_only[i].why;
	}
	return NULL;
}

static void test_header_matches_p11kit(const abi_set *ours)
{
	char path[PATH_MAX];
	const char *prog = p11kit_program(path, sizeof(path));
	unsigned counts[3] = { 0, 0, 0 }; /* const, size, field compared */
	abi_set theirs = { 0 };
	char *text = NULL;
	FILE *p = NULL;
	size_t i;
	int status;

	if (!CHECK(prog != NULL && access(prog, X_OK) == 0)) {
		fprintf(stderr,
		        "\tabi_p11kit not found (%s); build it next to this test or set "
		        "CH_ABI_P11KIT\n",
		        prog ? prog : "?");
		goto out;
	}
	p = popen(prog, "r");
	if (!CHECK(p != NULL))
		goto out;
	text = read_all(p);
	status = pclose(p);
	if (!CHECK(status == 0) || !CHECK(text != NULL))
		goto out;
	if (!CHECK(set_parse(&theirs, text) == 0))
		goto out;

	for (i = 0; i < theirs.n; i++) {
		const abi_rec *t = &theirs.r[i], *o = set_find(ours, t->key);
		const char *why;

		if (o == NULL) {
			why = listed_reason(t->key, 0);
			if (!CHECK(why != NULL))
				fprintf(stderr, "\tp11-kit has \"%s %s\"; our header lacks it\n",
				        t->key, t->val);
			continue;
		}
		counts[t->key[0] == 'c' ? 0 : t->key[0] == 's' ? 1 : 2]++;
		why = listed_reason(t->key, 1);
		if (why != NULL) {
			if (CHECK(strcmp(o->val, t->val) != 0))
				printf("known p11-kit difference: %s ours %s, p11-kit %s (%s)\n",
				       t->key, o->val, t->val, why);
			else
				fprintf(stderr, "\t%s: p11-kit now agrees (%s); drop the entry\n",
				        t->key, o->val);
			continue;
		}
		if (!CHECK(strcmp(o->val, t->val) == 0))
			fprintf(stderr, "\t%s: ours %s, p11-kit %s\n", t->key, o->val, t->val);
	}
	for (i = 0; i < sizeof(p11kit_wrong) / sizeof(p11kit_wrong[0]); i++)
		if (!CHECK(set_find(&theirs, p11kit_wrong[i].key) != NULL))
			fprintf(stderr, "\t%s: listed as a p11-kit difference, not in its output\n",
			        p11kit_wrong[i].key);
	/* An empty or truncated p11-kit dump must not pass quietly. */
	CHECK(counts[0] > 0 && counts[1] > 0 && counts[2] > 0);
	printf("compared with p11-kit: %u constants, %u type sizes, %u fields\n", counts[0],
	       counts[1], counts[2]);
out:
	free(text);
	set_free(&theirs);
}

/* ---- 2. the function tables ---- */

static void test_function_tables_are_dense_and_ordered(void)
{
	const size_t ptr = sizeof(CK_C_Initialize), align = _Alignof(CK_C_Initialize);
	/* The first function pointer: after the version, aligned. */
	const size_t first = (sizeof(CK_VERSION) + align - 1) / align * align;
	size_t n240 = 0, n30 = 0, expect240, expect30;

	/* CK_FUNCTION_LIST: the version, then one pointer after the other in
	 * the X-macro order. */
	expect240 = first;
#define CH_CHECK_240_(name, params)                                                                \
	if (!CHECK_UL(offsetof(CK_FUNCTION_LIST, name), expect240))                                \
		fprintf(stderr, "\tCK_FUNCTION_LIST.%s out of place\n", #name);                    \
	expect240 += ptr;                                                                          \
	n240++;
	CK_FUNCTIONS_2_40(CH_CHECK_240_)
#undef CH_CHECK_240_
	CHECK_UL(n240, 68);
	CHECK_UL(n240, CK_FUNCTION_COUNT_2_40);
	CHECK_UL(sizeof(CK_FUNCTION_LIST), expect240);

	/* CK_FUNCTION_LIST_3_0: the same prefix, then the 24 added in 3.0. */
	expect30 = first;
#define CH_CHECK_30_(name, params)                                                                 \
	if (!CHECK_UL(offsetof(CK_FUNCTION_LIST_3_0, name), expect30))                             \
		fprintf(stderr, "\tCK_FUNCTION_LIST_3_0.%s out of place\n", #name);                \
	expect30 += ptr;                                                                           \
	n30++;
	CK_FUNCTIONS_2_40(CH_CHECK_30_)
	CHECK_UL(expect30, sizeof(CK_FUNCTION_LIST));
	CK_FUNCTIONS_3_0(CH_CHECK_30_)
#undef CH_CHECK_30_
	CHECK_UL(n30, 92);
	CHECK_UL(n30, CK_FUNCTION_COUNT_3_0);
	CHECK_UL(sizeof(CK_FUNCTION_LIST_3_0), expect30);
}

/* ---- 3. coverage of the header source ---- */

static const char *header_path(char *buf, size_t cap)
{
	const char *src = getenv("CH_TEST_SRC");
	const char *tail = "tests/unit/test_header_abi.c";
	size_t flen = strlen(__FILE__), tlen = strlen(tail);

	if (src != NULL && *src != '\0') {
		snprintf(buf, cap, "%s/include/cipherhub/pkcs11.h", src);
		return buf;
	}
	if (flen < tlen || strcmp(__FILE__ + flen - tlen, tail) != 0)
		return NULL;
	snprintf(buf, cap, "%.*sinclude/cipherhub/pkcs11.h", (int)(flen - tlen), __FILE__);
	return buf;
}

/* Copies into out the identifier starting at s; returns its length. */
static size_t ident(const char *s, char *out, size_t cap)
{
	size_t n = 0;

	while ((s[n] == '_' || (s[n] >= 'A' && s[n] <= 'Z') || (s[n] >= 'a' && s[n] <= 'z') ||
	        (s[n] >= '0' && s[n] <= '9')) &&
	       n + 1 < cap) {
		out[n] = s[n];
		n++;
	}
	out[n] = '\0';
	return n;
}

/* The last identifier before the first ';' (or '[') of a declaration. */
static int declared_name(const char *line, char *out, size_t cap)
{
	const char *end = strpbrk(line, "[;");
	const char *p;

	if (end == NULL)
		return -1;
	p = end;
	while (p > line && p[-1] == ' ')
		p--;
	while (p > line && (p[-1] == '_' || (p[-1] >= 'A' && p[-1] <= 'Z') ||
	                    (p[-1] >= 'a' && p[-1] <= 'z') || (p[-1] >= '0' && p[-1] <= '9')))
		p--;
	return ident(p, out, cap) > 0 ? 0 : -1;
}

static void require(const abi_set *ours, const char *key, unsigned *checked)
{
	(*checked)++;
	if (set_find(ours, key) == NULL) {
		ch_test_result(0, __FILE__, __LINE__, "header name covered by abi_names.inc");
		fprintf(stderr, "\t\"%s\" is in pkcs11.h but not in abi_names.inc\n", key);
	}
}

static void test_names_list_covers_header(const abi_set *ours)
{
	char path[PATH_MAX], line[1024], name[128], strct[128] = "", key[300];
	unsigned checked = 0;
	FILE *f;

	if (!CHECK(header_path(path, sizeof(path)) != NULL))
		return;
	f = fopen(path, "r");
	if (!CHECK(f != NULL)) {
		fprintf(stderr, "\tcannot open %s\n", path);
		return;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		char *c = strstr(line, "/*");
		size_t n;

		if (c != NULL && strchr(line, '#') != line)
			*c = '\0'; /* drop trailing comments (not in #define lines) */
		if (strncmp(line, "#define ", 8) == 0) {
			n = ident(line + 8, name, sizeof(name));
			if (n == 0 || line[8 + n] == '(' || strcmp(name, "CK_PTR") == 0)
				continue;
			if (strncmp(name, "CK", 2) != 0 &&
			    strncmp(name, "CRYPTOKI_VERSION_", 17) != 0)
				continue;
			snprintf(key, sizeof(key), "const %s", name);
			require(ours, key, &checked);
		} else if (strncmp(line, "typedef struct ", 15) == 0 && strchr(line, '{') != NULL) {
			ident(line + 15, strct, sizeof(strct));
			snprintf(key, sizeof(key), "size %s", strct);
			require(ours, key, &checked);
		} else if (strct[0] != '\0' && line[0] == '}') {
			strct[0] = '\0';
		} else if (strct[0] != '\0' && line[0] == '\t') {
			if (declared_name(line, name, sizeof(name)) == 0) {
				snprintf(key, sizeof(key), "field %s.%s", strct, name);
				require(ours, key, &checked);
			}
		} else if (strncmp(line, "typedef ", 8) == 0 && strchr(line, '(') == NULL &&
		           strstr(line, "CK_PTR") == NULL && strstr(line, "struct") == NULL) {
			if (declared_name(line, name, sizeof(name)) == 0) {
				snprintf(key, sizeof(key), "size %s", name);
				require(ours, key, &checked);
			}
		}
	}
	fclose(f);
	/* The function tables come from the X-macro lists, not from struct text. */
#define CH_REQUIRE_240_(name, params)                                                              \
	require(ours, "field CK_FUNCTION_LIST." #name, &checked);                                  \
	require(ours, "field CK_FUNCTION_LIST_3_0." #name, &checked);
#define CH_REQUIRE_30_(name, params) require(ours, "field CK_FUNCTION_LIST_3_0." #name, &checked);
	CK_FUNCTIONS_2_40(CH_REQUIRE_240_)
	CK_FUNCTIONS_3_0(CH_REQUIRE_30_)
#undef CH_REQUIRE_240_
#undef CH_REQUIRE_30_
	/* The header has hundreds of names; finding few means we misread it. */
	CHECK(checked > 900);
	printf("header names covered: %u\n", checked);
}

/* Every CKR_ constant has its own name in ch_test_rv_name(). */
static void test_rv_names_complete(const abi_set *ours)
{
	size_t i;

	for (i = 0; i < ours->n; i++) {
		const abi_rec *r = &ours->r[i];
		const char *name = r->key + sizeof("const ") - 1;

		if (strncmp(r->key, "const CKR_", 10) != 0 ||
		    strcmp(name, "CKR_VENDOR_DEFINED") == 0)
			continue;
		if (!CHECK(strcmp(ch_test_rv_name(strtoul(r->val, NULL, 16)), name) == 0))
			fprintf(stderr, "\tch_test_rv_name(%s) is \"%s\"\n", r->val,
			        ch_test_rv_name(strtoul(r->val, NULL, 16)));
	}
}

int main(int argc, char **argv)
{
	abi_set ours = { 0 };
	char *text = NULL;
	size_t len = 0;
	FILE *mem;

	if (argc == 2 && strcmp(argv[1], "--dump") == 0) {
		dump_ours(stdout);
		return fflush(stdout) == 0 ? 0 : 1;
	}
	mem = open_memstream(&text, &len);
	if (!CHECK(mem != NULL))
		goto out;
	dump_ours(mem);
	if (!CHECK(fclose(mem) == 0) || !CHECK(set_parse(&ours, text) == 0))
		goto out;

	test_header_matches_p11kit(&ours);
	test_function_tables_are_dense_and_ordered();
	test_names_list_covers_header(&ours);
	test_rv_names_complete(&ours);
out:
	free(text);
	set_free(&ours);
	return ch_test_done();
}
