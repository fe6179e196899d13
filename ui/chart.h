/* chart.h - line charts as pure functions from numbers to cells.
 *
 * A chart of training and validation loss against step: the series are
 * binned into sample columns (braille: two per cell, four dot rows per cell;
 * ASCII: one per cell and row), the training loss is smoothed by an EMA with
 * debias (TensorBoard's smoothing), the raw minimum and maximum of each
 * column are kept as an envelope so a spike survives downsampling, NaN and
 * Inf values are marked above the plot instead of being dropped, and the y
 * axis is linear or logarithmic. Axes and labels are drawn in the grid. */
#ifndef TLM_UI_CHART_H
#define TLM_UI_CHART_H
#include <stddef.h>
#include <stdint.h>
#include "grid.h"

/* A series: n points (x[i], y[i]), x increasing; y may be NaN or +-Inf. */
typedef struct ui_series {
    const double *x, *y;
    size_t n;
} ui_series;

typedef struct ui_chart_opts {
    double smooth;     /* EMA weight in [0, 1) for the training series; 0: raw */
    int logy;          /* 1: logarithmic y axis (values <= 0 sit on the floor) */
    double x_lo, x_hi; /* x window; when x_hi <= x_lo the data's own range */
    int envelope;      /* 1: draw each column's raw min..max of the training series */
    int utf8;          /* 1: braille dots and box-drawing axes; 0: ASCII */
} ui_chart_opts;

/* What was drawn, for titles, legends and tests. */
typedef struct ui_chart_info {
    double x_lo, x_hi, y_lo, y_hi;      /* ranges of the plot area */
    int plot_x, plot_y, plot_w, plot_h; /* the plot area in grid cells */
    int sub_w, sub_h;                   /* samples per cell across, dot rows per cell */
    int n_nan, n_inf;                   /* non-finite values inside the x window */
    double last_train, last_val;        /* last finite smoothed train / raw val (NaN: none) */
} ui_chart_info;

/* Column flags of non-finite values. */
enum { UI_BIN_NAN = 1, UI_BIN_PINF = 2, UI_BIN_NINF = 4 };

/* One sample column of a binned series. */
typedef struct ui_bin {
    int n;          /* finite values that fell into the column */
    double lo, hi;  /* their raw minimum and maximum */
    double mean;    /* mean of the smoothed values (the line) */
    uint8_t flags;  /* UI_BIN_* of the non-finite values in the column */
} ui_bin;

/* Exponential moving average with debias: e_t = w e_(t-1) + (1-w) y_t,
 * out_t = e_t / (1 - w^k) with k the finite values seen so far, so the first
 * output equals the first value. Non-finite y are copied to out unchanged and
 * do not enter the average. w outside [0, 1) is clamped. out may be y. */
void ui_ema(const double *y, size_t n, double w, double *out);

/* Bin points into ncol sample columns covering [x_lo, x_hi] (x_hi > x_lo);
 * points outside the window are skipped. raw gives lo/hi and the flags,
 * smooth (may equal raw) the mean. */
void ui_chart_bin(const double *x, const double *raw, const double *smooth, size_t n,
                  double x_lo, double x_hi, ui_bin *bins, int ncol);

/* Dot row (0 = top, rows-1 = bottom) of value v on an axis [lo, hi], linear or
 * logarithmic (log: lo > 0 required; v <= 0 maps to the bottom). Values
 * outside the range are clamped. */
int ui_chart_row(double v, double lo, double hi, int logy, int rows);

/* Compact number for axis labels, at most 6 characters ("8.314", "0.0312",
 * "1.2e-05"); "nan", "inf", "-inf" for non-finite values. */
void ui_fmt_value(double v, char *buf, size_t n);

/* Compact count for step labels: "950", "1.5k", "20k", "1.2M". */
void ui_fmt_count(double v, char *buf, size_t n);

/* Draw the chart into the rectangle (x, y, w, h) of g: y labels and axis on
 * the left, x axis and step labels (integers: x counts steps) on the two
 * bottom rows, the plot in the rest; without a finite value, a note. val
 * and info may be NULL. Returns 0, or -1 when the rectangle is too small for
 * a chart (under 16 x 5), in which case it holds a short note instead. */
int ui_chart_draw(ui_grid *g, int x, int y, int w, int h, const ui_series *train,
                  const ui_series *val, const ui_chart_opts *o, ui_chart_info *info);

/* Sparkline of a series in one row of w cells starting at (x, y): block
 * heights (UTF-8: eight levels; ASCII: "_.-'" four) scaled to the series'
 * finite range, NaN/Inf as 'x'. The last w values are shown. */
void ui_sparkline(ui_grid *g, int x, int y, int w, const double *v, size_t n, int role,
                  int utf8);

#endif
