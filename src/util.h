/*
 * Small helpers shared by the front end and the token: the fixed-width,
 * blank-padded strings of PKCS#11 info structures.
 */
#ifndef CH_SRC_UTIL_H
#define CH_SRC_UTIL_H

#include <string.h>

#include "cipherhub/vendor.h"

/* Copies src into the cap-byte field dst, blank padded, not NUL-terminated
 * (PKCS#11 3.0 section 3.2 for CK_INFO, CK_SLOT_INFO, CK_TOKEN_INFO). */
static inline void ch_pad(unsigned char *dst, size_t cap, const char *src)
{
	size_t n = strlen(src);

	memset(dst, ' ', cap);
	memcpy(dst, src, n < cap ? n : cap);
}

/* True when name (len bytes, not NUL-terminated) is a well-formed participant
 * name: 1 to CH_NAME_MAX bytes of [A-Za-z0-9._-], starting with a letter or
 * digit (cipherhub/vendor.h). */
static inline int ch_name_valid(const unsigned char *name, unsigned long len)
{
	if (name == NULL || len == 0 || len > CH_NAME_MAX)
		return 0;
	for (unsigned long i = 0; i < len; i++) {
		unsigned char c = name[i];
		int alnum =
		        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');

		if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-')))
			return 0;
	}
	return 1;
}

/* The 2.40 convention "name:pin": when *pin starts with a well-formed name
 * and a colon, copies the name into name, moves *pin and *len past the colon
 * and returns 1; otherwise changes nothing and returns 0. */
static inline int ch_split_name_pin(const unsigned char **pin, unsigned long *len,
                                    char name[CH_NAME_MAX + 1])
{
	const unsigned char *colon = *pin != NULL ? memchr(*pin, ':', *len) : NULL;
	unsigned long n;

	if (colon == NULL)
		return 0;
	n = (unsigned long)(colon - *pin);
	if (!ch_name_valid(*pin, n))
		return 0;
	memcpy(name, *pin, n);
	name[n] = '\0';
	*len -= n + 1;
	*pin = colon + 1;
	return 1;
}

#endif
