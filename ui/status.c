/* status.c - status line and function-key bar. Pure. */
#include "status.h"
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "chart.h"

const char *ui_state_word(const tlm_snapshot *s, int *role)
{
    int r = UI_R_PAUSED;
    const char *w = "PAUSED";
    if (s->saves_pending > 0 && s->state != TLM_SESS_STOPPED)
        w = "SAVING", r = UI_R_PAUSED;
    else if (s->state == TLM_SESS_RUNNING)
        w = "RUNNING", r = UI_R_RUNNING;
    else if (s->state == TLM_SESS_ERROR)
        w = "ERROR", r = UI_R_ALERT;
    else if (s->state == TLM_SESS_STOPPED)
        w = "STOPPED", r = UI_R_ALERT;
    if (role)
        *role = r;
    return w;
}

void ui_fmt_duration(double s, char *buf, size_t n)
{
    if (!isfinite(s) || s < 0)
        snprintf(buf, n, "--");
    else if (s < 60)
        snprintf(buf, n, "%ds", (int)s);
    else if (s < 3600)
        snprintf(buf, n, "%dm%02ds", (int)s / 60, (int)s % 60);
    else if (s < 100 * 3600)
        snprintf(buf, n, "%dh%02dm", (int)(s / 3600), (int)s % 3600 / 60);
    else
        snprintf(buf, n, "%dd%02dh", (int)(s / 86400), (int)fmod(s, 86400) / 3600);
}

double ui_eta(const tlm_snapshot *s)
{
    double per_step = (double)s->batch * s->ctx;
    if (!(s->tok_s > 0) || !(per_step > 0))
        return NAN;
    double left = (double)s->steps - (double)s->step;
    return left > 0 ? left * per_step / s->tok_s : 0;
}

/* A field of the status line; rank 0 always shows, higher ranks go first
 * when the line is too narrow. */
typedef struct field {
    char text[64];
    int role, rank;
} field;

static int fields_width(const field *f, int n, int max_rank, int sep)
{
    int w = 0, k = 0;
    for (int i = 0; i < n; i++)
        if (f[i].rank <= max_rank)
            w += (int)strlen(f[i].text) + (k++ ? sep : 0);
    return w + 2;
}

static int build_fields(const ui_status_in *in, field *f)
{
    const tlm_snapshot *s = in->snap;
    char a[24], b[24];
    int n = 0, role;
    const char *word = ui_state_word(s, &role);
    if (in->note)
        word = in->note, role = UI_R_ALERT;
    snprintf(f[n].text, sizeof f[n].text, "%.40s", in->run && *in->run ? in->run : "tlm");
    f[n].role = UI_R_STATUS, f[n++].rank = 2;
    snprintf(f[n].text, sizeof f[n].text, " %s ", word);
    f[n].role = role, f[n++].rank = 0;
    snprintf(f[n].text, sizeof f[n].text, "step %lld/%d", (long long)s->step, s->steps);
    f[n].role = UI_R_STATUS, f[n++].rank = 0;
    if (isfinite(s->train_loss)) {
        snprintf(f[n].text, sizeof f[n].text, "loss %.4f", s->train_loss);
        f[n].role = UI_R_STATUS, f[n++].rank = 6;
    }
    ui_fmt_count(s->tokens, a, sizeof a);
    snprintf(f[n].text, sizeof f[n].text, "%s tok", a);
    f[n].role = UI_R_STATUS, f[n++].rank = 4;
    ui_fmt_count(s->tok_s, a, sizeof a);
    snprintf(f[n].text, sizeof f[n].text, "%s tok/s", a);
    f[n].role = UI_R_STATUS, f[n++].rank = 1;
    snprintf(f[n].text, sizeof f[n].text, "lr %.1e", (double)s->lr);
    f[n].role = UI_R_STATUS, f[n++].rank = 3;
    ui_fmt_duration(in->elapsed, a, sizeof a);
    ui_fmt_duration(ui_eta(s), b, sizeof b);
    snprintf(f[n].text, sizeof f[n].text, "%s ETA %s", a, b);
    f[n].role = UI_R_STATUS, f[n++].rank = 1;
    snprintf(f[n].text, sizeof f[n].text, "%d thr", in->threads);
    f[n].role = UI_R_STATUS, f[n++].rank = 5;
    return n;
}

void ui_status_draw(ui_grid *g, int y, int w, const ui_status_in *in)
{
    field f[12];
    int n = build_fields(in, f), max_rank = 6, sep = 2;
    while (max_rank > 0 && fields_width(f, n, max_rank, sep) > w) {
        if (sep == 2 && fields_width(f, n, max_rank, 1) <= w)
            sep = 1; /* closer together before leaving a field out */
        else
            max_rank--, sep = 2;
    }
    for (int x = 0; x < w; x++)
        ui_grid_put(g, x, y, " ", UI_R_STATUS);
    int x = 1, k = 0;
    for (int i = 0; i < n && x < w; i++) {
        if (f[i].rank > max_rank)
            continue;
        if (k++)
            x += sep;
        x += ui_grid_text(g, x, y, f[i].text, f[i].role, w - x);
    }
}

const ui_key_label *ui_fkeys(int paused, int *n)
{
    static const ui_key_label run[] = {{"F1", "Help"}, {"F2", "Pause"}, {"F3", "Save"},
                                       {"F5", "View"}, {"F6", "Focus"}, {"F10", "Quit"}};
    static const ui_key_label stop[] = {{"F1", "Help"}, {"F2", "Resume"}, {"F3", "Save"},
                                        {"F5", "View"}, {"F6", "Focus"}, {"F10", "Quit"}};
    *n = (int)(sizeof run / sizeof run[0]);
    return paused ? stop : run;
}

void ui_keys_draw(ui_grid *g, int y, int w, const ui_key_label *keys, int n)
{
    int x = 0;
    for (int i = 0; i < n; i++) {
        char lab[32];
        int fkey = keys[i].key[0] == 'F' && keys[i].key[1] >= '0' && keys[i].key[1] <= '9';
        snprintf(lab, sizeof lab, fkey ? "%-6s " : " %s ", keys[i].label);
        int need = (int)strlen(keys[i].key) + (int)strlen(lab);
        if (x + need > w)
            break;
        x += ui_grid_text(g, x, y, keys[i].key, UI_R_NORMAL, w - x);
        x += ui_grid_text(g, x, y, lab, UI_R_KEY, w - x);
    }
}
