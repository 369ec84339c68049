/* rnn_net.h — private to the library: the model's internals that the model (rnn.c), the trainer (rnn_train.c)
 * and the generator (rnn_gen.c) share: the named views of the flat parameter buffer, the workspace of one chunk,
 * and the forward/backward entry points. The checkpoint code does not need it (it sees rnn_impl.h only). */
#ifndef RNN_NET_H
#define RNN_NET_H

#include "rnn_impl.h"
#include "rnn_mat.h"

typedef struct {
    float *wx;    /* (I, G*H) input weights, I = V for layer 0 (one-hot rows), H above */
    float *wh;    /* (H, G*H) recurrent weights */
    float *b;     /* (G*H)   bias; LSTM gate blocks i,f,g,o; GRU blocks r,z,n */
    float *bhn;   /* (H)     GRU only: bias inside r * (h Wh_n + bhn); NULL otherwise */
} layer_view;

typedef struct {
    layer_view l[RNN_MAX_LAYERS];    /* the forward direction's layers (the only ones of a forward model) */
    layer_view lb[RNN_MAX_LAYERS];   /* bidirectional: the backward direction's layers; all NULL otherwise */
    float *wy;    /* (D*H, V) output projection, D = 2 directions if bidirectional: rows 0..H-1 read the forward
                   * state, rows H..2H-1 the backward one */
    float *by;    /* (V) */
} param_view;

/* Lays out the tensors of config c with vocabulary V on `base` (may be NULL to only count). Returns the count,
 * or 0 if it would not fit in memory arithmetic. */
size_t rnn__param_layout(const rnn_config *c, int V, float *base, param_view *v);

/* The tensors that each stand for two of PyTorch's: the tanh RNN's bias b is nn.RNN's b_ih + b_hh, and the GRU's
 * b holds b_ir + b_hr and b_iz + b_hz in its r and z blocks (its n block is b_in alone; b_hn is bhn): two tensors
 * that always get the same gradient. To take PyTorch's step (docs/quality.md "The tanh RNN's bias
 * parametrisation" and "The GRU at 2000 steps"), such a range moves at twice the learning rate and its
 * gradient counts twice in the clipping norm. Writes them to out (room for RNN_MAX_TWINS) as ranges of the
 * flat buffer that v views from base, in ascending order; returns how many. */
typedef struct { size_t offset, count; } param_range;
#define RNN_MAX_TWINS (2 * RNN_MAX_LAYERS)
size_t rnn__param_twins(const rnn_config *c, const param_view *v, const float *base, param_range *out);

/* Activations and gradients of one (T, B) chunk. Every buffer is time-major; sizes are for Tmax. A bidirectional
 * model's workspace also holds `back`, the backward direction's own stack workspace (no logits), of
 * Tmax + margin - 1 steps: its step r reads the stream reversed (rnn__bidir_inputs), and target t uses its slot Tb - t. */
typedef struct workspace workspace;
struct workspace {
    int Tmax, B;
    int margin;              /* bidirectional: the most symbols of margin `back` has room for */
    int Tb;                  /* in `back`: its steps for the current chunk (set by rnn__bidir_inputs) */
    workspace *back;         /* bidirectional: the backward direction's stack, NULL otherwise */
    float *topb;             /* bidirectional (T, B, H): back's top states in target order, then their gradient */
    int32_t *x, *y;          /* (T, B) input and target ids */
    float *a[RNN_MAX_LAYERS];    /* (T, B, GH) gate pre-activations, then activations (LSTM i,f,g,o; GRU r,z,n);
                                  * RNN: the pre-activations are built in h[l]'s slots 1..T and tanh'd in place */
    float *h[RNN_MAX_LAYERS];    /* (T+1, B, H) hidden outputs; block 0 is the state carried in */
    float *c[RNN_MAX_LAYERS];    /* LSTM (T+1, B, H) cells; block 0 carried in */
    float *tc[RNN_MAX_LAYERS];   /* LSTM (T, B, H) tanh(c) */
    float *hn[RNN_MAX_LAYERS];   /* GRU (T, B, H) h Wh_n + bhn */
    float *mask[RNN_MAX_LAYERS]; /* dropout (T, B, H) on layer l's input (l >= 1): 0 or 1/(1-p) */
    float *xd[RNN_MAX_LAYERS];   /* dropout (T, B, H) layer l's dropped-out input */
    float *logits;           /* (T*B, V) logits, then probabilities, then d loss / d logits */
    double *rowloss;         /* (T*B) loss of each position */
    float *rec;              /* (B, GH) recurrent product of one step (GRU) */
    /* backward only */
    float *dh;               /* (T, B, H) gradient wrt a layer's outputs (then the layer below's) */
    float *dgx, *dgh;        /* (T, B, GH) gradient wrt gate pre-activations (input side / recurrent side) */
    float *dhc, *dcc, *dht;  /* (B, H) carried d h, carried d c, and this step's total d h */
    mat_packed whp[RNN_MAX_LAYERS];   /* Wh packed (H, GH) for the forward recurrence */
    mat_packed whtp[RNN_MAX_LAYERS];  /* Wh^T packed (GH, H) for the backward recurrence */
    mat_packed wxp[RNN_MAX_LAYERS];   /* inference: Wx packed (H, GH) for layers >= 1 (data NULL otherwise) */
    mat_packed wyp[2];                /* inference with logits: Wy's forward (and backward) rows packed (H, V) */
    void *block;             /* the single allocation all of the above live in */
};

/* Allocates a workspace of Tmax steps x B streams in one block (train: with the backward buffers and, with
 * dropout, the masks; inference: with room for every weight packed, so that no product packs B per call); pool
 * (non-NULL) sets the packed weights' size. A bidirectional config also gets `back`,
 * with room for a margin of rnn_bidi_margin(Tmax). 0, or -1 when out of memory. rnn__ws_free frees both. */
int rnn__ws_init(workspace *w, const rnn_config *c, int V, int Tmax, int B, int train, const mat_pool *pool);
void rnn__ws_free(workspace *w);
/* Runs the next chunks on the first B (<= rnn__ws_init's B) streams; their carried state (slot 0) stays in place. */
void rnn__ws_set_batch(workspace *w, const rnn_config *c, int B);

/* A model's parameters (and, training, gradients) as views, with the pool every product runs on. */
typedef struct {
    const rnn_config *c;
    int V;
    param_view p;        /* parameters */
    param_view g;        /* gradients (training only) */
    mat_pool *pool;
} net;

/* Views of m's parameters (no gradients) on a new pool of `threads` (< 1: one) workers, for inference. The pool
 * is the caller's to free with rnn__mat_pool_free; it is NULL (the caller reports out of memory) if it could not start. */
void rnn__net_for_model(net *n, const rnn_model *m, int threads);

/* Packs every layer's Wh (and Wh^T for training; for inference also Wx and Wy) once per parameter update (both
 * directions). */
void rnn__pack_weights(const net *n, workspace *w);
/* Packs the Wh of the stack `pl` (n->p.l or n->p.lb) into w (a workspace without `back`). */
void rnn__pack_stack(const net *n, const layer_view *pl, workspace *w);
/* Runs the layers of one direction's stack `pl` over T steps of w->x (slot 0 of h[l] and c[l]: the state carried
 * in), no output projection. With train and dropout, draws the masks from *rng. */
void rnn__stack_forward(const net *n, const layer_view *pl, workspace *w, int T, int train, uint64_t *rng);
/* Bidirectional: fills w->back's inputs for the targets src[b*stride + base + 1 + t], t < T, of each stream b:
 * the backward direction reads src[b*stride + base + T + M] down to src[b*stride + base + 2] (M symbols of
 * margin after the last target, which must exist; M <= w->margin), w->back->Tb = T + M - 1 steps. */
void rnn__bidir_inputs(workspace *w, const int32_t *src, size_t stride, size_t base, int T, int M);
/* Runs all layers over T steps of w->x (h[l] block 0 and c[l] block 0 hold the state carried in), then the
 * output projection into w->logits. With train and dropout, draws the masks from *rng. Bidirectional: also the
 * backward stack over the Tb steps rnn__bidir_inputs loaded, from a zero state, and target t's logits read
 * [forward slot t + 1 ; backward slot Tb - t]: the forward state after x_<=t = the symbols before target t,
 * the backward state after the symbols after it. */
void rnn__layers_forward(const net *n, workspace *w, int T, int train, uint64_t *rng);
/* Summed loss (nats) of the first `rows` rows of w->logits against w->y. With grad, replaces the logits by
 * d(loss)/d(logits) * scale, ready for rnn__layers_backward. */
double rnn__softmax_loss(const net *n, workspace *w, int rows, int grad, float scale);
/* Backpropagates the loss gradient in w->logits through the chunk, accumulating into n->g. The gradient stops
 * at the chunk's first step (truncated BPTT). */
void rnn__layers_backward(const net *n, workspace *w, int T);
/* After T steps, the state at slot T becomes slot 0 for the next chunk (BH floats per layer). */
void rnn__carry_state(workspace *w, int L, size_t BH, int T);
/* The zero state in slot 0 (BH floats per layer: h, and c for LSTM), as every stream starts. */
void rnn__zero_state(workspace *w, int L, size_t BH);
/* Loss of ids[1..n) given ids[0..n-1) as one stream with carried state from zero, in chunks of the workspace
 * size; mean nats per symbol. Bidirectional: the cloze loss of the same targets, each chunk a window whose
 * backward direction starts from zero w->margin symbols after it (fewer at the end of ids). */
double rnn__stream_loss(const net *n, workspace *w, const int32_t *ids, size_t count);

#endif
