/* test_ui_text.c - the text parts of the workbench as pure functions: the
 * output buffer (streamed tokens, ring, wrapping, widths), the status line
 * and key bar, and the inspector pane. */
#include <locale.h>
#include <math.h>
#include <string.h>
#include "tap.h"
#include "ui/inspect.h"
#include "ui/outbuf.h"
#include "ui/status.h"

static int row_has(const ui_grid *g, int y, const char *s)
{
    char buf[4096];
    ui_grid_row(g, y, buf, sizeof buf);
    return strstr(buf, s) != NULL;
}

static void test_outbuf(void)
{
    ui_outbuf b;
    ui_out_init(&b, 3);
    ui_out_add(&b, 1, "one");
    ui_out_stream(&b, 2, "Once");
    ui_out_stream(&b, 2, " upon");
    ui_out_stream(&b, 2, " a\ntime");
    ok(b.n == 3 && !strcmp(ui_out_get(&b, 1)->text, "Once upon a") &&
           !strcmp(ui_out_get(&b, 2)->text, "time"), "tokens stream into one line, \\n splits");
    ui_out_add(&b, 3, "answer");
    ok(b.n == 3 && !strcmp(ui_out_get(&b, 0)->text, "Once upon a") &&
           !strcmp(ui_out_get(&b, 2)->text, "answer") && ui_out_get(&b, 2)->role == 3,
       "the ring keeps the last 3 lines; an added line closes the stream");
    ui_out_stream(&b, 2, "new");
    ok(!strcmp(ui_out_get(&b, 2)->text, "new"), "a stream after a closed line starts a line");
    ui_out_add(&b, 1, "a\tb\x01");
    ok(!strcmp(ui_out_get(&b, 2)->text, "a b?"), "tabs and control characters cleaned");
    ok(ui_out_get(&b, 3) == NULL, "past the end: NULL");
    ui_out_free(&b);
}

static void test_wrap(void)
{
    size_t st[16];
    int n = ui_wrap("the quick brown fox", 10, st, 16);
    ok(n == 2 && st[1] == 10, "word wrap at a blank (%d rows, second at %zu)", n, st[1]);
    n = ui_wrap("abcdefghijklmnopqrstuvwxyz", 10, st, 16);
    ok(n == 3 && st[1] == 10 && st[2] == 20, "hard wrap inside a long word");
    n = ui_wrap("", 10, st, 16);
    ok(n == 1 && st[0] == 0, "an empty line is one row");
    ok(ui_text_width("héllo", strlen("héllo")) == 5, "UTF-8 width counts code points");
    ok(ui_text_width("日本", strlen("日本")) == 4, "wide characters count 2");
    ok(ui_text_width("\xff" "a", 2) == 2, "invalid bytes count 1");
    n = ui_wrap("日本語のテキスト", 5, st, 16);
    ok(n == 4, "wide characters wrap by columns (%d rows)", n);
}

static void fake_snap(tlm_snapshot *s)
{
    memset(s, 0, sizeof *s);
    s->state = TLM_SESS_RUNNING;
    s->step = 1234;
    s->steps = 3000;
    s->tokens = 1234.0 * 16 * 128;
    s->train_loss = 4.5678;
    s->lr = 3e-4f;
    s->tok_s = 8000;
    s->batch = 16;
    s->ctx = 128;
    s->n_layers = 1;
    s->n_rows = 1;
    tlm_layer_snap *l = &s->layer[0];
    snprintf(l->name, sizeof l->name, "L0.attn.q");
    l->linear = 0;
    l->rows = l->cols = 256;
    l->gamma = 0.02f;
    l->sparsity = 0.3f;
    l->flip_rate = 0.001f;
    l->counts[0] = 30000, l->counts[1] = 19660, l->counts[2] = 15876;
}

static void test_status(void)
{
    tlm_snapshot s;
    fake_snap(&s);
    char b[64];
    ui_fmt_duration(312, b, sizeof b);
    ok(!strcmp(b, "5m12s"), "duration %s", b);
    ui_fmt_duration(3 * 3600 + 7 * 60, b, sizeof b);
    ok(!strcmp(b, "3h07m"), "duration %s", b);
    ui_fmt_duration(NAN, b, sizeof b);
    ok(!strcmp(b, "--"), "unknown duration");
    double eta = ui_eta(&s);
    ok(fabs(eta - 1766 * 16 * 128 / 8000.0) < 1e-6, "ETA from tok/s (%g s)", eta);
    ui_grid g;
    ui_grid_init(&g, 200, 1);
    ui_status_in in = {&s, "tiny", 312, 2, NULL};
    ui_status_draw(&g, 0, 200, &in);
    ok(row_has(&g, 0, "tiny") && row_has(&g, 0, " RUNNING ") && row_has(&g, 0, "step 1234/3000") &&
           row_has(&g, 0, "8000 tok/s") && row_has(&g, 0, "lr 3.0e-04") &&
           row_has(&g, 0, "5m12s ETA 7m32s") && row_has(&g, 0, "2 thr") &&
           row_has(&g, 0, "2.53M tok"), "wide status line has every field");
    ui_grid_free(&g);
    ui_grid_init(&g, 80, 1);
    s.saves_pending = 1;
    ui_status_draw(&g, 0, 80, &in);
    char row[512];
    ui_grid_row(&g, 0, row, sizeof row);
    ok(row_has(&g, 0, "tiny  ") && row_has(&g, 0, "SAVING") && row_has(&g, 0, "step 1234/3000") &&
           row_has(&g, 0, "2.53M tok") && row_has(&g, 0, "8000 tok/s") && row_has(&g, 0, "lr ") &&
           row_has(&g, 0, "ETA") && !row_has(&g, 0, "loss"),
       "80 columns: all but the loss |%s|", row);
    s.saves_pending = 0;
    s.state = TLM_SESS_PAUSED;
    ui_grid_clear(&g);
    ui_status_draw(&g, 0, 30, &in);
    ok(row_has(&g, 0, "PAUSED") && row_has(&g, 0, "step 1234/3000"), "30 columns still show "
       "state and step");
    s.state = TLM_SESS_ERROR;
    int role;
    ok(!strcmp(ui_state_word(&s, &role), "ERROR") && role == UI_R_ALERT, "ERROR state");
    ui_grid_clear(&g);
    int nk;
    const ui_key_label *k = ui_fkeys(1, &nk);
    ui_keys_draw(&g, 0, 80, k, nk);
    ok(row_has(&g, 0, "F1Help") && row_has(&g, 0, "F2Resume F3Save") && row_has(&g, 0, "F10Quit"),
       "key bar (paused: F2 resumes)");
    ui_grid_clear(&g);
    ui_keys_draw(&g, 0, 20, k, nk);
    ok(row_has(&g, 0, "F2Resume") && !row_has(&g, 0, "F3"), "a narrow key bar leaves keys out");
    ui_grid_free(&g);
}

static void test_inspect(void)
{
    tlm_snapshot s;
    fake_snap(&s);
    double gh[5] = {0.01, 0.012, 0.015, 0.018, 0.02}, zh[5] = {0.3, 0.3, 0.3, 0.3, 0.3};
    const char *lines[] = {"latent weights: min -0.1 max 0.1", "  [-0.1, -0.09)  12 ##"};
    ui_inspect_in in = {&s.layer[0], "L0.attn.q", gh, zh, zh, 5, lines, 2, 0, NULL, 1};
    ui_grid g;
    ui_grid_init(&g, 80, 12);
    ui_inspect_draw(&g, 0, 0, 80, 12, &in);
    ok(row_has(&g, 0, "L0.attn.q") && row_has(&g, 0, "256x256") && row_has(&g, 0, "ternary"),
       "inspector header");
    ok(row_has(&g, 1, "w < -0.01") && row_has(&g, 1, "-1") && row_has(&g, 2, "|w| < 0.01") &&
           row_has(&g, 3, "w > +0.01"), "code bars labelled with the thresholds +-g/2");
    ok(row_has(&g, 1, "45.8%") && row_has(&g, 1, "30000"), "share and count of -1 codes");
    ok(row_has(&g, 4, "g") && row_has(&g, 4, "▁") && row_has(&g, 4, "█"), "g over time");
    ok(row_has(&g, 7, "inspect L0.attn.q") && row_has(&g, 8, "latent weights") &&
           row_has(&g, 9, "##"), "the inspect answer below");
    ok(ui_inspect_head_rows(&in) == 7, "head rows of a linear");
    in.layer = NULL;
    in.name = "L9.nope";
    ui_grid_clear(&g);
    ui_inspect_draw(&g, 0, 0, 80, 12, &in);
    ok(row_has(&g, 0, "no layer 'L9.nope'"), "unknown layer");
    ui_grid_free(&g);
}

int main(void)
{
    setlocale(LC_CTYPE, "C.UTF-8");
    test_outbuf();
    test_wrap();
    test_status();
    test_inspect();
    return tap_done();
}
