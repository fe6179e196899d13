/* replay.c - main() that replays a fuzz target's corpus as a TAP test, so
 * `make check` runs every committed seed and crash input through the target
 * with the ordinary compiler (and under ASan in the ASan build).
 *   replay_NAME            replays $TLM_SRCDIR/tests/fuzz/corpus/NAME/
 *   replay_NAME FILE|DIR.. replays those (to reproduce a crash)
 * Case 1: every file ran through the target (a crash kills the test).
 * Case 2: every file named valid-* was accepted by the loader. */
#include "fuzz.h"
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct replay_count {
    int files, valid, valid_ok, bad;
} replay_count;

/* Read path into an exact-size allocation (so ASan sees reads past the end). */
static uint8_t *read_exact(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    uint8_t *b = NULL;
    long len = -1;
    if (fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (b = malloc(len ? (size_t)len : 1)) && fread(b, 1, (size_t)len, f) != (size_t)len) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *n = (size_t)(len < 0 ? 0 : len);
    return b;
}

static void replay_file(const char *path, replay_count *c)
{
    size_t n;
    uint8_t *b = read_exact(path, &n);
    if (!b) {
        printf("# cannot read %s: %s\n", path, strerror(errno));
        c->bad++;
        return;
    }
    tlm_fuzz_accepted = 0;
    LLVMFuzzerTestOneInput(b, n);
    free(b);
    c->files++;
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    if (!strncmp(base, "valid-", 6)) {
        c->valid++;
        c->valid_ok += tlm_fuzz_accepted;
        if (!tlm_fuzz_accepted)
            printf("# valid seed rejected: %s\n", path);
    }
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static void replay_path(const char *path, replay_count *c)
{
    struct stat st;
    if (stat(path, &st) || !S_ISDIR(st.st_mode)) {
        replay_file(path, c);
        return;
    }
    struct dirent **ents;
    int n = scandir(path, &ents, NULL, by_name);
    if (n < 0) {
        printf("# cannot list %s: %s\n", path, strerror(errno));
        c->bad++;
        return;
    }
    for (int i = 0; i < n; i++) {
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", path, ents[i]->d_name);
        if (ents[i]->d_name[0] != '.' && !stat(p, &st) && S_ISREG(st.st_mode))
            replay_file(p, c);
        free(ents[i]);
    }
    free(ents);
}

int main(int argc, char **argv)
{
    replay_count c = {0};
    char dir[4096];
    if (argc > 1) {
        for (int i = 1; i < argc; i++)
            replay_path(argv[i], &c);
    } else {
        const char *src = getenv("TLM_SRCDIR");
        snprintf(dir, sizeof dir, "%s/tests/fuzz/corpus/%s", src && *src ? src : TLM_SRCDIR,
                 tlm_fuzz_name);
        replay_path(dir, &c);
    }
    int pass1 = c.files > 0 && c.bad == 0, pass2 = c.valid_ok == c.valid && (argc > 1 || c.valid);
    printf("%s 1 - %s: %d corpus files replayed without a crash\n", pass1 ? "ok" : "not ok",
           tlm_fuzz_name, c.files);
    printf("%s 2 - %s: %d of %d valid-* seeds accepted\n", pass2 ? "ok" : "not ok",
           tlm_fuzz_name, c.valid_ok, c.valid);
    printf("1..2\n");
    return pass1 && pass2 ? 0 : 1;
}
