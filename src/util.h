/*
 * Small helpers shared by the front end and the token: the fixed-width,
 * blank-padded strings of PKCS#11 info structures.
 */
#ifndef CH_SRC_UTIL_H
#define CH_SRC_UTIL_H

#include <string.h>

/* Copies src into the cap-byte field dst, blank padded, not NUL-terminated
 * (PKCS#11 3.0 section 3.2 for CK_INFO, CK_SLOT_INFO, CK_TOKEN_INFO). */
static inline void ch_pad(unsigned char *dst, size_t cap, const char *src)
{
	size_t n = strlen(src);

	memset(dst, ' ', cap);
	memcpy(dst, src, n < cap ? n : cap);
}

#endif
