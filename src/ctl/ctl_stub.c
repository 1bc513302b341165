/* ctl_stub.c - placeholder for command mail (LIST-ctl) and LIST-admin
 * processing until the command-mail module lands: the mail is kept by
 * the MTA (exit 75, retried later), never lost. */
#include "config.h"
#include "deliver/deliver.h"
#include "log.h"

int
ctl_process(Incoming *in)
{
    log_warn("%s: command mail is not supported by this build yet; deferring", in->list);
    return EXIT_TEMPFAIL;
}

int
admin_mail_process(Incoming *in)
{
    log_warn("%s: -admin mail is not supported by this build yet; deferring", in->list);
    return EXIT_TEMPFAIL;
}
