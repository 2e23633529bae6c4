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

/* Can stage i compute its next output row from the rows its producer has made? */
static int ready(const tkw_stage_t *stages, const int32_t *rows_done, int32_t i)
{
    const geometry_t g = stage_geometry(&stages[i]);
    int32_t last_needed;
    if (rows_done[i] >= g.out_h) {
        return 0;
    }
    if (i == 0) {
        return 1;
    }
    last_needed = rows_done[i] * g.stride_h - g.pad_top + g.window_h - 1;
    last_needed = last_needed < g.in_h - 1 ? last_needed : g.in_h - 1;
    return rows_done[i - 1] > last_needed;
}

void tkw_run_pipeline(const tkw_stage_t *stages, int32_t count, int32_t *rows_done)
{
    const int32_t last_rows = stage_geometry(&stages[count - 1]).out_h;
    int32_t i;
    for (i = 0; i < count; ++i) {
        rows_done[i] = 0;
    }
    /* Always advance the deepest stage that can: a ring row is only
     * overwritten once its consumer no longer needs it. */
    while (rows_done[count - 1] < last_rows) {
        for (i = count - 1; i >= 0; --i) {
            if (ready(stages, rows_done, i)) {
                run_rows(&stages[i], rows_done[i], rows_done[i] + 1);
                ++rows_done[i];
                break;
            }
        }
    }
}
