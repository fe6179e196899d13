/* svg.h - small standalone SVG charts (line and grouped bars) that open in a
 * browser: no scripts, no external files. */
#ifndef TLM_SVG_H
#define TLM_SVG_H
#include <stddef.h>
#include "engine/core/err.h"

typedef struct tlm_svg_series {
    const char *name, *color;
    const double *x, *y; /* NaN y values are gaps */
    size_t n;
    int dashed;
} tlm_svg_series;

/* A line chart of the series at path; errors name the file. */
int tlm_svg_lines(const char *path, const char *title, const char *xlabel, const char *ylabel,
                  const tlm_svg_series *s, int ns, tlm_err *err);

typedef struct tlm_svg_group {
    const char *name, *color;
    const double *v; /* one value per category; NaN: no bar */
} tlm_svg_group;

/* Grouped vertical bars: one group of bars per category, one colour per group. */
int tlm_svg_bars(const char *path, const char *title, const char *ylabel, const char *const *cats,
                 int ncat, const tlm_svg_group *g, int ng, tlm_err *err);

#endif
