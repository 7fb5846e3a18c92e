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
		int alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');

		if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-')))
			return 0;
	}
	return 1;
}

#endif
