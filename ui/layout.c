/* layout.c - pane rectangles for a terminal size and a view. */
#include "layout.h"
#include <string.h>

const char *ui_view_name(ui_view v)
{
    static const char *names[UI_VIEW_COUNT] = {"main", "chart", "layers", "inspect", "help"};
    return v >= 0 && v < UI_VIEW_COUNT ? names[v] : "?";
}

static ui_rect rect(int x, int y, int w, int h)
{
    return (ui_rect){x, y, w, h};
}

/* Width of the bars pane beside the chart in the main view. */
static int bars_width(int w)
{
    int b = w * 45 / 100;
    if (b > 64)
        b = 64;
    return b;
}

void ui_layout_compute(ui_layout *l, int w, int h, ui_view v)
{
    memset(l, 0, sizeof *l);
    if (w < UI_MIN_W || h < UI_MIN_H)
        return;
    l->ok = 1;
    l->status = rect(0, 0, w, 1);
    l->prompt = rect(0, h - 1, w, 1);
    l->keys = rect(0, h - 2, w, 1);
    int body = h - 3;  /* rows between the status line and the key bar */
    int top = v == UI_VIEW_MAIN ? body * 3 / 5 : v == UI_VIEW_INSPECT ? body * 3 / 4
                                                                      : body * 2 / 3;
    if (body - top < 5)
        top = body - 5;
    ui_rect upper = rect(0, 1, w, top);
    l->output = rect(0, 1 + top, w, body - top);
    switch (v) {
    case UI_VIEW_MAIN: {
        int bw = bars_width(w);
        l->chart = rect(0, 1, w - bw - 1, top);
        l->bars = rect(w - bw, 1, bw, top);
        break;
    }
    case UI_VIEW_CHART: l->chart = upper; break;
    case UI_VIEW_LAYERS: l->bars = upper; break;
    case UI_VIEW_INSPECT: l->inspect = upper; break;
    default: l->help = upper; break;
    }
}
