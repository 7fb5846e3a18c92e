/*
 * tools/cipherhub_pin.c: where the admin tool's PINs come from.
 *
 * A PIN never comes from a command-line argument (every user of the machine
 * can read those in /proc).  The sources, in order:
 *
 *  1. --pin-fd N: one line per PIN read from file descriptor N, the acting
 *     participant's PIN first and, for `participant add`, the new
 *     participant's PIN on the next line.  For scripts: `--pin-fd 3 3<file`
 *     or a pipe.  The descriptor is read one byte at a time, so nothing past
 *     the line the tool needs is consumed.
 *  2. The environment: CIPHERHUB_PIN (acting), CIPHERHUB_NEW_PIN (new).
 *  3. A prompt on the terminal, when standard input is one, with echo turned
 *     off (and turned back on even if the user interrupts); a new PIN is
 *     asked twice and must match.
 *
 * With none of these the tool stops with a usage error instead of waiting on
 * a pipe that will never speak.  Every buffer that held a PIN is wiped with
 * explicit_bzero before the tool lets go of it.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cipherhub.h"

void ch_cli_pin_wipe(ch_cli_pin *pin)
{
	if (pin == NULL)
		return;
	explicit_bzero(pin->buf, sizeof(pin->buf));
	pin->len = 0;
}

/* Constant-time comparison of two PINs (no early exit on the first difference). */
static bool pin_equal(const ch_cli_pin *a, const ch_cli_pin *b)
{
	volatile unsigned char diff = 0;
	size_t i;

	if (a->len != b->len)
		return false;
	for (i = 0; i < a->len; i++)
		diff |= (unsigned char)(a->buf[i] ^ b->buf[i]);
	return diff == 0;
}

typedef enum line_rc {
	LINE_OK,
	LINE_EOF,      /* end of input before any byte */
	LINE_TOO_LONG, /* more than CH_CLI_PIN_MAX bytes */
	LINE_ERROR,    /* read(2) failed; errno says why */
} line_rc;

/*
 * Reads one line from fd into pin, without its "\n" (or "\r\n").  The rest
 * of a too-long line is consumed so that the next read starts on a line of
 * its own.  On anything but LINE_OK, pin is wiped.
 */
static line_rc read_line(int fd, ch_cli_pin *pin)
{
	bool any = false, too_long = false;
	line_rc rc = LINE_ERROR;
	char ch = 0;
	ssize_t n;

	pin->len = 0;
	for (;;) {
		n = read(fd, &ch, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto out;
		if (n == 0) {
			if (!any) {
				rc = LINE_EOF;
				goto out;
			}
			break;
		}
		any = true;
		if (ch == '\n')
			break;
		if (pin->len == CH_CLI_PIN_MAX) {
			too_long = true;
			continue;
		}
		pin->buf[pin->len++] = ch;
	}
	if (too_long) {
		rc = LINE_TOO_LONG;
		goto out;
	}
	if (pin->len > 0 && pin->buf[pin->len - 1] == '\r')
		pin->len--;
	pin->buf[pin->len] = '\0';
	rc = LINE_OK;
out:
	explicit_bzero(&ch, sizeof(ch));
	if (rc != LINE_OK)
		ch_cli_pin_wipe(pin);
	return rc;
}

/* The terminal settings to restore if a signal arrives while echo is off. */
static struct termios saved_tty;
static volatile sig_atomic_t echo_off;

static void restore_echo(int sig)
{
	if (echo_off)
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tty);
	signal(sig, SIG_DFL);
	raise(sig);
}

static const int tty_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGTSTP };
#define N_TTY_SIGNALS (sizeof(tty_signals) / sizeof(tty_signals[0]))

/* Asks for a PIN on the terminal (stdin) with echo off.  Returns CH_EXIT_*. */
static int prompt_pin(const ch_cli *c, const char *prompt, ch_cli_pin *pin)
{
	struct sigaction sa, old[N_TTY_SIGNALS];
	struct termios quiet;
	int rv = CH_EXIT_USAGE;
	line_rc lrc;
	size_t i;

	if (tcgetattr(STDIN_FILENO, &saved_tty) != 0) {
		ch_cli_err(c, "cannot read the terminal settings: %s", strerror(errno));
		return CH_EXIT_USAGE;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = restore_echo;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < N_TTY_SIGNALS; i++)
		sigaction(tty_signals[i], &sa, &old[i]);
	quiet = saved_tty;
	quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
	quiet.c_lflag |= ICANON;
	/* Echo off first, then the prompt: nothing typed after the prompt is
	 * ever shown, and typeahead from before it is discarded. */
	echo_off = 1;
	if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) != 0) {
		ch_cli_err(c, "cannot turn off the terminal's echo: %s", strerror(errno));
		goto out;
	}
	fprintf(stderr, "%s", prompt);
	fflush(stderr);
	lrc = read_line(STDIN_FILENO, pin);
	fputc('\n', stderr);
	if (lrc == LINE_TOO_LONG)
		ch_cli_err(c, "the PIN is longer than %d characters", CH_CLI_PIN_MAX);
	else if (lrc == LINE_EOF)
		ch_cli_err(c, "no PIN entered (end of input)");
	else if (lrc == LINE_ERROR)
		ch_cli_err(c, "cannot read the PIN from the terminal: %s", strerror(errno));
	else
		rv = CH_EXIT_OK;
out:
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tty);
	echo_off = 0;
	for (i = 0; i < N_TTY_SIGNALS; i++)
		sigaction(tty_signals[i], &old[i], NULL);
	if (rv != CH_EXIT_OK)
		ch_cli_pin_wipe(pin);
	return rv;
}

/* Copies environment variable var into pin.  Returns CH_EXIT_* ; *found
 * says whether the variable was set. */
static int env_pin(const ch_cli *c, const char *var, ch_cli_pin *pin, bool *found)
{
	const char *v = getenv(var);
	size_t len;

	*found = v != NULL;
	if (v == NULL)
		return CH_EXIT_OK;
	len = strlen(v);
	if (len > CH_CLI_PIN_MAX) {
		ch_cli_err(c, "%s is longer than %d characters", var, CH_CLI_PIN_MAX);
		return CH_EXIT_USAGE;
	}
	memcpy(pin->buf, v, len);
	pin->buf[len] = '\0';
	pin->len = len;
	return CH_EXIT_OK;
}

/* Reports a --pin-fd read that did not give a PIN; returns CH_EXIT_USAGE. */
static int fd_failed(const ch_cli *c, line_rc lrc, const char *which)
{
	if (lrc == LINE_TOO_LONG)
		ch_cli_err(c, "%s on --pin-fd %d is longer than %d characters", which, c->pin_fd,
		           CH_CLI_PIN_MAX);
	else if (lrc == LINE_EOF)
		ch_cli_err(c, "--pin-fd %d ended before %s", c->pin_fd, which);
	else
		ch_cli_err(c, "cannot read %s from --pin-fd %d: %s", which, c->pin_fd,
		           strerror(errno));
	return CH_EXIT_USAGE;
}

int ch_cli_pin_acting(const ch_cli *c, ch_cli_pin *pin)
{
	char prompt[128];
	bool found;
	line_rc lrc;
	int rv = CH_EXIT_USAGE;

	ch_cli_pin_wipe(pin);
	if (c->pin_fd >= 0) {
		lrc = read_line(c->pin_fd, pin);
		rv = lrc == LINE_OK ? CH_EXIT_OK : fd_failed(c, lrc, "the PIN");
		goto out;
	}
	if ((rv = env_pin(c, "CIPHERHUB_PIN", pin, &found)) != CH_EXIT_OK || found)
		goto out;
	if (isatty(STDIN_FILENO)) {
		snprintf(prompt, sizeof(prompt), "PIN of %s on '%s': ", c->as, c->label);
		rv = prompt_pin(c, prompt, pin);
		goto out;
	}
	ch_cli_err(c,
	           "no PIN for '%s': give it on --pin-fd N or in CIPHERHUB_PIN, or run the "
	           "command on a terminal",
	           c->as);
	rv = CH_EXIT_USAGE;
out:
	if (rv != CH_EXIT_OK)
		ch_cli_pin_wipe(pin);
	return rv;
}

int ch_cli_pin_new(const ch_cli *c, const char *who, ch_cli_pin *pin)
{
	ch_cli_pin again;
	char prompt[128];
	bool found;
	line_rc lrc;
	int rv = CH_EXIT_USAGE;

	ch_cli_pin_wipe(pin);
	ch_cli_pin_wipe(&again);
	if (c->pin_fd >= 0) {
		lrc = read_line(c->pin_fd, pin);
		if (lrc == LINE_OK) {
			rv = CH_EXIT_OK;
			goto out;
		}
		if (lrc != LINE_EOF) {
			rv = fd_failed(c, lrc, "the new PIN");
			goto out;
		}
		/* One line only: the new PIN comes from the next source. */
	}
	if ((rv = env_pin(c, "CIPHERHUB_NEW_PIN", pin, &found)) != CH_EXIT_OK || found)
		goto out;
	if (!isatty(STDIN_FILENO)) {
		ch_cli_err(c,
		           "no PIN for the new participant '%s': give it as the second line of "
		           "--pin-fd N or in CIPHERHUB_NEW_PIN, or run the command on a terminal",
		           who);
		rv = CH_EXIT_USAGE;
		goto out;
	}
	snprintf(prompt, sizeof(prompt), "New PIN for %s: ", who);
	if ((rv = prompt_pin(c, prompt, pin)) != CH_EXIT_OK)
		goto out;
	snprintf(prompt, sizeof(prompt), "Repeat the new PIN for %s: ", who);
	if ((rv = prompt_pin(c, prompt, &again)) != CH_EXIT_OK)
		goto out;
	if (!pin_equal(pin, &again)) {
		ch_cli_err(c, "the two PINs entered for '%s' differ; nothing was changed", who);
		rv = CH_EXIT_USAGE;
		goto out;
	}
	rv = CH_EXIT_OK;
out:
	ch_cli_pin_wipe(&again);
	if (rv != CH_EXIT_OK)
		ch_cli_pin_wipe(pin);
	return rv;
}
