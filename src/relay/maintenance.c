/* maintenance.c - the periodic work inside `kairan relay`: a thread with
 * an Instance (a database connection) of its own runs maintain.c's tasks
 * that are due at start-up and then every maintain_interval seconds, the
 * same runner as `kairan maintain` (the db's maintain_runs rows keep the
 * two from doing a task twice too soon or at the same time). */
#include "config.h"
#include "relay.h"
#include "log.h"
#include "maintain.h"

static gpointer
maintenance_thread(gpointer data)
{
    char *home = data;
    GError *error = NULL;
    Instance *inst = instance_open(home, &error);

    if (!inst) {
        log_error("relay: periodic tasks not run: %s", error->message);
        g_error_free(error);
        g_free(home);
        return NULL;
    }
    for (;;) {
        MaintainOptions opts = { 0 };
        gint64 every = instance_global_int(inst, "maintain_interval");
        gint64 start = g_get_monotonic_time();
        int ran = 0;

        if (!maintain_run(inst, &opts, NULL, &ran, &error))
            g_clear_error(&error);      /* logged by the runner; the task runs again next time */
        /* the next run every seconds after this one started */
        gint64 left = every * G_USEC_PER_SEC - (g_get_monotonic_time() - start);
        if (left > 0)
            g_usleep((gulong) left);
    }
    return NULL;
}

void
relay_maintenance_start(Instance *inst)
{
    g_thread_unref(g_thread_new("maintain", maintenance_thread, g_strdup(inst->home)));
}
