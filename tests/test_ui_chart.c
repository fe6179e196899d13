/* test_ui_chart.c - the loss chart as a pure function from numbers to cells:
 * EMA with debias, binning with a min/max envelope, linear and log axes,
 * NaN/Inf markers, labels, zoom, braille and ASCII. */
#include <math.h>
#include <string.h>
#include "tap.h"
#include "ui/chart.h"

#define N 1000

static double xs[N], ys[N];

static int row_has(const ui_grid *g, int y, const char *s)
{
    char buf[4096];
    ui_grid_row(g, y, buf, sizeof buf);
    return strstr(buf, s) != NULL;
}

/* Rows of the grid joined, for a diagnostic on failure. */
static void dump(const ui_grid *g)
{
    char buf[4096];
    for (int y = 0; y < g->h; y++) {
        ui_grid_row(g, y, buf, sizeof buf);
        printf("# |%s|\n", buf);
    }
}

static int count_role(const ui_grid *g, int role, int y0, int y1)
{
    int n = 0;
    for (int y = y0; y <= y1 && y < g->h; y++)
        for (int x = 0; x < g->w; x++)
            n += g->c[y * g->w + x].s[0] && g->c[y * g->w + x].role == role;
    return n;
}

static int is_braille(const char *s)
{
    /* U+2800..U+28FF: E2 A0..A3 xx */
    return (unsigned char)s[0] == 0xE2 && ((unsigned char)s[1] & 0xFC) == 0xA0;
}

static void test_ema(void)
{
    double y[4] = {2, NAN, 4, 4}, out[4];
    ui_ema(y, 4, 0, out);
    ok(out[0] == 2 && isnan(out[1]) && out[2] == 4, "ema weight 0 is the identity");
    ui_ema(y, 4, 0.5, out);
    ok(fabs(out[0] - 2) < 1e-12, "ema debias: the first value is kept (%g)", out[0]);
    ok(isnan(out[1]), "ema: NaN passes through, not dropped");
    ok(fabs(out[2] - 10.0 / 3) < 1e-12, "ema: NaN does not enter the average (%g)", out[2]);
    double c[3] = {5, 5, 5};
    ui_ema(c, 3, 0.9, c);
    ok(fabs(c[0] - 5) < 1e-12 && fabs(c[2] - 5) < 1e-12, "ema of a constant is that constant");
}

static void test_bins(void)
{
    for (int i = 0; i < 100; i++)
        xs[i] = i, ys[i] = 1;
    ys[40] = 50;
    ys[70] = NAN;
    ys[80] = INFINITY;
    ui_bin b[10];
    ui_chart_bin(xs, ys, ys, 100, 0, 99, b, 10);
    int total = 0;
    for (int c = 0; c < 10; c++)
        total += b[c].n;
    ok(total == 98, "bins hold every finite point (%d)", total);
    ok(b[4].hi == 50 && b[4].lo == 1, "the spike survives as the column's max");
    ok(b[7].flags & UI_BIN_NAN, "NaN flagged in its column");
    ok(b[8].flags & UI_BIN_PINF, "+Inf flagged in its column");
    ui_chart_bin(xs, ys, ys, 100, 50, 59, b, 10);
    ok(b[0].n == 1 && b[9].n == 1, "a window bins only its points");
}

static void test_rows_and_labels(void)
{
    ok(ui_chart_row(1, 0, 1, 0, 5) == 0 && ui_chart_row(0, 0, 1, 0, 5) == 4 &&
           ui_chart_row(0.5, 0, 1, 0, 5) == 2, "linear rows");
    ok(ui_chart_row(10, 1, 100, 1, 5) == 2, "log rows: 10 is halfway between 1 and 100");
    ok(ui_chart_row(-3, 1, 100, 1, 5) == 4 && ui_chart_row(1e9, 1, 100, 0, 5) == 0,
       "out of range values are clamped");
    char b[32];
    ui_fmt_value(8.314159, b, sizeof b);
    ok(!strcmp(b, "8.314"), "value label %s", b);
    ui_fmt_value(0.03125, b, sizeof b);
    ok(!strcmp(b, "0.0312"), "value label %s", b);
    ui_fmt_value(1.2e-5, b, sizeof b);
    ok(strlen(b) <= 6, "small value label fits 6 (%s)", b);
    ui_fmt_value(NAN, b, sizeof b);
    ok(!strcmp(b, "nan"), "NaN label");
    ui_fmt_count(950, b, sizeof b);
    ok(!strcmp(b, "950"), "count %s", b);
    ui_fmt_count(20000, b, sizeof b);
    ok(!strcmp(b, "20k"), "count %s", b);
    ui_fmt_count(1234567, b, sizeof b);
    ok(!strcmp(b, "1.23M"), "count %s", b);
}

static void descending(int n)
{
    for (int i = 0; i < n; i++)
        xs[i] = i, ys[i] = 10 - 9.0 * i / (n - 1);
}

static void test_braille_chart(void)
{
    ui_grid g;
    ui_grid_init(&g, 40, 12);
    descending(100);
    ui_series tr = {xs, ys, 100};
    ui_chart_opts o = {.smooth = 0, .utf8 = 1, .envelope = 1};
    ui_chart_info info;
    int rc = ui_chart_draw(&g, 0, 0, 40, 12, &tr, NULL, &o, &info);
    ok(rc == 0 && info.plot_w == 33 && info.plot_h == 10 && info.sub_w == 2 && info.sub_h == 4,
       "chart geometry: 33x10 plot, 2x4 dots per cell");
    ok(info.y_lo == 1 && info.y_hi == 10, "y range is the data's (%g..%g)", info.y_lo, info.y_hi);
    int bad = 0, dots = 0;
    for (int y = 0; y < info.plot_h; y++)
        for (int x = 0; x < info.plot_w; x++) {
            const ui_cell *c = &g.c[y * g.w + info.plot_x + x];
            if (c->s[0]) {
                dots++;
                bad += !is_braille(c->s);
            }
        }
    ok(dots > 0 && !bad, "plot cells are braille (%d cells, %d not braille)", dots, bad);
    ok(g.c[info.plot_x].s[0] && g.c[(info.plot_h - 1) * g.w + g.w - 1].s[0],
       "the line starts top left and ends bottom right");
    ok(row_has(&g, 0, "10") && row_has(&g, info.plot_h - 1, "1┤"), "y labels at top and bottom");
    ok(row_has(&g, 0, "┤") && row_has(&g, 10, "└"), "box-drawing axes");
    ok(row_has(&g, 11, "0") && row_has(&g, 11, "50"), "x labels (steps)");
    if (!ok(count_role(&g, UI_R_TRAIN, 0, 9) > 0, "train role on the line"))
        dump(&g);
    ui_grid_free(&g);
}

static void test_ascii_chart(void)
{
    ui_grid g;
    ui_grid_init(&g, 40, 12);
    descending(100);
    double vx[3] = {0, 50, 99}, vy[3] = {9.5, 5, 1.5};
    ui_series tr = {xs, ys, 100}, va = {vx, vy, 3};
    ui_chart_opts o = {.smooth = 0.6, .utf8 = 0, .envelope = 1};
    ui_chart_draw(&g, 0, 0, 40, 12, &tr, &va, &o, NULL);
    int nonascii = 0, star = 0, oh = 0;
    for (int i = 0; i < g.w * g.h; i++) {
        nonascii += (unsigned char)g.c[i].s[0] >= 0x80;
        star += g.c[i].s[0] == '*';
        oh += g.c[i].s[0] == 'o';
    }
    ok(!nonascii, "ASCII chart has only ASCII (%d non-ASCII cells)", nonascii);
    ok(star > 0 && oh > 0, "ASCII chart draws train '*' and val 'o' (%d, %d)", star, oh);
    ok(row_has(&g, 10, "+---"), "ASCII x axis");
    ui_grid_free(&g);
}

static void test_spike_and_smoothing(void)
{
    for (int i = 0; i < N; i++)
        xs[i] = i, ys[i] = 2;
    ys[500] = 50;
    ui_series tr = {xs, ys, N};
    ui_grid g;
    ui_grid_init(&g, 30, 10);
    ui_chart_info info;
    ui_chart_opts o = {.smooth = 0.9, .utf8 = 1, .envelope = 1};
    ui_chart_draw(&g, 0, 0, 30, 10, &tr, NULL, &o, &info);
    ok(info.y_hi == 50, "envelope: a one-step spike in 1000 steps sets the range (%g)", info.y_hi);
    ok(count_role(&g, UI_R_ENVELOPE, 0, 0) > 0, "the spike is drawn on the top row");
    ui_grid_clear(&g);
    o.envelope = 0;
    ui_chart_draw(&g, 0, 0, 30, 10, &tr, NULL, &o, &info);
    ok(info.y_hi < 10, "without the envelope the smoothed line hides it (%g)", info.y_hi);
    ui_grid_free(&g);
}

static void test_nonfinite(void)
{
    descending(100);
    ys[30] = NAN;
    ys[60] = INFINITY;
    ui_series tr = {xs, ys, 100};
    ui_grid g;
    ui_grid_init(&g, 40, 12);
    ui_chart_info info;
    ui_chart_opts o = {.smooth = 0.5, .utf8 = 1, .envelope = 1};
    ui_chart_draw(&g, 0, 0, 40, 12, &tr, NULL, &o, &info);
    ok(info.n_nan == 1 && info.n_inf == 1, "non-finite counted (%d NaN, %d Inf)", info.n_nan,
       info.n_inf);
    ok(row_has(&g, 0, "x") && row_has(&g, 0, "^"), "NaN 'x' and +Inf '^' marked on the top row");
    ok(count_role(&g, UI_R_BAD, 0, 0) == 2, "markers have the alert role");
    ok(isfinite(info.y_hi) && info.y_hi == 10, "markers do not spoil the range");
    ui_grid_free(&g);
}

static void test_log_and_zoom(void)
{
    for (int i = 0; i < 100; i++)
        xs[i] = i, ys[i] = 1000 * pow(10, -3.0 * i / 99);
    ui_series tr = {xs, ys, 100};
    ui_grid g;
    ui_grid_init(&g, 40, 12);
    ui_chart_info info;
    ui_chart_opts o = {.utf8 = 1, .logy = 1, .envelope = 1};
    ui_chart_draw(&g, 0, 0, 40, 12, &tr, NULL, &o, &info);
    ok(fabs(info.y_lo - 1) < 1e-9 && fabs(info.y_hi - 1000) < 1e-9, "log range 1..1000");
    ok(row_has(&g, 0, "1000") && row_has(&g, 9, "1┤"), "log labels");
    /* On a log axis an exponential decay is a straight line: the middle
     * sample sits on the middle dot row. */
    int mid = ui_chart_row(ys[50], info.y_lo, info.y_hi, 1, 40);
    ok(abs(mid - 20) <= 1, "log: the geometric middle is the middle row (%d)", mid);
    ui_grid_clear(&g);
    o = (ui_chart_opts){.utf8 = 1, .x_lo = 50, .x_hi = 99};
    ui_chart_draw(&g, 0, 0, 40, 12, &tr, NULL, &o, &info);
    ok(info.x_lo == 50 && info.x_hi == 99 && info.y_hi < 32 && info.y_lo > 0.9,
       "zoom to steps 50..99: the range is the window's (%g..%g)", info.y_lo, info.y_hi);
    ok(row_has(&g, 11, "60") && !row_has(&g, 11, "20 "), "zoomed x labels");
    ui_grid_free(&g);
}

static void test_small_and_empty(void)
{
    ui_grid g;
    ui_grid_init(&g, 20, 4);
    ui_series none = {xs, ys, 0};
    ui_chart_opts o = {.utf8 = 1};
    ok(ui_chart_draw(&g, 0, 0, 12, 4, &none, NULL, &o, NULL) == -1, "too small: -1");
    ui_grid_free(&g);
    ui_grid_init(&g, 30, 8);
    ok(ui_chart_draw(&g, 0, 0, 30, 8, &none, NULL, &o, NULL) == 0, "an empty series draws axes");
    int note = 0, frac = 0;
    for (int y = 0; y < g.h; y++) {
        note |= row_has(&g, y, "no training");
        frac |= row_has(&g, y, ".5");
    }
    ok(note && !frac, "an empty chart says so, with no fractional step labels");
    ui_grid_free(&g);
}

static void test_sparkline(void)
{
    double v[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    ui_grid g;
    ui_grid_init(&g, 8, 1);
    ui_sparkline(&g, 0, 0, 8, v, 8, UI_R_TRAIN, 1);
    char buf[64];
    ui_grid_row(&g, 0, buf, sizeof buf);
    ok(!strcmp(buf, "▁▂▃▄▅▆▇█"), "sparkline %s", buf);
    ui_sparkline(&g, 0, 0, 4, v, 8, UI_R_TRAIN, 0);
    ui_grid_row(&g, 0, buf, sizeof buf);
    ok(!strncmp(buf, "_.-'", 4), "ASCII sparkline of the last 4 (%s)", buf);
    ui_grid_free(&g);
}

int main(void)
{
    test_ema();
    test_bins();
    test_rows_and_labels();
    test_braille_chart();
    test_ascii_chart();
    test_spike_and_smoothing();
    test_nonfinite();
    test_log_and_zoom();
    test_small_and_empty();
    test_sparkline();
    return tap_done();
}
