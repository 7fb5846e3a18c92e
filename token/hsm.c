/*
 * Connections to other PKCS#11 modules (see hsm.h): loading a module once
 * for all its users, finding a token by URI, and the user PIN's sources.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "hsm.h"
#include "log.h"

#define HSM_PIN_MAX 256

/* One loaded module, shared by every connection to it. */
typedef struct hsm_module {
	char *path;
	void *dl;
	CK_FUNCTION_LIST *fn;
	bool ours; /* we called C_Initialize (the application had not) */
	pid_t pid; /* the process that initialized it */
	int refs;
	struct hsm_module *next;
} hsm_module;

struct ch_hsm {
	hsm_module *mod;
	CK_SLOT_ID slot; /* atomic: ch_hsm_refind moves it while others read it */
	char *token;     /* URI, or NULL */
	char *pin_file, *pin_env;
	char *pin_fd_value; /* a descriptor can be read once: kept, wiped at close */
	size_t pin_fd_len;
	const char *base; /* the module's file name */
};

static pthread_mutex_t modules_lock = PTHREAD_MUTEX_INITIALIZER;
static hsm_module *modules;

void ch_hsm_conf_free(ch_hsm_conf *c)
{
	free(c->name);
	free(c->module);
	free(c->token);
	free(c->pin_file);
	free(c->pin_env);
	free(c->key);
	memset(c, 0, sizeof(*c));
	c->pin_fd = -1;
}

static const char *rv_name(CK_RV rv)
{
	switch (rv) {
#define N(x)                                                                                       \
	case x:                                                                                    \
		return #x
		N(CKR_OK);
		N(CKR_HOST_MEMORY);
		N(CKR_SLOT_ID_INVALID);
		N(CKR_GENERAL_ERROR);
		N(CKR_FUNCTION_FAILED);
		N(CKR_ARGUMENTS_BAD);
		N(CKR_DEVICE_ERROR);
		N(CKR_DEVICE_MEMORY);
		N(CKR_DEVICE_REMOVED);
		N(CKR_PIN_INCORRECT);
		N(CKR_PIN_LOCKED);
		N(CKR_PIN_LEN_RANGE);
		N(CKR_SESSION_CLOSED);
		N(CKR_SESSION_HANDLE_INVALID);
		N(CKR_TOKEN_NOT_PRESENT);
		N(CKR_TOKEN_NOT_RECOGNIZED);
		N(CKR_USER_PIN_NOT_INITIALIZED);
		N(CKR_USER_ALREADY_LOGGED_IN);
		N(CKR_CRYPTOKI_NOT_INITIALIZED);
		N(CKR_CRYPTOKI_ALREADY_INITIALIZED);
#undef N
	default:
		return NULL;
	}
}

const char *ch_rv_text(CK_RV rv, char buf[CH_RV_TEXT_LEN])
{
	const char *n = rv_name(rv);

	if (n != NULL)
		return n;
	snprintf(buf, CH_RV_TEXT_LEN, "CKR 0x%lx", (unsigned long)rv);
	return buf;
}

bool ch_hsm_lost(CK_RV rv)
{
	return rv == CKR_DEVICE_REMOVED || rv == CKR_DEVICE_ERROR || rv == CKR_TOKEN_NOT_PRESENT ||
	       rv == CKR_SESSION_HANDLE_INVALID || rv == CKR_SESSION_CLOSED ||
	       rv == CKR_CRYPTOKI_NOT_INITIALIZED;
}

/* Logs "what: CKR_NAME" (or the number). */
static void log_rv(const char *what, const char *path, CK_RV rv)
{
	char buf[CH_RV_TEXT_LEN];

	ch_log(CH_LOG_ERROR, "HSM module %s: %s: %s", path, what, ch_rv_text(rv, buf));
}

/* The module at path, loaded and initialized.  modules_lock held. */
static CK_RV module_get(const char *path, hsm_module **out)
{
	CK_C_INITIALIZE_ARGS args = { .flags = CKF_OS_LOCKING_OK };
	CK_C_GetFunctionList get;
	hsm_module *m;
	CK_RV rv;

	for (m = modules; m != NULL; m = m->next) {
		if (strcmp(m->path, path) == 0 && m->pid == getpid()) {
			m->refs++;
			*out = m;
			return CKR_OK;
		}
	}
	if ((m = calloc(1, sizeof(*m))) == NULL || (m->path = strdup(path)) == NULL) {
		free(m);
		return CKR_HOST_MEMORY;
	}
	if ((m->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		ch_log(CH_LOG_ERROR, "HSM module %s: cannot load it: %s", path, dlerror());
		rv = CKR_GENERAL_ERROR;
		goto fail;
	}
	*(void **)&get = dlsym(m->dl, "C_GetFunctionList");
	if (get == NULL) {
		ch_log(CH_LOG_ERROR, "HSM module %s: not a PKCS#11 module (no C_GetFunctionList)",
		       path);
		rv = CKR_GENERAL_ERROR;
		goto fail;
	}
	if ((rv = get(&m->fn)) != CKR_OK || m->fn == NULL) {
		log_rv("C_GetFunctionList", path, rv);
		rv = rv == CKR_OK ? CKR_GENERAL_ERROR : rv;
		goto fail;
	}
	rv = m->fn->C_Initialize(&args);
	if (rv == CKR_CRYPTOKI_ALREADY_INITIALIZED) {
		rv = CKR_OK; /* the application uses it too: it finalizes it */
	} else if (rv == CKR_OK) {
		m->ours = true;
	} else {
		log_rv("C_Initialize", path, rv);
		goto fail;
	}
	m->pid = getpid();
	m->refs = 1;
	m->next = modules;
	modules = m;
	*out = m;
	return CKR_OK;
fail:
	/* A module that failed to initialize stays loaded: unloading code
	 * that may have started threads is not safe. */
	free(m->path);
	free(m);
	return rv;
}

static void module_put(hsm_module *m)
{
	hsm_module **p;

	pthread_mutex_lock(&modules_lock);
	if (--m->refs == 0) {
		for (p = &modules; *p != NULL; p = &(*p)->next) {
			if (*p == m) {
				*p = m->next;
				break;
			}
		}
		/* A forked child leaves its parent's modules alone. */
		if (m->ours && m->pid == getpid()) {
			m->fn->C_Finalize(NULL);
			dlclose(m->dl);
		}
		free(m->path);
		free(m);
	}
	pthread_mutex_unlock(&modules_lock);
}

CK_RV ch_hsm_refind(ch_hsm *h)
{
	CK_FUNCTION_LIST *fn = h->mod->fn;
	CK_SLOT_ID *list = NULL;
	CK_ULONG n = 0;
	CK_RV rv;

	if ((rv = fn->C_GetSlotList(CK_TRUE, NULL, &n)) != CKR_OK)
		goto out;
	if (n > 0 && (list = calloc(n, sizeof(*list))) == NULL)
		return CKR_HOST_MEMORY;
	if (n > 0 && (rv = fn->C_GetSlotList(CK_TRUE, list, &n)) != CKR_OK)
		goto out;
	rv = CKR_TOKEN_NOT_PRESENT;
	for (CK_ULONG i = 0; i < n; i++) {
		CK_TOKEN_INFO ti;

		if (fn->C_GetTokenInfo(list[i], &ti) != CKR_OK)
			continue;
		if (h->token == NULL || ch_hsm_uri_match(h->token, &ti)) {
			__atomic_store_n(&h->slot, list[i], __ATOMIC_RELAXED);
			rv = CKR_OK;
			break;
		}
	}
out:
	free(list);
	return rv;
}

CK_RV ch_hsm_reset(ch_hsm *h)
{
	CK_C_INITIALIZE_ARGS args = { .flags = CKF_OS_LOCKING_OK };
	hsm_module *m = h->mod;
	CK_RV rv = CKR_OK;

	pthread_mutex_lock(&modules_lock);
	if (m->ours && m->pid == getpid()) {
		(void)m->fn->C_Finalize(NULL);
		rv = m->fn->C_Initialize(&args);
		if (rv == CKR_CRYPTOKI_ALREADY_INITIALIZED)
			rv = CKR_OK; /* another of its users was first */
	}
	pthread_mutex_unlock(&modules_lock);
	if (rv != CKR_OK) {
		log_rv("C_Initialize after a reset", m->path, rv);
		return rv;
	}
	ch_log(CH_LOG_WARNING, "HSM module %s: initialized again to recover its token", m->path);
	return ch_hsm_refind(h);
}

/* Reads the whole descriptor (at most HSM_PIN_MAX bytes) into buf. */
static CK_RV read_fd(int fd, char *buf, size_t *len)
{
	size_t n = 0;
	ssize_t r;

	while (n < HSM_PIN_MAX && (r = read(fd, buf + n, HSM_PIN_MAX - n)) != 0) {
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return CKR_GENERAL_ERROR;
		}
		n += (size_t)r;
	}
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	*len = n;
	return CKR_OK;
}

CK_RV ch_hsm_open(const ch_hsm_conf *c, ch_hsm **out)
{
	ch_hsm *h;
	CK_RV rv;

	if ((h = calloc(1, sizeof(*h))) == NULL)
		return CKR_HOST_MEMORY;
	if ((c->token != NULL && (h->token = strdup(c->token)) == NULL) ||
	    (c->pin_file != NULL && (h->pin_file = strdup(c->pin_file)) == NULL) ||
	    (c->pin_env != NULL && (h->pin_env = strdup(c->pin_env)) == NULL)) {
		rv = CKR_HOST_MEMORY;
		goto fail;
	}
	if (c->pin_fd >= 0) {
		if ((h->pin_fd_value = OPENSSL_secure_malloc(HSM_PIN_MAX)) == NULL) {
			rv = CKR_HOST_MEMORY;
			goto fail;
		}
		if (read_fd(c->pin_fd, h->pin_fd_value, &h->pin_fd_len) != CKR_OK) {
			ch_log(CH_LOG_ERROR, "HSM PIN for %s: cannot read file descriptor %d",
			       c->name, c->pin_fd);
			rv = CKR_GENERAL_ERROR;
			goto fail;
		}
		close(c->pin_fd);
	}
	pthread_mutex_lock(&modules_lock);
	rv = module_get(c->module, &h->mod);
	pthread_mutex_unlock(&modules_lock);
	if (rv != CKR_OK)
		goto fail;
	h->base = strrchr(h->mod->path, '/') ? strrchr(h->mod->path, '/') + 1 : h->mod->path;
	if ((rv = ch_hsm_refind(h)) != CKR_OK) {
		ch_log(CH_LOG_ERROR, "HSM module %s: no token matches %s", c->module,
		       c->token != NULL ? c->token : "(any token)");
		goto fail;
	}
	*out = h;
	return CKR_OK;
fail:
	ch_hsm_close(h);
	return rv;
}

void ch_hsm_close(ch_hsm *h)
{
	if (h == NULL)
		return;
	if (h->mod != NULL)
		module_put(h->mod);
	if (h->pin_fd_value != NULL)
		OPENSSL_secure_clear_free(h->pin_fd_value, HSM_PIN_MAX);
	free(h->token);
	free(h->pin_file);
	free(h->pin_env);
	free(h);
}

CK_FUNCTION_LIST *ch_hsm_fn(const ch_hsm *h)
{
	return h->mod->fn;
}

CK_SLOT_ID ch_hsm_slot(const ch_hsm *h)
{
	return __atomic_load_n(&h->slot, __ATOMIC_RELAXED);
}

CK_RV ch_hsm_session(ch_hsm *h, CK_FLAGS flags, CK_SESSION_HANDLE *s)
{
	CK_FUNCTION_LIST *fn = h->mod->fn;
	CK_RV rv = fn->C_OpenSession(ch_hsm_slot(h), flags, NULL, NULL, s);

	if (rv != CKR_OK && ch_hsm_refind(h) == CKR_OK)
		rv = fn->C_OpenSession(ch_hsm_slot(h), flags, NULL, NULL, s);
	return rv;
}

const char *ch_hsm_module_name(const ch_hsm *h)
{
	return h->base;
}

/* The PIN from its source into pin (HSM_PIN_MAX bytes). */
static CK_RV pin_read(const ch_hsm *h, char *pin, size_t *len)
{
	CK_RV rv;
	int fd;

	if (h->pin_fd_value != NULL) {
		memcpy(pin, h->pin_fd_value, h->pin_fd_len);
		*len = h->pin_fd_len;
		return CKR_OK;
	}
	if (h->pin_env != NULL) {
		const char *v = getenv(h->pin_env);

		if (v == NULL || strlen(v) > HSM_PIN_MAX) {
			ch_log(CH_LOG_ERROR, "HSM PIN: environment variable %s is %s", h->pin_env,
			       v == NULL ? "not set" : "too long");
			return CKR_GENERAL_ERROR;
		}
		*len = strlen(v);
		memcpy(pin, v, *len);
		return CKR_OK;
	}
	if ((fd = open(h->pin_file, O_RDONLY | O_CLOEXEC)) < 0) {
		ch_log(CH_LOG_ERROR, "HSM PIN: cannot open %s: %s", h->pin_file, strerror(errno));
		return CKR_GENERAL_ERROR;
	}
	rv = read_fd(fd, pin, len);
	close(fd);
	if (rv != CKR_OK)
		ch_log(CH_LOG_ERROR, "HSM PIN: cannot read %s", h->pin_file);
	return rv;
}

CK_RV ch_hsm_login(ch_hsm *h, CK_SESSION_HANDLE s)
{
	char *pin = OPENSSL_secure_malloc(HSM_PIN_MAX);
	size_t len = 0;
	CK_RV rv;

	if (pin == NULL)
		return CKR_HOST_MEMORY;
	if ((rv = pin_read(h, pin, &len)) == CKR_OK) {
		rv = h->mod->fn->C_Login(s, CKU_USER, (CK_UTF8CHAR *)pin, (CK_ULONG)len);
		if (rv == CKR_USER_ALREADY_LOGGED_IN)
			rv = CKR_OK;
		if (rv != CKR_OK)
			log_rv("C_Login with the configured PIN", h->mod->path, rv);
	}
	OPENSSL_secure_clear_free(pin, HSM_PIN_MAX);
	return rv;
}
