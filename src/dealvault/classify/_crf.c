/* Native kernel of the free-text name and address model (classify/ner.py): hashed features,
 * state scores and Viterbi for a batch of pieces of text in one call, with the GIL released.
 *
 * It computes exactly what ner.py's numpy path computes: the same feature hash, the same
 * single-precision sums in the same order, the same tie-breaking (the lower label wins), so
 * both give the same labels; tests/classify/test_ner.py holds them to it. Optional at build
 * time: without a C compiler the package falls back to the numpy path.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LABELS 16
#define PAD_CODE 1

static const uint64_t MIX0 = 0x9E3779B97F4A7C15ULL;
static const uint64_t MIX1 = 0xC2B2AE3D27D4EB4FULL;
static const uint64_t MIX2 = 0x165667B19E3779F9ULL;

static inline uint64_t feature_row(uint64_t tmpl, uint64_t a, uint64_t b, uint64_t mask) {
    uint64_t m = (((tmpl + 1) * MIX0) ^ a) * MIX1;
    m = (m ^ b) * MIX2;
    m ^= m >> 29;
    return m & mask;
}

/* ner.char_class: 0 padding, 1 Han, 2 digit, 3 Latin letter, 4 space or punctuation, 5 other */
static inline int64_t char_class(uint32_t c) {
    if (c == PAD_CODE) return 0;
    if ((c >= 48 && c <= 57) || (c >= 0xFF10 && c <= 0xFF19)) return 2;
    if (c < 48 || (c >= 0x3000 && c <= 0x303F) || c >= 0xFF00) return 4;
    if (c < 128 && ((c | 32) >= 97) && ((c | 32) <= 122)) return 3;
    if ((c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF)) return 1;
    return 5;
}

static inline uint32_t code_at(const uint32_t *piece, Py_ssize_t n, Py_ssize_t i) {
    return (i < 0 || i >= n) ? PAD_CODE : piece[i];
}

typedef struct {
    const uint64_t *present;  /* one bit per table row: 1 where the row has a weight */
    const uint32_t *rank;     /* per 64-row word: the rows present before it */
    const float *weights;     /* the rows present, in order, x labels */
    const float *transitions; /* from x to */
    const int64_t *templates; /* per template: three offsets and how many are used (1-3) */
    Py_ssize_t n_templates;
    Py_ssize_t labels;
    uint64_t mask;
} Model;

/* The weights of table row r, or NULL where the row is all zeros (adding it changes
 * nothing). The table is kept compact: a bitmap of the rows present and a count per word
 * find a row among the present ones, so the lookups stay within the caches. */
static inline const float *row_weights(const Model *m, uint64_t r) {
    uint64_t word = m->present[r >> 6], bit = (uint64_t)1 << (r & 63);
    if (!(word & bit)) return NULL;
    return m->weights + ((uint64_t)m->rank[r >> 6] + (uint64_t)__builtin_popcountll(word & (bit - 1))) * m->labels;
}

/* Labels of one piece of n codes into out; scores (n x labels), back (n x labels) and rows
 * (n x (templates + 1)) are scratch space. The table rows of every feature of the piece are
 * found first and fetched ahead (the table is larger than the caches: the misses overlap),
 * then added up per character in template order. */
static void tag_piece(const Model *m, const uint32_t *piece, Py_ssize_t n, int8_t *out,
                      float *scores, int8_t *back, uint64_t *rows) {
    const Py_ssize_t k = m->labels, per = m->n_templates + 1;
    for (Py_ssize_t i = 0; i < n; i++) {
        uint64_t *r = rows + i * per;
        for (Py_ssize_t t = 0; t < m->n_templates; t++) {
            const int64_t *tp = m->templates + 4 * t;
            uint64_t a = code_at(piece, n, i + tp[0]);
            uint64_t b = tp[3] < 2 ? 0 : code_at(piece, n, i + tp[1]);
            if (tp[3] == 3) b = (b << 21) | code_at(piece, n, i + tp[2]);
            r[t] = feature_row((uint64_t)t, a, b, m->mask);
            __builtin_prefetch(m->present + (r[t] >> 6));
        }
        int64_t triple = char_class(code_at(piece, n, i - 1)) * 36 +
                         char_class(code_at(piece, n, i)) * 6 + char_class(code_at(piece, n, i + 1));
        r[m->n_templates] = feature_row((uint64_t)m->n_templates, (uint64_t)triple, 0, m->mask);
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        float *s = scores + i * k;
        const uint64_t *r = rows + i * per;
        for (Py_ssize_t y = 0; y < k; y++) s[y] = 0.0f;
        for (Py_ssize_t t = 0; t < per; t++) {
            const float *w = row_weights(m, r[t]);
            if (w != NULL)
                for (Py_ssize_t y = 0; y < k; y++) s[y] += w[y];
        }
    }
    float best[MAX_LABELS], next[MAX_LABELS];
    for (Py_ssize_t y = 0; y < k; y++) best[y] = scores[y];
    for (Py_ssize_t i = 1; i < n; i++) {
        for (Py_ssize_t to = 0; to < k; to++) {
            float top = best[0] + m->transitions[to];
            int8_t from = 0;
            for (Py_ssize_t f = 1; f < k; f++) {
                float c = best[f] + m->transitions[f * k + to];
                if (c > top) { top = c; from = (int8_t)f; }
            }
            back[i * k + to] = from;
            next[to] = top + scores[i * k + to];
        }
        memcpy(best, next, sizeof(float) * (size_t)k);
    }
    int8_t current = 0;
    for (Py_ssize_t y = 1; y < k; y++) if (best[y] > best[current]) current = (int8_t)y;
    for (Py_ssize_t i = n - 1; i >= 0; i--) {
        out[i] = current;
        if (i > 0) current = back[i * k + current];
    }
}

static int check(Py_buffer *view, Py_ssize_t itemsize, const char *what) {
    if (view->len % itemsize != 0) {
        PyErr_Format(PyExc_ValueError, "%s: %zd bytes is not a whole number of items", what, view->len);
        return 0;
    }
    return 1;
}

PyDoc_STRVAR(tag_doc,
"tag(codes, starts, sizes, present, rank, weights, transitions, templates, bits, out)\n\n"
"Write the label of every character of every piece into out (int8, one per code): codes are\n"
"uint32 code points, pieces run from starts[j] for sizes[j] codes (int64); the table of\n"
"2**bits rows is given compact: present (uint64 bitmap of the non-zero rows), rank (uint32\n"
"per word: rows present before it) and weights (float32, the present rows x labels);\n"
"float32 rows x labels, transitions float32 labels x labels (from x to), templates int64\n"
"rows (three offsets, how many of them are used); the class-triple template comes last.");

static PyObject *tag(PyObject *self, PyObject *args) {
    Py_buffer codes, starts, sizes, present, rank, weights, transitions, templates, out;
    int bits;
    if (!PyArg_ParseTuple(args, "y*y*y*y*y*y*y*y*iw*", &codes, &starts, &sizes, &present, &rank,
                          &weights, &transitions, &templates, &bits, &out))
        return NULL;
    PyObject *result = NULL;
    float *scores = NULL;
    int8_t *back = NULL;
    uint64_t *rows = NULL;
    if (!check(&codes, 4, "codes") || !check(&starts, 8, "starts") || !check(&sizes, 8, "sizes") ||
        !check(&present, 8, "present") || !check(&rank, 4, "rank") ||
        !check(&weights, 4, "weights") || !check(&transitions, 4, "transitions") ||
        !check(&templates, 32, "templates"))
        goto done;
    Py_ssize_t n_codes = codes.len / 4, pieces = starts.len / 8;
    Py_ssize_t labels = 0;
    while ((labels + 1) * (labels + 1) <= transitions.len / 4) labels++;
    if (labels < 1 || labels > MAX_LABELS || labels * labels != transitions.len / 4) {
        PyErr_SetString(PyExc_ValueError, "transitions: not a square of at most 16 labels");
        goto done;
    }
    Py_ssize_t words = bits >= 6 && bits <= 40 ? ((Py_ssize_t)1 << bits) / 64 : 0;
    if (words == 0 || present.len / 8 != words || rank.len / 4 != words ||
        (Py_ssize_t)((const uint32_t *)rank.buf)[words - 1] +
                __builtin_popcountll(((const uint64_t *)present.buf)[words - 1]) !=
            weights.len / 4 / labels ||
        (weights.len / 4) % labels != 0) {
        PyErr_SetString(PyExc_ValueError,
                        "present, rank, weights: not a compact table of 2**bits rows");
        goto done;
    }
    if (sizes.len != starts.len || out.len != n_codes) {
        PyErr_SetString(PyExc_ValueError, "sizes or out: lengths do not match starts and codes");
        goto done;
    }
    const int64_t *st = starts.buf, *sz = sizes.buf;
    Py_ssize_t longest = 1;
    for (Py_ssize_t j = 0; j < pieces; j++) {
        if (st[j] < 0 || sz[j] < 0 || st[j] > n_codes - sz[j]) {
            PyErr_Format(PyExc_ValueError, "piece %zd lies outside the codes", j);
            goto done;
        }
        if (sz[j] > longest) longest = sz[j];
    }
    scores = malloc(sizeof(float) * (size_t)(longest * labels));
    back = malloc((size_t)(longest * labels));
    rows = malloc(sizeof(uint64_t) * (size_t)(longest * (templates.len / 32 + 1)));
    if (scores == NULL || back == NULL || rows == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    Model m = {present.buf, rank.buf, weights.buf, transitions.buf, templates.buf, templates.len / 32, labels,
               ((uint64_t)1 << bits) - 1};
    const uint32_t *cp = codes.buf;
    int8_t *labels_out = out.buf;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t j = 0; j < pieces; j++)
        if (sz[j] > 0) tag_piece(&m, cp + st[j], sz[j], labels_out + st[j], scores, back, rows);
    Py_END_ALLOW_THREADS
    result = Py_None;
    Py_INCREF(result);
done:
    free(scores);
    free(back);
    free(rows);
    PyBuffer_Release(&codes);
    PyBuffer_Release(&starts);
    PyBuffer_Release(&sizes);
    PyBuffer_Release(&present);
    PyBuffer_Release(&rank);
    PyBuffer_Release(&weights);
    PyBuffer_Release(&transitions);
    PyBuffer_Release(&templates);
    PyBuffer_Release(&out);
    return result;
}

static PyMethodDef methods[] = {
    {"tag", tag, METH_VARARGS, tag_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_crf",
    "Native kernel of the free-text name and address model (see classify/ner.py).", -1, methods,
};

PyMODINIT_FUNC PyInit__crf(void) { return PyModule_Create(&module); }
