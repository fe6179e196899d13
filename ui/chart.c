/* chart.c - loss charts: EMA, binning, braille/ASCII dots, axes. Pure: no
 * terminal, only numbers in and cells out. */
#include "chart.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GUTTER 7  /* y labels (6) and the axis (1) */
#define MIN_W 16
#define MIN_H 5

/* ---- numbers ---- */

void ui_ema(const double *y, size_t n, double w, double *out)
{
    if (!(w >= 0))
        w = 0;
    if (w > 0.999)
        w = 0.999;
    double e = 0, wk = 1;
    for (size_t i = 0; i < n; i++) {
        double v = y[i];
        if (!isfinite(v)) {
            out[i] = v;
            continue;
        }
        e = w * e + (1 - w) * v;
        wk *= w;
        out[i] = w > 0 ? e / (1 - wk) : v;
    }
}

void ui_chart_bin(const double *x, const double *raw, const double *smooth, size_t n,
                  double x_lo, double x_hi, ui_bin *bins, int ncol)
{
    memset(bins, 0, (size_t)ncol * sizeof *bins);
    double span = x_hi - x_lo;
    if (ncol <= 0 || !(span > 0))
        return;
    for (size_t i = 0; i < n; i++) {
        if (!(x[i] >= x_lo && x[i] <= x_hi))
            continue;
        int c = (int)((x[i] - x_lo) / span * ncol);
        if (c >= ncol)
            c = ncol - 1;
        ui_bin *b = &bins[c];
        double v = raw[i];
        if (isnan(v)) {
            b->flags |= UI_BIN_NAN;
            continue;
        }
        if (isinf(v)) {
            b->flags |= v > 0 ? UI_BIN_PINF : UI_BIN_NINF;
            continue;
        }
        double s = isfinite(smooth[i]) ? smooth[i] : v;
        if (!b->n || v < b->lo)
            b->lo = v;
        if (!b->n || v > b->hi)
            b->hi = v;
        b->mean = (b->mean * b->n + s) / (b->n + 1);
        b->n++;
    }
}

int ui_chart_row(double v, double lo, double hi, int logy, int rows)
{
    if (rows <= 1)
        return 0;
    double t;
    if (logy) {
        if (!(v > 0))
            return rows - 1;
        t = (log10(v) - log10(lo)) / (log10(hi) - log10(lo));
    } else {
        t = (v - lo) / (hi - lo);
    }
    if (!(t >= 0))
        t = 0;
    if (t > 1)
        t = 1;
    return (int)lround((1 - t) * (rows - 1));
}

void ui_fmt_value(double v, char *buf, size_t n)
{
    if (isnan(v)) {
        snprintf(buf, n, "nan");
        return;
    }
    if (isinf(v)) {
        snprintf(buf, n, v > 0 ? "inf" : "-inf");
        return;
    }
    static const char *fmts[] = {"%.4g", "%.3g", "%.2g", "%.1g", "%.0e"};
    for (size_t i = 0; i < sizeof fmts / sizeof fmts[0]; i++) {
        char tmp[32];
        snprintf(tmp, sizeof tmp, fmts[i], v);
        if (strlen(tmp) <= 6 || i + 1 == sizeof fmts / sizeof fmts[0]) {
            snprintf(buf, n, "%s", tmp);
            return;
        }
    }
}

void ui_fmt_count(double v, char *buf, size_t n)
{
    double a = fabs(v);
    if (!isfinite(v))
        snprintf(buf, n, "%s", isnan(v) ? "nan" : "inf");
    else if (a < 10000)
        snprintf(buf, n, "%.0f", v);
    else if (a < 1e6)
        snprintf(buf, n, "%.3gk", v / 1e3);
    else if (a < 1e9)
        snprintf(buf, n, "%.3gM", v / 1e6);
    else
        snprintf(buf, n, "%.3gG", v / 1e9);
}

/* ---- the dot canvas ---- */

typedef struct canvas {
    int cols, rows; /* dots */
    uint8_t *dot;   /* role + 1 of the strongest series on the dot, 0 = empty */
} canvas;

static int role_rank(int role)
{
    return role == UI_R_VAL ? 3 : role == UI_R_TRAIN ? 2 : 1;
}

static void canvas_set(canvas *cv, int c, int r, int role)
{
    if (c < 0 || r < 0 || c >= cv->cols || r >= cv->rows)
        return;
    uint8_t *d = &cv->dot[(size_t)r * (size_t)cv->cols + (size_t)c];
    if (!*d || role_rank(role) >= role_rank(*d - 1))
        *d = (uint8_t)(role + 1);
}

static void canvas_vline(canvas *cv, int c, int r0, int r1, int role)
{
    if (r0 > r1) {
        int t = r0;
        r0 = r1;
        r1 = t;
    }
    for (int r = r0; r <= r1; r++)
        canvas_set(cv, c, r, role);
}

typedef struct yaxis {
    double lo, hi;
    int logy;
} yaxis;

/* Connect the non-empty columns of bins with straight segments. */
static void plot_line(canvas *cv, const ui_bin *bins, const yaxis *ax, int role)
{
    int pc = -1, pr = 0;
    for (int c = 0; c < cv->cols; c++) {
        if (!bins[c].n)
            continue;
        int r = ui_chart_row(bins[c].mean, ax->lo, ax->hi, ax->logy, cv->rows);
        if (pc < 0) {
            canvas_set(cv, c, r, role);
        } else {
            int prev = pr;
            for (int k = pc + 1; k <= c; k++) {
                int rk = (int)lround(pr + (double)(r - pr) * (k - pc) / (c - pc));
                canvas_vline(cv, k, prev, rk, role);
                prev = rk;
            }
        }
        pc = c;
        pr = r;
    }
}

static void plot_envelope(canvas *cv, const ui_bin *bins, const yaxis *ax)
{
    for (int c = 0; c < cv->cols; c++) {
        if (!bins[c].n || bins[c].hi <= bins[c].lo)
            continue;
        int r0 = ui_chart_row(bins[c].hi, ax->lo, ax->hi, ax->logy, cv->rows);
        int r1 = ui_chart_row(bins[c].lo, ax->lo, ax->hi, ax->logy, cv->rows);
        canvas_vline(cv, c, r0, r1, UI_R_ENVELOPE);
    }
}

/* Braille bit of the dot (dx, dy) inside a 2 x 4 cell. */
static int braille_bit(int dx, int dy)
{
    static const int bits[2][4] = {{0, 1, 2, 6}, {3, 4, 5, 7}};
    return 1 << bits[dx][dy];
}

static void braille_glyph(int bits, char out[5])
{
    unsigned cp = 0x2800u + (unsigned)bits;
    out[0] = (char)(0xE0 | (cp >> 12));
    out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[2] = (char)(0x80 | (cp & 0x3F));
    out[3] = 0;
}

/* Copy the canvas into the plot area as braille (2 x 4) or ASCII (1 x 1). */
static void canvas_blit(const canvas *cv, ui_grid *g, int px, int py, int pw, int ph, int utf8)
{
    int sw = utf8 ? 2 : 1, sh = utf8 ? 4 : 1;
    for (int cy = 0; cy < ph; cy++)
        for (int cx = 0; cx < pw; cx++) {
            int bits = 0, best = 0;
            for (int dy = 0; dy < sh; dy++)
                for (int dx = 0; dx < sw; dx++) {
                    uint8_t d = cv->dot[(size_t)(cy * sh + dy) * (size_t)cv->cols +
                                        (size_t)(cx * sw + dx)];
                    if (!d)
                        continue;
                    bits |= braille_bit(dx, dy);
                    if (!best || role_rank(d - 1) > role_rank(best - 1))
                        best = d;
                }
            if (!bits)
                continue;
            char glyph[5];
            if (utf8)
                braille_glyph(bits, glyph);
            else
                snprintf(glyph, sizeof glyph, "%c",
                         best - 1 == UI_R_VAL ? 'o' : best - 1 == UI_R_TRAIN ? '*' : ':');
            ui_grid_put(g, px + cx, py + cy, glyph, best - 1);
        }
}

/* ---- ranges ---- */

static void range_add(double v, int logy, double *lo, double *hi, int *any)
{
    if (!isfinite(v) || (logy && !(v > 0)))
        return;
    if (!*any || v < *lo)
        *lo = v;
    if (!*any || v > *hi)
        *hi = v;
    *any = 1;
}

static void range_bins(const ui_bin *b, int ncol, int env, int logy, double *lo, double *hi,
                       int *any)
{
    for (int c = 0; c < ncol; c++) {
        if (!b[c].n)
            continue;
        range_add(b[c].mean, logy, lo, hi, any);
        if (env) {
            range_add(b[c].lo, logy, lo, hi, any);
            range_add(b[c].hi, logy, lo, hi, any);
        }
    }
}

/* Widen a flat or empty range so that it has a height. */
static void range_fix(yaxis *ax, int any)
{
    if (!any) {
        ax->lo = ax->logy ? 1 : 0;
        ax->hi = ax->logy ? 10 : 1;
        return;
    }
    if (ax->hi > ax->lo)
        return;
    if (ax->logy) {
        ax->lo /= 1.1;
        ax->hi *= 1.1;
    } else {
        double pad = fabs(ax->hi) * 0.05;
        if (pad < 1e-6)
            pad = 1e-6;
        ax->lo -= pad;
        ax->hi += pad;
    }
}

static void x_range(const ui_series *tr, const ui_series *va, const ui_chart_opts *o,
                    double *lo, double *hi)
{
    if (o->x_hi > o->x_lo) {
        *lo = o->x_lo;
        *hi = o->x_hi;
        return;
    }
    int any = 0;
    const ui_series *ss[2] = {tr, va};
    for (int k = 0; k < 2; k++)
        if (ss[k] && ss[k]->n) {
            if (!any || ss[k]->x[0] < *lo)
                *lo = ss[k]->x[0];
            if (!any || ss[k]->x[ss[k]->n - 1] > *hi)
                *hi = ss[k]->x[ss[k]->n - 1];
            any = 1;
        }
    if (!any)
        *lo = 0, *hi = 1;
    if (!(*hi > *lo))
        *hi = *lo + 1;
}

/* ---- axes ---- */

static double row_value(int cy, int sh, int rows, const yaxis *ax)
{
    double t = 1.0 - (cy == 0 ? 0.0 : (double)(cy * sh + (sh - 1) / 2.0) / (rows - 1));
    if (t < 0)
        t = 0;
    if (ax->logy)
        return pow(10, log10(ax->lo) + t * (log10(ax->hi) - log10(ax->lo)));
    return ax->lo + t * (ax->hi - ax->lo);
}

static void draw_y_axis(ui_grid *g, int x, int py, int ph, int sh, const yaxis *ax, int utf8)
{
    int step = ph >= 12 ? 4 : ph >= 6 ? 3 : 2;
    for (int cy = 0; cy < ph; cy++) {
        int tick = cy == 0 || cy == ph - 1 || (cy % step == 0 && ph - 1 - cy >= 2);
        ui_grid_put(g, x + GUTTER - 1, py + cy, tick ? (utf8 ? "┤" : "+") : (utf8 ? "│" : "|"),
                    UI_R_AXIS);
        if (!tick)
            continue;
        char lab[32];
        double v = cy == ph - 1 ? ax->lo : row_value(cy, sh, ph * sh, ax);
        ui_fmt_value(v, lab, sizeof lab);
        int len = (int)strlen(lab);
        ui_grid_text(g, x + GUTTER - 1 - (len < 6 ? len : 6), py + cy, lab, UI_R_LABEL, 6);
    }
}

/* A round tick step (1, 2 or 5 times a power of ten) at least min_step. */
static double nice_step(double min_step)
{
    if (!(min_step > 0))
        return 1;
    double p = pow(10, floor(log10(min_step)));
    double m = min_step / p;
    return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}

static void draw_x_axis(ui_grid *g, int px, int ay, int pw, double lo, double hi, int utf8)
{
    ui_grid_put(g, px - 1, ay, utf8 ? "└" : "+", UI_R_AXIS);
    for (int c = 0; c < pw; c++)
        ui_grid_put(g, px + c, ay, utf8 ? "─" : "-", UI_R_AXIS);
    double step = nice_step((hi - lo) / (pw / 10.0 > 1 ? pw / 10.0 : 1));
    if (step < 1) /* x counts steps: no fractional ticks */
        step = 1;
    int last_end = -2;
    for (double v = ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) {
        int c = (int)lround((v - lo) / (hi - lo) * (pw - 1));
        char lab[32];
        ui_fmt_count(v, lab, sizeof lab);
        int len = (int)strlen(lab);
        int start = c - len / 2;
        if (start < 0)
            start = 0;
        if (start + len > pw)
            start = pw - len;
        if (start <= last_end + 1)
            continue;
        ui_grid_put(g, px + c, ay, utf8 ? "┬" : "+", UI_R_AXIS);
        ui_grid_text(g, px + start, ay + 1, lab, UI_R_LABEL, len);
        last_end = start + len - 1;
    }
}

/* NaN / Inf markers on the top row of the plot for each cell column. */
static void draw_markers(ui_grid *g, int px, int py, int pw, int sw, const ui_bin *a,
                         const ui_bin *b)
{
    for (int cx = 0; cx < pw; cx++) {
        int f = 0;
        for (int dx = 0; dx < sw; dx++)
            f |= a[cx * sw + dx].flags | (b ? b[cx * sw + dx].flags : 0);
        if (f)
            ui_grid_put(g, px + cx, py, f & UI_BIN_NAN ? "x" : f & UI_BIN_PINF ? "^" : "v",
                        UI_R_BAD);
    }
}

static void count_bad(const ui_series *s, double lo, double hi, ui_chart_info *info)
{
    for (size_t i = 0; s && i < s->n; i++)
        if (s->x[i] >= lo && s->x[i] <= hi && !isfinite(s->y[i])) {
            if (isnan(s->y[i]))
                info->n_nan++;
            else
                info->n_inf++;
        }
}

static double last_finite(const ui_bin *b, int ncol)
{
    for (int c = ncol - 1; c >= 0; c--)
        if (b[c].n)
            return b[c].mean;
    return NAN;
}

/* ---- the chart ---- */

typedef struct chart_work {
    double *smooth;
    ui_bin *tb, *vb;
    canvas cv;
} chart_work;

static void work_free(chart_work *w)
{
    free(w->smooth);
    free(w->tb);
    free(w->vb);
    free(w->cv.dot);
}

static int work_alloc(chart_work *w, size_t n, int ncol, int nrow)
{
    memset(w, 0, sizeof *w);
    w->smooth = malloc((n ? n : 1) * sizeof *w->smooth);
    w->tb = calloc((size_t)ncol, sizeof *w->tb);
    w->vb = calloc((size_t)ncol, sizeof *w->vb);
    w->cv.cols = ncol;
    w->cv.rows = nrow;
    w->cv.dot = calloc((size_t)ncol * (size_t)nrow, 1);
    if (w->smooth && w->tb && w->vb && w->cv.dot)
        return 0;
    work_free(w);
    return -1;
}

static void too_small(ui_grid *g, int x, int y, int w, int h)
{
    if (w > 0 && h > 0)
        ui_grid_text(g, x, y + h / 2, "(chart: too small)", UI_R_DIM, w);
}

int ui_chart_draw(ui_grid *g, int x, int y, int w, int h, const ui_series *train,
                  const ui_series *val, const ui_chart_opts *o, ui_chart_info *info)
{
    ui_chart_info dummy;
    if (!info)
        info = &dummy;
    memset(info, 0, sizeof *info);
    info->last_train = info->last_val = NAN;
    if (w < MIN_W || h < MIN_H) {
        too_small(g, x, y, w, h);
        return -1;
    }
    int sw = o->utf8 ? 2 : 1, sh = o->utf8 ? 4 : 1;
    int px = x + GUTTER, py = y, pw = w - GUTTER, ph = h - 2;
    int ncol = pw * sw, nrow = ph * sh;
    chart_work wk;
    if (work_alloc(&wk, train->n, ncol, nrow)) {
        too_small(g, x, y, w, h);
        return -1;
    }
    double xlo = 0, xhi = 1;
    x_range(train, val, o, &xlo, &xhi);
    ui_ema(train->y, train->n, o->smooth, wk.smooth);
    ui_chart_bin(train->x, train->y, wk.smooth, train->n, xlo, xhi, wk.tb, ncol);
    if (val)
        ui_chart_bin(val->x, val->y, val->y, val->n, xlo, xhi, wk.vb, ncol);
    yaxis ax = {0, 0, o->logy};
    int any = 0;
    range_bins(wk.tb, ncol, o->envelope, o->logy, &ax.lo, &ax.hi, &any);
    range_bins(wk.vb, ncol, 0, o->logy, &ax.lo, &ax.hi, &any);
    range_fix(&ax, any);
    if (o->envelope)
        plot_envelope(&wk.cv, wk.tb, &ax);
    plot_line(&wk.cv, wk.tb, &ax, UI_R_TRAIN);
    plot_line(&wk.cv, wk.vb, &ax, UI_R_VAL);
    canvas_blit(&wk.cv, g, px, py, pw, ph, o->utf8);
    draw_markers(g, px, py, pw, sw, wk.tb, val ? wk.vb : NULL);
    if (!any)
        ui_grid_text(g, px + (pw > 20 ? (pw - 20) / 2 : 0), py + ph / 2, "(no training steps yet)",
                     UI_R_DIM, pw);
    draw_y_axis(g, x, py, ph, sh, &ax, o->utf8);
    draw_x_axis(g, px, py + ph, pw, xlo, xhi, o->utf8);
    *info = (ui_chart_info){xlo, xhi, ax.lo, ax.hi, px, py, pw, ph, sw, sh, 0, 0,
                            last_finite(wk.tb, ncol), last_finite(wk.vb, ncol)};
    count_bad(train, xlo, xhi, info);
    count_bad(val, xlo, xhi, info);
    work_free(&wk);
    return 0;
}

/* ---- sparkline ---- */

void ui_sparkline(ui_grid *g, int x, int y, int w, const double *v, size_t n, int role,
                  int utf8)
{
    static const char *blocks[8] = {"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
    static const char *ascii[4] = {"_", ".", "-", "'"};
    size_t first = n > (size_t)w ? n - (size_t)w : 0;
    double lo = 0, hi = 0;
    int any = 0;
    for (size_t i = first; i < n; i++)
        range_add(v[i], 0, &lo, &hi, &any);
    int levels = utf8 ? 8 : 4;
    for (size_t i = first; i < n; i++) {
        int cx = x + (int)(i - first);
        if (!isfinite(v[i])) {
            ui_grid_put(g, cx, y, "x", UI_R_BAD);
            continue;
        }
        int k = hi > lo ? (int)lround((v[i] - lo) / (hi - lo) * (levels - 1)) : levels / 2;
        ui_grid_put(g, cx, y, utf8 ? blocks[k] : ascii[k], role);
    }
}
