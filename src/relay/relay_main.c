/* relay_main.c - `kairan relay`: the SMTP server and the queue runner in
 * one daemon (linked into kairan-daemon, started by `kairan relay`). */
#include "config.h"
#include "globals.h"
#include "relay.h"
#include "cli/cli.h"
#include "log.h"

#include <signal.h>
#include <unistd.h>

int
relay_main(int argc, char **argv)
{
    char *listen = NULL;
    GOptionEntry entries[] = {
        { "listen", 0, 0, G_OPTION_ARG_STRING, &listen, "address to listen on (default: relay_listen)", "HOST:PORT" },
        G_OPTION_ENTRY_NULL
    };
    GError *error = NULL;
    Instance *inst;
    Relay *r;
    int status;

    cli_parse(&argc, &argv, "relay", NULL,
              "SMTP relay and queue runner: accepts mail for the lists and for mynetworks,\n"
              "and delivers the queue (MX, smarthost or routes).", entries);
    inst = cli_open();
    globals_log_problems(inst, "relay");
    log_set_stderr(TRUE);
    signal(SIGPIPE, SIG_IGN);
    relay_block_signals();
    dns_init();
    r = relay_config_load(inst, &error);
    if (!r) {
        instance_free(inst);
        g_free(listen);
        cli_exit_error(error);
    }
    runner_prepare(r);
    if (!smtp_server_start(r, listen ? listen : r->listen, &error))
        cli_exit_error(error);
    log_info("relay started on %s", listen ? listen : r->listen);
    relay_maintenance_start(inst);
    status = runner_run(r);
    /* Stopped by a signal: worker and session threads may be in the middle
     * of a transaction.  Nothing needs finishing (the queue is crash-safe),
     * so leave without tearing down what they still use. */
    g_free(listen);
    log_close();
    _exit(status);
}

