/* fuzz_hosts.c - libFuzzer harness for the web's Host header handling
 * (src/web/hostdomain.c: the Host's name without its port, compared with
 * each domain's web_url host).  An instance with the default domain
 * (list team), a.example with its own web_url https://lists.a.example/ml
 * (list team@a.example) and b.example without one (list news@b.example);
 * the input is the Host header of GET / through web_handle().
 * Checks: the answer is 200; when the Host is lists.a.example (any case,
 * any :port) the page lists team@a.example only, otherwise team and
 * news@b.example and not team@a.example; the footer names the matching
 * domain.
 * fuzz-corpus: */
#include "fuzz_common.h"
#include "domains.h"
#include "web/web.h"

static Instance *inst;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    GError *error = NULL;
    (void) argc;
    (void) argv;
    fuzz_init_libs();
    inst = fuzz_instance();
    if (!domain_add(inst, "a.example", "https://lists.a.example/ml", &error) ||
        !domain_add(inst, "b.example", NULL, &error)) {
        fprintf(stderr, "fuzz_hosts: domain_add: %s\n", error->message);
        abort();
    }
    fuzz_newlist(inst, "team", "owner@example.org");
    fuzz_newlist(inst, "team@a.example", "owner@example.org");
    fuzz_newlist(inst, "news@b.example", "owner@example.org");
    return 0;
}

/* is_a_host - what the harness expects to match: lists.a.example, any
 * case, blanks around it, optionally followed by ":anything", or inside
 * [brackets] as an IPv6 literal would be. */
static gboolean
is_a_host(const char *h)
{
    char *s = g_strstrip(g_strdup(h));
    char *name = s, *end;
    gboolean yes;
    if (s[0] == '[') {
        name = s + 1;
        end = strchr(name, ']');
        if (!end) {
            g_free(s);
            return FALSE;
        }
    } else {
        end = strchr(s, ':');
    }
    if (end)
        *end = '\0';
    g_strstrip(name);
    yes = g_ascii_strcasecmp(name, "lists.a.example") == 0;
    g_free(s);
    return yes;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *host;
    WebRequest *req;
    WebResponse *resp;
    char *body;
    gboolean a;

    if (size > 4096)
        return 0;
    host = fuzz_strndup(data, size);
    req = web_request_new("GET", "/", NULL);
    web_request_set_header(req, "host", host);
    resp = web_handle(inst, req);
    if (resp->status != 200) {
        fprintf(stderr, "fuzz_hosts: GET / with Host \"%s\": %d\n", host, resp->status);
        abort();
    }
    body = g_strndup((const char *) resp->body->data, resp->body->len);
    a = is_a_host(host);
    if (a != (strstr(body, "/list/team@a.example\"") != NULL) ||
        a == (strstr(body, "/list/team\"") != NULL) || a == (strstr(body, "/list/news@b.example\"") != NULL) ||
        a != (strstr(body, "· a.example\n") != NULL)) {
        fprintf(stderr, "fuzz_hosts: Host \"%s\" (a.example expected: %d) gave the wrong lists\n", host, a);
        abort();
    }
    g_free(body);
    web_response_free(resp);
    web_request_free(req);
    g_free(host);
    return 0;
}
