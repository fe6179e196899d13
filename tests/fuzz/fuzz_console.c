/* fuzz_console.c - fuzz target: the command-language parser
 * (engine/console): splitting a line into words, the table lookup, the
 * argument check, help and completion at two cursor positions. */
#include <stdlib.h>
#include <string.h>
#include "engine/console/console.h"
#include "fuzz.h"

const char tlm_fuzz_name[] = "console";

static void on_line(void *ctx, const char *text)
{
    (void)ctx;
    TLM_FUZZ_ASSERT(text != NULL);
}

static void complete_at(const char *line, size_t point, int n_layers)
{
    tlm_strlist l = {0};
    size_t start = 0;
    int n = tlm_console_complete(line, point, n_layers, &l, &start);
    TLM_FUZZ_ASSERT(n >= 0 && (size_t)n == l.n && start <= point);
    for (size_t i = 1; i < l.n; i++)
        TLM_FUZZ_ASSERT(strcmp(l.v[i - 1], l.v[i]) < 0);
    tlm_strlist_free(&l);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *line = malloc(size + 1);
    if (!line)
        return 0;
    memcpy(line, data, size);
    line[size] = 0;
    tlm_console_words *w = malloc(sizeof *w);
    tlm_err e = {{0}};
    if (w && tlm_console_split(line, w, &e) == 0) {
        tlm_fuzz_accepted = 1;
        TLM_FUZZ_ASSERT(w->n >= 0 && w->n <= TLM_CONSOLE_MAX_WORDS && w->npos + w->nopt < w->n + 1);
        if (w->n > 0) {
            const tlm_console_cmd *c = tlm_console_find(w->w[0]);
            if (c)
                tlm_console_check(c, w, &e);
            tlm_console_help(w->w[0], on_line, NULL, &e);
        }
    }
    size_t len = strlen(line);
    int n_layers = size ? data[0] % (TLM_MAX_LAYERS + 1) : 2;
    complete_at(line, len, n_layers);
    complete_at(line, len / 2, n_layers);
    free(w);
    free(line);
    return 0;
}
