/* log.c - kairan's log: appends one line per event to HOME/log/kairan.log.
 *
 * Every process (deliver run from an MTA pipe, the relay, pop3d, web)
 * appends whole lines with a single write(2) on an O_APPEND descriptor, so
 * concurrent writers never interleave inside a line.  Warnings and errors
 * also go to stderr (where an MTA pipe shows them in its bounce or log),
 * unless log_set_stderr(FALSE) was called by a daemon.
 * Passwords must never be passed to these functions. */
#include "config.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char program_name[64] = "kairan";
static int log_fd = -1;
static gboolean errors_to_stderr = TRUE;

void
log_set_program(const char *prog)
{
    g_snprintf(program_name, sizeof(program_name), "kairan/%s", prog);
}

void
log_set_stderr(gboolean on)
{
    errors_to_stderr = on;
}

void
log_open_file(const char *home)
{
    char *dir = g_build_filename(home, "log", NULL);
    char *path = g_build_filename(dir, "kairan.log", NULL);

    if (log_fd >= 0)
        close(log_fd);
    (void) g_mkdir_with_parents(dir, 0700);
    log_fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    g_free(dir);
    g_free(path);
}

void
log_close(void)
{
    if (log_fd >= 0)
        close(log_fd);
    log_fd = -1;
}

static void
log_line(const char *level, gboolean to_stderr, const char *fmt, va_list ap)
{
    char stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    char *text = g_strdup_vprintf(fmt, ap);
    char *line;

    /* Never let a control character from mail split or forge a log line. */
    for (char *p = text; *p; p++)
        if ((unsigned char) *p < 0x20 && *p != '\t')
            *p = '?';
    localtime_r(&now, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
    line = g_strdup_printf("%s %s[%ld]: %s%s\n", stamp, program_name,
                           (long) getpid(), level, text);
    if (log_fd >= 0) {
        ssize_t n = write(log_fd, line, strlen(line));
        (void) n;
    }
    if (to_stderr)
        fprintf(stderr, "%s: %s%s\n", program_name, level, text);
    g_free(line);
    g_free(text);
}

void
log_info(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_line("", FALSE, fmt, ap);
    va_end(ap);
}

void
log_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_line("warning: ", errors_to_stderr, fmt, ap);
    va_end(ap);
}

void
log_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_line("error: ", errors_to_stderr, fmt, ap);
    va_end(ap);
}

void
log_fatal(int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_line("fatal: ", TRUE, fmt, ap);
    va_end(ap);
    exit(status);
}
