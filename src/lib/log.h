/* log.h - kairan's logging: one line per event in HOME/log/kairan.log
 * (Postfix style: "time kairan/PROG[pid]: text"), errors also on stderr. */
#ifndef KAIRAN_LOG_H
#define KAIRAN_LOG_H

#include <glib.h>

/* Exit codes from sysexits(3), as DESIGN.md uses them. */
#define EXIT_USAGE    64
#define EXIT_DATAERR  65
#define EXIT_NOINPUT  66
#define EXIT_NOUSER   67
#define EXIT_SOFTWARE 70
#define EXIT_CANTCREAT 73
#define EXIT_IOERR    74
#define EXIT_TEMPFAIL 75
#define EXIT_NOPERM   77
#define EXIT_CONFIG   78

void log_set_program(const char *prog);
void log_open_file(const char *home);
void log_close(void);
void log_set_stderr(gboolean on);
void log_info(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
void log_warn(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
void log_error(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
/* log_fatal - log the error, print it on stderr and exit with status. */
void log_fatal(int status, const char *fmt, ...) G_GNUC_PRINTF(2, 3) G_GNUC_NORETURN;

#endif
