/* timer.h - monotonic wall clock. */
#ifndef TLM_TIMER_H
#define TLM_TIMER_H
#include <time.h>

/* Seconds from an arbitrary fixed point, monotonic. */
static inline double tlm_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Seconds elapsed since t0 (a tlm_now() value). */
static inline double tlm_now_since(double t0)
{
    return tlm_now() - t0;
}

#endif
