// SPDX-License-Identifier: Apache-2.0
/* `servo __man`: the man page servo(1) in roff, generated from the command table at build
 * time (CMake runs it), so the page says what `--help` says. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "util/util.h"

/* Roff-safe text: backslashes, dashes that start an option, lines starting with a control
 * character, and non-ASCII characters (as \[uXXXX]). */
static void put_text(struct strbuf *sb, const char *s)
{
    bool line_start = true;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (line_start && (*p == '.' || *p == '\''))
            strbuf_puts(sb, "\\&");
        line_start = *p == '\n';
        if (*p == '\\') {
            strbuf_puts(sb, "\\e");
        } else if (*p == '-') {
            strbuf_puts(sb, "\\-");
        } else if (*p >= 0x80) {
            unsigned codepoint = 0;
            int extra = *p >= 0xF0 ? 3 : *p >= 0xE0 ? 2 : *p >= 0xC0 ? 1 : 0;
            codepoint = *p & (0x3F >> extra);
            for (int i = 0; i < extra && (p[1] & 0xC0) == 0x80; i++)
                codepoint = (codepoint << 6) | (*++p & 0x3F);
            strbuf_printf(sb, "\\[u%04X]", codepoint);
        } else {
            strbuf_putc(sb, (char)*p);
        }
    }
}

/* Paragraphs (blank-line separated) as .PP; indented lines (examples) kept as they are. */
static void put_paragraphs(struct strbuf *sb, const char *text)
{
    strbuf_puts(sb, ".PP\n");
    bool literal = false;
    for (const char *line = text; *line;) {
        const char *end = strchr(line, '\n');
        size_t length = end ? (size_t)(end - line) : strlen(line);
        char *copy = xstrndup(line, length);
        bool indented = copy[0] == ' ';
        if (length == 0) {
            strbuf_puts(sb, literal ? ".fi\n.PP\n" : ".PP\n");
            literal = false;
        } else {
            if (indented && !literal)
                strbuf_puts(sb, ".nf\n");
            literal = literal || indented;
            put_text(sb, copy);
            strbuf_putc(sb, '\n');
        }
        free(copy);
        if (end == NULL)
            break;
        line = end + 1;
    }
    if (literal)
        strbuf_puts(sb, ".fi\n");
}

static void put_options(struct strbuf *sb, const struct cli_option *options, bool with_help)
{
    for (const struct cli_option *o = options; o && (o->short_name || o->long_name); o++) {
        strbuf_puts(sb, ".TP\n");
        if (o->short_name)
            strbuf_printf(sb, "\\fB\\-%c\\fR%s", o->short_name, o->long_name ? ", " : "");
        if (o->long_name) {
            strbuf_puts(sb, "\\fB\\-\\-");
            put_text(sb, o->long_name);
            strbuf_puts(sb, "\\fR");
        }
        if (o->metavar) {
            strbuf_puts(sb, " \\fI");
            put_text(sb, o->metavar);
            strbuf_puts(sb, "\\fR");
        }
        strbuf_putc(sb, '\n');
        put_text(sb, o->help);
        strbuf_putc(sb, '\n');
    }
    if (with_help)
        strbuf_puts(sb, ".TP\n\\fB\\-h\\fR, \\fB\\-\\-help\\fR\nShow this message and exit\n");
}

static bool has_options(const struct cli_option *options)
{
    return options && (options[0].short_name || options[0].long_name);
}

static void put_command(struct strbuf *sb, const char *parent, const struct cli_command *c)
{
    char *path = parent ? xasprintf("%s %s", parent, c->name) : xstrdup(c->name);
    strbuf_puts(sb, ".SS \"servo ");
    put_text(sb, path);
    strbuf_puts(sb, "\"\n.nf\n\\fBservo ");
    put_text(sb, path);
    strbuf_puts(sb, "\\fR ");
    put_text(sb, c->synopsis);
    strbuf_puts(sb, "\n.fi\n");
    put_paragraphs(sb, c->description ? c->description : c->summary);
    if (has_options(c->options)) {
        strbuf_puts(sb, ".PP\nOptions:\n.RS\n");
        put_options(sb, c->options, false);
        strbuf_puts(sb, ".RE\n");
    }
    for (const struct cli_command *sub = c->commands; sub && sub->name; sub++)
        put_command(sb, path, sub);
    free(path);
}

static void put_group(struct strbuf *sb, const char *group, const struct cli_command *commands)
{
    bool header = false;
    for (const struct cli_command *c = commands; c->name; c++) {
        if (c->group == NULL || strcmp(c->group, group) != 0)
            continue;
        if (!header) {
            strbuf_puts(sb, ".SH \"");
            for (const char *s = group; *s; s++)
                strbuf_putc(sb, (char)(*s >= 'a' && *s <= 'z' ? *s - 'a' + 'A' : *s));
            strbuf_puts(sb, "\"\n");
            header = true;
        }
        put_command(sb, NULL, c);
    }
}

static const char environment[] =
    ".SH ENVIRONMENT\n"
    ".TP\n\\fBSERVO_CONFIG_FILE\\fR, \\fBSERVO_NAME\\fR, \\fBSERVO_LOG_LEVEL\\fR\n"
    "The defaults of \\fB\\-\\-config\\-file\\fR, \\fB\\-\\-name\\fR and "
    "\\fB\\-\\-log\\-level\\fR.\n"
    ".TP\n\\fBNO_COLOR\\fR, \\fBSERVO_NO_COLOR\\fR\nSet: no colored output.\n"
    ".TP\n\\fBOPSANI_OPTIMIZER\\fR, \\fBOPSANI_TOKEN\\fR, \\fBOPSANI_TOKEN_FILE\\fR, "
    "\\fBOPSANI_BASE_URL\\fR, \\fBOPSANI_URL\\fR\n"
    "The optimizer to connect to and its credentials.\n"
    ".TP\n\\fBSERVO_\\fR\\fIINSTANCE\\fR\\fB_\\fR\\fIFIELD\\fR, \\fBSERVO_\\fR\\fIINSTANCE\\fR\n"
    "A setting of a connector instance, or its whole stanza as JSON; \\fBservo schema\\fR lists "
    "the names of every setting (env_names).\n"
    ".TP\n\\fBSERVO_PLUGIN_PATH\\fR\n"
    "Colon-separated directories searched for connector plugins (shared objects) before the "
    "installed plugin directory.\n"
    ".SH FILES\n"
    ".TP\n\\fIservo.yaml\\fR\nThe configuration: one servo per YAML document.\n"
    ".TP\n\\fI.env\\fR\nVariables read into the environment before anything else.\n"
    ".TP\n\\fI" SERVO_PLUGIN_DIR "\\fR\nThe installed plugin directory.\n"
    ".SH \"EXIT STATUS\"\n"
    ".TP\n0\nSuccess.\n"
    ".TP\n1\nThe command failed: a failed check, an invalid configuration at run time, an "
    "optimizer or connector error.\n"
    ".TP\n2\nA usage error: an unknown command or option, a missing or invalid value.\n"
    ".SH \"SEE ALSO\"\n"
    "The documentation in the source tree (docs/configuration.md, docs/connectors.md, "
    "docs/runner.md, docs/optimizer.md), and Opsani ServoX: \\fI" SERVO_HOMEPAGE "\\fR\n";

char *cli_man_page(void)
{
    struct strbuf sb;
    strbuf_init(&sb);
    strbuf_puts(&sb,
                ".\\\" SPDX-License-Identifier: Apache-2.0\n"
                ".\\\" Generated by `servo __man` from the servo's command table: do not edit.\n"
                ".TH SERVO 1 \"\" \"servo " SERVO_VERSION "\" \"User Commands\"\n"
                ".SH NAME\nservo \\- " SERVO_DESCRIPTION " (Opsani ServoX in C)\n"
                ".SH SYNOPSIS\n.B servo\n[\\fIOPTIONS\\fR] \\fICOMMAND\\fR [\\fIARGS\\fR]...\n"
                ".SH DESCRIPTION\n");
    put_paragraphs(&sb, cli_global_description());
    strbuf_puts(&sb, ".PP\n\\fBservo help\\fR \\fICOMMAND\\fR and \\fBservo\\fR \\fICOMMAND\\fR "
                     "\\fB\\-\\-help\\fR print what this page says about a command.\n"
                     ".SH OPTIONS\n");
    put_options(&sb, cli_global_options, true);
    const char *groups[8];
    size_t group_count = 0;
    for (const struct cli_command *c = cli_commands; c->name; c++) {
        if (c->group == NULL)
            continue;
        bool seen = false;
        for (size_t i = 0; i < group_count; i++)
            seen = seen || strcmp(groups[i], c->group) == 0;
        if (!seen && group_count < sizeof groups / sizeof *groups)
            groups[group_count++] = c->group;
    }
    for (size_t i = 0; i < group_count; i++)
        put_group(&sb, groups[i], cli_commands);
    struct cli_command *connector_groups = cli_connector_commands();
    put_group(&sb, "Connector Commands", connector_groups);
    cli_connector_commands_free(connector_groups);
    strbuf_puts(&sb, environment);
    return strbuf_detach(&sb);
}

int cmd_man(struct cli *cli, int argc, char **argv)
{
    (void)cli;
    const char *output = NULL;
    int rc = cli_parse_output(argc, argv, cli_find_command("__man"), &output);
    if (rc != 0)
        return rc < 0 ? EXIT_OK : rc;
    char *page = cli_man_page();
    rc = cli_write_output(output, page);
    free(page);
    return rc == 0 ? EXIT_OK : EXIT_FAILURE_OPERATIONAL;
}
