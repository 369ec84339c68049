/* cmd_info.c — `charrnn info`: a checkpoint's model, vocabulary and training so far, as text or one JSON
 * object.
 * Must not know: the library's internals (it includes rnn.h only), any other command. */
#define _POSIX_C_SOURCE 200809L
#include "cmd.h"
#include "cli.h"
#include "out.h"
#include "rnn.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* info's report as text (one "name: value" line per field). */
static void info_text(const char *model, rnn_model *m, const rnn_resume *rs) {
    const rnn_config *k = rnn_model_config(m);
    const rnn_vocab *v = rnn_model_vocab(m);
    const rnn_progress *p = rnn_model_progress(m);
    printf("checkpoint:  %s\n", model);
    printf("cell:        %s\nlayers:      %d\nhidden:      %d\n", rnn_cell_name(k->cell), k->layers,
           k->hidden);
    printf("direction:   %s\n", k->bidir ? "bidirectional (fill; val loss is the cloze loss)" : "forward");
    printf("vocabulary:  %d %s%s\n", v->size, v->unit == RNN_UNIT_BYTE ? "bytes" : "UTF-8 characters",
           v->unit == RNN_UNIT_BYTE && v->utf8 ? " (of valid UTF-8: samples stay valid UTF-8)" : "");
    printf("parameters:  %zu\n", rnn_model_nparams(m));
    printf("precision:   %s\n",
           k->precision == RNN_PREC_BF16 ? "bf16 (bfloat16 products, FP32 sums)" : "fp32");
    printf("training:    batch %d, seq %d, %s lr %g (decay %g), clip %g, dropout %g, val %g, seed %llu\n",
           k->batch, k->seq, optim_names[k->optim], k->lr, k->lr_decay, k->clip, k->dropout, k->val_frac,
           (unsigned long long)k->seed);
    if (k->cell == RNN_CELL_LSTM) printf("init:        forget-gate bias %g\n", k->forget_bias);
    printf("steps:       %llu (%llu characters, %.1f s)\n", (unsigned long long)p->step,
           (unsigned long long)p->chars, p->seconds);
    if (isnan(p->last_val)) printf("val loss:    none\n");
    else
        printf("val loss:    %.4f nats/char (%.3f bits/char); best %.4f\n", p->last_val,
               p->last_val / log(2.0), p->best_val);
    const rnn_origin *o = rnn_model_origin(m);
    if (o) {
        char bv[40] = "no validation";
        if (!isnan(o->best_val)) snprintf(bv, sizeof bv, "best val %.4f", o->best_val);
        printf("origin:      fine-tuned from %s (%llu steps, %d symbols, %s)\n", o->name,
               (unsigned long long)o->step, o->vocab_size, bv);
    }
    if (rs) {
        rnn_schedule sc;
        rnn_resume_schedule(rs, &sc);
        printf("schedule:    %s", rnn_schedule_names()[sc.kind]);
        if (sc.kind != RNN_SCHED_CONSTANT) printf(" to %g of the peak", sc.floor);
        printf(", warm-up %llu steps; ", (unsigned long long)sc.warmup);
        if (sc.ema > 0) printf("averaged weights (decay %g)\n", sc.ema);
        else printf("no averaging\n");
        printf("resumable:   yes (learning rate now %g", rnn_resume_lr(rs));
        if (rnn_resume_shards(rs) > 1) printf("; --shards %d", rnn_resume_shards(rs));
        printf(")\n");
    } else {
        printf("resumable:   no (weights only)\n");
    }
}

/* The same report as one JSON object: every field of info_text, numbers as numbers, null where info_text says
 * "none" (a field added to one must be added to the other). */
static void info_json(const char *model, rnn_model *m, const rnn_resume *rs) {
    const rnn_config *k = rnn_model_config(m);
    const rnn_vocab *v = rnn_model_vocab(m);
    const rnn_progress *p = rnn_model_progress(m);
    json_obj j;
    json_begin(&j, stdout);
    json_str(&j, "checkpoint", model);
    json_str(&j, "cell", rnn_cell_name(k->cell));
    json_u64(&j, "layers", (uint64_t)k->layers);
    json_u64(&j, "hidden", (uint64_t)k->hidden);
    json_bool(&j, "bidirectional", k->bidir != 0);   /* info_text's direction */
    json_u64(&j, "vocabulary", (uint64_t)v->size);
    json_str(&j, "unit", v->unit == RNN_UNIT_BYTE ? "bytes" : "UTF-8 characters");
    json_u64(&j, "parameters", rnn_model_nparams(m));
    json_str(&j, "precision", rnn_precision_name(k->precision));
    json_u64(&j, "batch", (uint64_t)k->batch);
    json_u64(&j, "seq", (uint64_t)k->seq);
    json_str(&j, "optim", optim_names[k->optim]);
    json_float(&j, "lr", k->lr);
    json_float(&j, "lr_decay", k->lr_decay);
    json_float(&j, "clip", k->clip);
    json_float(&j, "dropout", k->dropout);
    json_float(&j, "val", k->val_frac);
    json_u64(&j, "seed", k->seed);
    json_float(&j, "forget_bias", k->forget_bias);
    json_u64(&j, "steps", p->step);
    json_u64(&j, "characters", p->chars);
    json_num(&j, "seconds", p->seconds);
    json_float(&j, "val_loss", p->last_val);
    json_num(&j, "val_bits", p->last_val / log(2.0));
    json_float(&j, "best_val_loss", p->best_val);
    const rnn_origin *o = rnn_model_origin(m);   /* origin_*: null for a model trained from scratch */
    json_str(&j, "origin", o ? o->name : NULL);
    if (o) {
        json_u64(&j, "origin_steps", o->step);
        json_u64(&j, "origin_vocabulary", (uint64_t)o->vocab_size);
    } else {
        json_str(&j, "origin_steps", NULL);
        json_str(&j, "origin_vocabulary", NULL);
    }
    json_float(&j, "origin_best_val_loss", o ? o->best_val : NAN);
    json_bool(&j, "resumable", rs != NULL);
    if (rs) json_float(&j, "lr_now", rnn_resume_lr(rs));
    else json_str(&j, "lr_now", NULL);
    rnn_schedule sc;   /* the training state's: null for a weights-only file */
    if (rs) rnn_resume_schedule(rs, &sc);
    json_str(&j, "lr_schedule", rs ? rnn_schedule_names()[sc.kind] : NULL);
    json_float(&j, "lr_floor", rs ? sc.floor : NAN);
    if (rs) json_u64(&j, "warmup", sc.warmup);
    else json_str(&j, "warmup", NULL);
    json_float(&j, "ema", rs ? sc.ema : NAN);
    if (rs) json_u64(&j, "shards", (uint64_t)rnn_resume_shards(rs));
    else json_str(&j, "shards", NULL);
    json_end(&j);
}

int cmd_info(int argc, char **argv) {
    const char *model = DEFAULT_MODEL;
    int as_json = 0;
    opt opts[] = {
        OPT_STR("model", 'm', &model, "FILE", "checkpoint to describe (default {default})"),
        OPT_FLAG("json", 0, &as_json,
                 "the same fields as one JSON object (numbers as numbers, null for none)"),
    };
    command c = COMMAND("info", "[options]", "Describe a checkpoint: model, vocabulary, training so far.",
                        opts);
    const char *pos[1];
    int npos, r = parse_args(&c, argc, argv, pos, 0, &npos);
    if (r || cli_args_only) return r < 0 ? 0 : r;
    rnn_err err;
    rnn_model *m;
    rnn_resume *rs;
    if (default_model_missing(model)) return 1;
    if (rnn_load(model, &m, &rs, err)) return fail("%s", err);
    if (as_json) info_json(model, m, rs);
    else info_text(model, m, rs);
    rnn_resume_free(rs);
    rnn_model_free(m);
    return 0;
}
