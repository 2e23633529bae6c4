/* Row pipeline: runs a chain of row-wise layers so that each intermediate
 * tensor lives in a ring of a few rows instead of a whole tensor. The order
 * of computation changes, the arithmetic does not: results are identical to
 * running the layers one after the other. */
#include "tkw_kernels.h"

typedef struct {
    int32_t in_h, out_h, stride_h, pad_top, window_h;
} geometry_t;

static geometry_t stage_geometry(const tkw_stage_t *s)
{
    geometry_t g;
    if (s->kind == TKW_STAGE_CONV2D || s->kind == TKW_STAGE_DEPTHWISE_CONV2D) {
        const tkw_conv_params_t *p = (const tkw_conv_params_t *)s->params;
        g.in_h = p->in_h;
        g.out_h = p->out_h;
        g.stride_h = p->stride_h;
        g.pad_top = p->pad_top;
        g.window_h = (p->filter_h - 1) * p->dilation_h + 1;
    } else if (s->kind == TKW_STAGE_MEAN_HW) {
        const tkw_mean_params_t *p = (const tkw_mean_params_t *)s->params;
        g.in_h = p->in_h;
        g.out_h = p->in_h; /* one step per input row */
        g.stride_h = 1;
        g.pad_top = 0;
        g.window_h = 1;
    } else {
        const tkw_pool_params_t *p = (const tkw_pool_params_t *)s->params;
        g.in_h = p->in_h;
        g.out_h = p->out_h;
        g.stride_h = p->stride_h;
        g.pad_top = p->pad_top;
        g.window_h = p->filter_h;
    }
    return g;
}

static void run_rows(const tkw_stage_t *s, int32_t y0, int32_t y1)
{
    switch (s->kind) {
    case TKW_STAGE_CONV2D:
        tkw_conv2d_rows((const tkw_conv_params_t *)s->params, s->input, s->output, y0, y1);
        break;
    case TKW_STAGE_DEPTHWISE_CONV2D:
        tkw_depthwise_conv2d_rows((const tkw_conv_params_t *)s->params, s->input, s->output, y0, y1);
        break;
    case TKW_STAGE_AVERAGE_POOL2D:
        tkw_average_pool2d_rows((const tkw_pool_params_t *)s->params, s->input, s->output, y0, y1);
        break;
    case TKW_STAGE_MAX_POOL2D:
        tkw_max_pool2d_rows((const tkw_pool_params_t *)s->params, s->input, s->output, y0, y1);
        break;
    case TKW_STAGE_MEAN_HW:
        tkw_mean_hw_rows((const tkw_mean_params_t *)s->params, s->input, s->output, s->scratch, y0, y1);
        break;
    }
}

/* Can a stage of geometry g that has made `done` rows compute its next one,
 * given the rows its producer has made (`produced`; -1 for the first stage)? */
static int ready(const geometry_t *g, int32_t done, int32_t produced)
{
    int32_t last_needed;
    if (done >= g->out_h) {
        return 0;
    }
    if (produced < 0) {
        return 1;
    }
    last_needed = done * g->stride_h - g->pad_top + g->window_h - 1;
    last_needed = last_needed < g->in_h - 1 ? last_needed : g->in_h - 1;
    return produced > last_needed;
}

#define CACHED_STAGES 16 /* geometry of up to this many stages is computed once per run */

void tkw_run_pipeline(const tkw_stage_t *stages, int32_t count, int32_t *rows_done)
{
    geometry_t cached[CACHED_STAGES];
    const int32_t last_rows = stage_geometry(&stages[count - 1]).out_h;
    int32_t i, start;
    for (i = 0; i < count; ++i) {
        rows_done[i] = 0;
        if (i < CACHED_STAGES) {
            cached[i] = stage_geometry(&stages[i]);
        }
    }
    /* Always advance the deepest stage that can: a ring row is only
     * overwritten once its consumer no longer needs it. Once stage i has run,
     * no stage deeper than i + 1 can have become ready (neither it nor its
     * producer changed), so the search for the deepest ready stage starts at
     * i + 1: the same order of rows, fewer checks. */
    start = count - 1;
    while (rows_done[count - 1] < last_rows) {
        for (i = start; i >= 0; --i) {
            const geometry_t g = i < CACHED_STAGES ? cached[i] : stage_geometry(&stages[i]);
            if (ready(&g, rows_done[i], i > 0 ? rows_done[i - 1] : -1)) {
                run_rows(&stages[i], rows_done[i], rows_done[i] + 1);
                ++rows_done[i];
                start = i + 1 < count ? i + 1 : count - 1;
                break;
            }
        }
    }
}

void tkw_run_pipeline_order(const tkw_stage_t *stages, int32_t count, const uint8_t *order, int32_t steps,
                            int32_t *rows_done)
{
    int32_t i;
    for (i = 0; i < count; ++i) {
        rows_done[i] = 0;
    }
    for (i = 0; i < steps; ++i) {
        const int32_t s = order[i];
        run_rows(&stages[s], rows_done[s], rows_done[s] + 1);
        ++rows_done[s];
    }
}
