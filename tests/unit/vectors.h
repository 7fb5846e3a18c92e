/*
 * vectors.h: loading third-party test vectors (Wycheproof JSON files) for
 * the unit tests, with jansson.
 *
 * The vectors live outside the repository, in the directory named by the
 * environment variable CH_TEST_VECTORS (ctest sets it).  A test that cannot
 * find or parse its file must fail, not skip: vec_load() prints why and
 * returns NULL, and the caller counts that as a failed check.
 *
 *	json_t *root = vec_load("wycheproof/testvectors_v1/aes_gcm_test.json");
 *	vec_bytes key;
 *	if (vec_hex(test, "key", &key)) ... vec_bytes_free(&key);
 *
 * Everything here is static inline: each test is its own executable and
 * uses only some of it.
 */
#ifndef CH_TESTS_VECTORS_H
#define CH_TESTS_VECTORS_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

/* A decoded byte string; p is never NULL after a successful decode (an
 * empty string gets a one-byte allocation), so it can be passed where a
 * non-NULL pointer is required. */
typedef struct vec_bytes {
	unsigned char *p;
	size_t len;
} vec_bytes;

/* Loads $CH_TEST_VECTORS/rel.  Returns the parsed document (caller
 * json_decref()s it), or NULL after printing the reason to stderr. */
static inline json_t *vec_load(const char *rel)
{
	const char *dir = getenv("CH_TEST_VECTORS");
	json_error_t err;
	json_t *root;
	char path[4096];

	if (dir == NULL || *dir == '\0') {
		fprintf(stderr, "vectors: CH_TEST_VECTORS is not set (it names the directory "
		                "holding wycheproof/)\n");
		return NULL;
	}
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, rel) >= sizeof(path)) {
		fprintf(stderr, "vectors: path too long: %s/%s\n", dir, rel);
		return NULL;
	}
	root = json_load_file(path, 0, &err);
	if (root == NULL)
		fprintf(stderr, "vectors: %s:%d: %s\n", path, err.line, err.text);
	return root;
}

static inline int vec_nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes the hex string s into out (caller frees with vec_bytes_free).
 * False on odd length, a non-hex character or no memory; out is then
 * empty. */
static inline bool vec_unhex(const char *s, vec_bytes *out)
{
	size_t n = strlen(s), i;
	int hi, lo;

	out->p = NULL;
	out->len = 0;
	if (n % 2 != 0)
		return false;
	if ((out->p = malloc(n / 2 + 1)) == NULL)
		return false;
	for (i = 0; i < n / 2; i++) {
		hi = vec_nibble(s[2 * i]);
		lo = vec_nibble(s[2 * i + 1]);
		if (hi < 0 || lo < 0) {
			free(out->p);
			out->p = NULL;
			return false;
		}
		out->p[i] = (unsigned char)(hi << 4 | lo);
	}
	out->len = n / 2;
	return true;
}

/* Decodes the hex string member key of obj.  False (and a message) when it
 * is missing, not a string or not hex. */
static inline bool vec_hex(const json_t *obj, const char *key, vec_bytes *out)
{
	const json_t *v = json_object_get(obj, key);

	out->p = NULL;
	out->len = 0;
	if (!json_is_string(v) || !vec_unhex(json_string_value(v), out)) {
		fprintf(stderr, "vectors: member \"%s\" is missing or not hex\n", key);
		return false;
	}
	return true;
}

static inline void vec_bytes_free(vec_bytes *b)
{
	free(b->p);
	b->p = NULL;
	b->len = 0;
}

/* The string member key of obj, or "" when missing. */
static inline const char *vec_str(const json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));

	return s != NULL ? s : "";
}

/* The integer member key of obj, or -1 when missing. */
static inline long long vec_int(const json_t *obj, const char *key)
{
	const json_t *v = json_object_get(obj, key);

	return json_is_integer(v) ? (long long)json_integer_value(v) : -1;
}

#endif /* CH_TESTS_VECTORS_H */
