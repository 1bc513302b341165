/* deliver.c - `kairan deliver [--ctl|--admin] LIST [-f SENDER]`: read one
 * mail on standard input (as an MTA pipe gives it) and hand it to the
 * posting path, command mail or -admin processing.  Exit status is a
 * sysexits code: 0 accepted (posted, held, or refused with a reply),
 * 64 usage, 65 data error, 67 no such list, 75 temporary failure.
 *
 * Every mail parsed gets a Received: line for this local delivery first
 * (the relay runs deliver for each list address, so a mail passing from
 * list to list gains one each time and the Received count stops any loop
 * the other checks miss); a held post is kept as it came. */
#include "config.h"
#include "deliver.h"
#include "address.h"
#include "cli/cli.h"   /* the command table: ctl_process, admin_mail_process */
#include "lists.h"
#include "domains.h"
#include "log.h"
#include "util.h"

#include <stdio.h>
#include <string.h>

/* Input larger than this is not read into memory: refused as 65 after
 * draining, whatever the list's max_size (which is checked later). */
#define DELIVER_HARD_LIMIT (256u * 1024 * 1024)

/* received_prepend - "Received: by HOST (kairan deliver) for <RCPT>; DATE"
 * as the first header of the parsed mail.  RCPT is $ORIGINAL_RECIPIENT
 * when it is an address, else the list address of the mode. */
static void
received_prepend(GMimeMessage *msg, const Instance *inst, const char *list, const char *suffix)
{
    char *rcpt = address_normalize(g_getenv("ORIGINAL_RECIPIENT"), NULL);
    char *date = format_rfc5322_date(time(NULL));   /* English whatever the locale */
    char *value;

    if (!rcpt)
        rcpt = list_address(inst, list, suffix);
    value = g_strdup_printf("by %s (kairan deliver) for <%s>; %s", inst->hostname, rcpt, date);
    g_mime_object_prepend_header(GMIME_OBJECT(msg), "Received", value, NULL);
    g_free(value);
    g_free(date);
    g_free(rcpt);
}

int
cmd_deliver(int argc, char **argv)
{
    gboolean ctl = FALSE, admin = FALSE;
    g_autofree char *sender = NULL;
    GOptionEntry entries[] = {
        { "ctl", 0, 0, G_OPTION_ARG_NONE, &ctl, "the mail is command mail for LIST-ctl", NULL },
        { "admin", 0, 0, G_OPTION_ARG_NONE, &admin, "the mail is for LIST-admin (bounces, owners)", NULL },
        { "sender", 'f', 0, G_OPTION_ARG_STRING, &sender, "envelope sender (default: $SENDER)", "SENDER" },
        G_OPTION_ENTRY_NULL
    };
    GError *error = NULL;
    gboolean truncated = FALSE;
    GByteArray *raw;
    Incoming *in;
    Instance *inst;
    int status;

    cli_parse(&argc, &argv, "deliver", "LIST",
              "Read one mail on standard input for LIST (a post), LIST-ctl (--ctl)\n"
              "or LIST-admin (--admin).  Exit status: 0 accepted, 65 bad input,\n"
              "67 no such list, 75 temporary failure (the MTA retries).", entries);
    if (argc != 2)
        cli_usage_error("deliver", "give exactly one list name");
    if (ctl && admin)
        cli_usage_error("deliver", "--ctl and --admin exclude each other");
    if (!sender && g_getenv("SENDER"))
        sender = g_strdup(g_getenv("SENDER"));

    raw = read_fd_all(0, DELIVER_HARD_LIMIT, &truncated, &error);
    if (!raw) {
        fprintf(stderr, "kairan deliver: %s\n", error->message);
        return EXIT_TEMPFAIL;
    }
    if (truncated) {
        fprintf(stderr, "kairan deliver: message larger than %u bytes refused\n", DELIVER_HARD_LIMIT);
        g_byte_array_unref(raw);
        return EXIT_DATAERR;
    }
    inst = cli_open();
    {
        char *id = list_resolve(inst, argv[1], NULL);   /* NAME or NAME@DOMAIN */
        if (!id) {
            fprintf(stderr, "kairan deliver: no such list: %s\n", argv[1]);
            log_info("mail for unknown list %s from <%s> refused", argv[1], sender ? sender : "");
            g_byte_array_unref(raw);
            instance_free(inst);
            return EXIT_NOUSER;
        }
        g_strlcpy(argv[1], id, strlen(argv[1]) + 1);   /* never longer than typed */
        g_free(id);
    }
    in = incoming_parse(inst, argv[1], sender, raw, &error);
    if (!in) {
        fprintf(stderr, "kairan deliver: %s\n", error->message);
        log_info("%s: mail from <%s> refused: %s", argv[1], sender ? sender : "", error->message);
        status = error->code;
        g_error_free(error);
        instance_free(inst);
        return status;
    }
    received_prepend(in->msg, inst, argv[1], ctl ? "-ctl" : admin ? "-admin" : NULL);
    if (ctl)
        status = ctl_process(in);
    else if (admin)
        status = admin_mail_process(in);
    else
        status = post_process(in);
    incoming_free(in);
    instance_free(inst);
    return status;
}
