/* svg.c - line and bar charts written as plain SVG. */
#include "svg.h"
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

enum { W = 760, H = 440, L = 70, R = 180, TOP = 40, BOT = 60 };

static void text_esc(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '&')
            fputs("&amp;", f);
        else if (*s == '<')
            fputs("&lt;", f);
        else if (*s == '>')
            fputs("&gt;", f);
        else
            fputc(*s, f);
    }
}

static void label(FILE *f, double x, double y, const char *anchor, int size, const char *s,
                  int rotate)
{
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"%d\" text-anchor=\"%s\"", x, y, size,
            anchor);
    if (rotate)
        fprintf(f, " transform=\"rotate(-90 %.1f %.1f)\"", x, y);
    fputc('>', f);
    text_esc(f, s);
    fputs("</text>\n", f);
}

static void head(FILE *f, const char *title, const char *xlabel, const char *ylabel)
{
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/"
               "svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" font-family=\"sans-serif\">"
               "\n<rect width=\"%d\" height=\"%d\" fill=\"white\"/>\n", W, H, W, H, W, H);
    label(f, W / 2.0, 24, "middle", 16, title, 0);
    if (xlabel)
        label(f, L + (W - L - R) / 2.0, H - 15, "middle", 12, xlabel, 0);
    label(f, 18, TOP + (H - TOP - BOT) / 2.0, "middle", 12, ylabel, 1);
}

/* A "nice" tick step for the range. */
static double tick_step(double span)
{
    double raw = span / 5, p = pow(10, floor(log10(raw))), m = raw / p;
    return p * (m < 1.5 ? 1 : m < 3 ? 2 : m < 7 ? 5 : 10);
}

static void y_axis(FILE *f, double lo, double hi)
{
    double st = tick_step(hi - lo);
    for (double v = ceil(lo / st) * st; v <= hi + st * 1e-9; v += st) {
        double y = TOP + (H - TOP - BOT) * (1 - (v - lo) / (hi - lo));
        fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", L, y,
                W - R, y);
        char b[32];
        snprintf(b, sizeof b, "%g", fabs(v) < st * 1e-9 ? 0.0 : v);
        label(f, L - 6, y + 4, "end", 11, b, 0);
    }
    fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#333\""
               "/>\n", L, TOP, W - L - R, H - TOP - BOT);
}

static void legend(FILE *f, int i, const char *name, const char *color, int dashed)
{
    double y = TOP + 12 + 20 * i;
    fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"3\""
               "%s/>\n", W - R + 10, y, W - R + 34, y, color,
            dashed ? " stroke-dasharray=\"5,3\"" : "");
    label(f, W - R + 40, y + 4, "start", 11, name, 0);
}

static int finish(FILE *f, const char *path, tlm_err *err)
{
    fputs("</svg>\n", f);
    if (ferror(f) | fclose(f))
        return tlm_errf(err, "cannot write %s: %s", path, strerror(errno));
    return 0;
}

int tlm_svg_lines(const char *path, const char *title, const char *xlabel, const char *ylabel,
                  const tlm_svg_series *s, int ns, tlm_err *err)
{
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    for (int i = 0; i < ns; i++)
        for (size_t k = 0; k < s[i].n; k++)
            if (isfinite(s[i].y[k]) && isfinite(s[i].x[k])) {
                x0 = fmin(x0, s[i].x[k]), x1 = fmax(x1, s[i].x[k]);
                y0 = fmin(y0, s[i].y[k]), y1 = fmax(y1, s[i].y[k]);
            }
    if (!(x1 > x0))
        x0 = isfinite(x0) ? x0 - 1 : 0, x1 = x0 + 2;
    if (!(y1 > y0))
        y0 = isfinite(y0) ? y0 - 1 : 0, y1 = y0 + 2;
    double pad = (y1 - y0) * 0.05;
    y0 -= pad, y1 += pad;
    FILE *f = fopen(path, "w");
    if (!f)
        return tlm_errf(err, "cannot write %s: %s", path, strerror(errno));
    head(f, title, xlabel, ylabel);
    y_axis(f, y0, y1);
    double xs = tick_step(x1 - x0);
    for (double v = ceil(x0 / xs) * xs; v <= x1 + xs * 1e-9; v += xs) {
        char b[32];
        snprintf(b, sizeof b, "%g", v);
        label(f, L + (W - L - R) * (v - x0) / (x1 - x0), H - BOT + 16, "middle", 11, b, 0);
    }
    for (int i = 0; i < ns; i++) {
        int open = 0;
        for (size_t k = 0; k < s[i].n; k++) {
            if (!isfinite(s[i].y[k]) || !isfinite(s[i].x[k]))
                continue;
            double px = L + (W - L - R) * (s[i].x[k] - x0) / (x1 - x0);
            double py = TOP + (H - TOP - BOT) * (1 - (s[i].y[k] - y0) / (y1 - y0));
            fprintf(f, "%s%.1f,%.1f", open ? " " : "<polyline fill=\"none\" points=\"", px, py);
            open = 1;
        }
        if (open)
            fprintf(f, "\" stroke=\"%s\" stroke-width=\"1.6\"%s/>\n", s[i].color,
                    s[i].dashed ? " stroke-dasharray=\"5,3\"" : "");
        legend(f, i, s[i].name, s[i].color, s[i].dashed);
    }
    return finish(f, path, err);
}

int tlm_svg_bars(const char *path, const char *title, const char *ylabel, const char *const *cats,
                 int ncat, const tlm_svg_group *g, int ng, tlm_err *err)
{
    double hi = 0;
    for (int j = 0; j < ng; j++)
        for (int c = 0; c < ncat; c++)
            if (isfinite(g[j].v[c]))
                hi = fmax(hi, g[j].v[c]);
    hi = hi > 0 ? hi * 1.1 : 1;
    FILE *f = fopen(path, "w");
    if (!f)
        return tlm_errf(err, "cannot write %s: %s", path, strerror(errno));
    head(f, title, NULL, ylabel);
    y_axis(f, 0, hi);
    double cw = (double)(W - L - R) / ncat, bw = cw * 0.8 / ng;
    for (int c = 0; c < ncat; c++) {
        label(f, L + cw * (c + 0.5), H - BOT + 16, "middle", 11, cats[c], 0);
        for (int j = 0; j < ng; j++) {
            double v = g[j].v[c];
            if (!isfinite(v))
                continue;
            double h = (H - TOP - BOT) * v / hi;
            fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\">"
                       "<title>", L + cw * (c + 0.1) + bw * j, H - BOT - h, bw, h, g[j].color);
            text_esc(f, g[j].name);
            fputc(' ', f);
            text_esc(f, cats[c]);
            fprintf(f, ": %g</title></rect>\n", v);
        }
    }
    for (int j = 0; j < ng; j++)
        legend(f, j, g[j].name, g[j].color, 0);
    return finish(f, path, err);
}
