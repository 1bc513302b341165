/* fuzz_common.h - helpers shared by kairan's libFuzzer harnesses: a
 * throw-away instance (created once per fuzzer process, removed at exit),
 * NUL-terminated copies of the input, and splitting an input into fields.
 *
 * A harness is one file tests/fuzz/fuzz_NAME.c defining
 * LLVMFuzzerTestOneInput (and optionally LLVMFuzzerInitialize); its seeds
 * live in tests/fuzz/seeds/NAME/, and a line "fuzz-corpus: DIR..." in its
 * header comment names subdirectories of ../shared/corpus to seed it from.
 * build.sh and run-short.sh pick it up without any other change. */
#ifndef KAIRAN_FUZZ_COMMON_H
#define KAIRAN_FUZZ_COMMON_H

#include "config.h"
#include "instance.h"
#include "lists.h"
#include "log.h"
#include "settings.h"
#include "util.h"

#include <gmime/gmime.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *fuzz_home;

static void
fuzz_remove_home(void)
{
    if (fuzz_home) {
        char *cmd = g_strdup_printf("rm -rf '%s'", fuzz_home);
        if (system(cmd) != 0)
            fprintf(stderr, "fuzz: cannot remove %s\n", fuzz_home);
        g_free(cmd);
    }
}

/* fuzz_log_handler - a GLib critical aborts with SIGABRT (GLib's own
 * fatal path raises SIGTRAP, which libFuzzer does not catch: no stack,
 * no reproducer written). */
static void
fuzz_log_handler(const gchar *domain, GLogLevelFlags level, const gchar *message, gpointer data)
{
    g_log_default_handler(domain, level, message, data);
    if (level & (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_ERROR | G_LOG_FLAG_FATAL))
        abort();
}

/* fuzz_init_libs - GLib criticals from kairan code are bugs: abort on
 * them; kairan's own log lines go nowhere. */
static void
fuzz_init_libs(void)
{
    g_log_set_default_handler(fuzz_log_handler, NULL);
    g_log_set_always_fatal(G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_ERROR);
    log_set_stderr(FALSE);
    g_mime_init();
}

/* fuzz_instance - a fresh instance in a temporary directory, with lists
 * created by the caller; removed when the fuzzer exits. */
static Instance *
fuzz_instance(void)
{
    GError *error = NULL;
    char tmpl[] = "/tmp/kairan-fuzz-XXXXXX";
    Instance *inst;

    if (!mkdtemp(tmpl)) {
        perror("mkdtemp");
        abort();
    }
    fuzz_home = g_strdup(tmpl);
    atexit(fuzz_remove_home);
    inst = instance_create(fuzz_home, "lists.example.test", &error);
    if (!inst) {
        fprintf(stderr, "fuzz: instance_create: %s\n", error->message);
        abort();
    }
    return inst;
}

static void
fuzz_newlist(Instance *inst, const char *name, const char *owner)
{
    GError *error = NULL;
    if (!list_create(inst, name, owner, NULL, &error)) {
        fprintf(stderr, "fuzz: list_create %s: %s\n", name, error->message);
        abort();
    }
}

static void
fuzz_set(Instance *inst, const char *list, const char *key, const char *value)
{
    GError *error = NULL;
    if (!list_setting_set(inst, list, key, value, &error)) {
        fprintf(stderr, "fuzz: %s %s=%s: %s\n", list, key, value, error->message);
        abort();
    }
}

/* fuzz_strndup - the input as a NUL-terminated string (it may hold NULs:
 * C string functions see the part before the first one, as they would). */
static char *
fuzz_strndup(const uint8_t *data, size_t size)
{
    char *s = g_malloc(size + 1);
    memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

/* fuzz_fields - split the input at NUL bytes into at most n fields (the
 * last one takes the rest); missing fields are "".  g_strfreev it. */
static char **
fuzz_fields(const uint8_t *data, size_t size, int n)
{
    char **out = g_new0(char *, n + 1);
    size_t pos = 0;
    for (int i = 0; i < n; i++) {
        size_t end = size;
        if (pos >= size) {
            out[i] = g_strdup("");
            continue;
        }
        if (i < n - 1) {
            const uint8_t *nul = memchr(data + pos, 0, size - pos);
            if (nul)
                end = (size_t) (nul - data);
        }
        out[i] = fuzz_strndup(data + pos, end - pos);
        pos = end < size ? end + 1 : size;
    }
    return out;
}

#endif
