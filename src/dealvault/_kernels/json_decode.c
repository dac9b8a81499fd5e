/* One file of the batch kernels of dealvault._native (the overview is in module.c). */
#include "kernels.h"

/* ---- package build ------------------------------------------------------------------ */

int
grow(GrowBuf *b, size_t more)
{
    if (b->len + more <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + more)
        cap *= 2;
    unsigned char *p = realloc(b->buf, cap);
    if (p == NULL)
        return -1;
    b->buf = p;
    b->cap = cap;
    return 0;
}

/* Length of the well-formed UTF-8 sequence at s (s[0] >= 0x80), or 0 (RFC 3629: no
 * overlong forms, no surrogates, nothing above U+10FFFF). */
static size_t
utf8_seq(const unsigned char *s, const unsigned char *end)
{
    unsigned char c = s[0];
    size_t n;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF)
        n = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else
        return 0;
    if ((size_t)(end - s) < n || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t k = 2; k < n; k++)
        if (s[k] < 0x80 || s[k] > 0xBF)
            return 0;
    return n;
}

static const unsigned char *
skip_ws(const unsigned char *p, const unsigned char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

static int
hex4(const unsigned char *p, const unsigned char *end, unsigned *out)
{
    unsigned v = 0;
    if (end - p < 4)
        return -1;
    for (int k = 0; k < 4; k++) {
        unsigned char c = p[k];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

/* The JSON string at p (just after its opening quote), unescaped and appended to out.
 * Returns the position after the closing quote, or NULL when the string is malformed,
 * holds an unpaired surrogate or invalid UTF-8, or memory runs out. */
static const unsigned char *
json_string(const unsigned char *p, const unsigned char *end, GrowBuf *out)
{
    while (p < end) {
        const unsigned char *run = p;
        while (p < end && *p != '"' && *p != '\\' && *p >= 0x20 && *p < 0x80)
            p++;
        if (p > run) {
            if (grow(out, (size_t)(p - run)) < 0)
                return NULL;
            memcpy(out->buf + out->len, run, (size_t)(p - run));
            out->len += (size_t)(p - run);
        }
        if (p >= end)
            return NULL;
        unsigned char c = *p;
        if (c == '"')
            return p + 1;
        if (c < 0x20)
            return NULL; /* a raw control character: not JSON */
        if (c >= 0x80) {
            size_t n = utf8_seq(p, end);
            if (n == 0)
                return NULL;
            if (grow(out, n) < 0)
                return NULL;
            memcpy(out->buf + out->len, p, n);
            out->len += n;
            p += n;
            continue;
        }
        /* a backslash */
        if (end - p < 2)
            return NULL;
        unsigned char e = p[1], one;
        p += 2;
        switch (e) {
        case '"': one = '"'; break;
        case '\\': one = '\\'; break;
        case '/': one = '/'; break;
        case 'b': one = '\b'; break;
        case 'f': one = '\f'; break;
        case 'n': one = '\n'; break;
        case 'r': one = '\r'; break;
        case 't': one = '\t'; break;
        case 'u': {
            unsigned cp, lo;
            if (hex4(p, end, &cp) < 0)
                return NULL;
            p += 4;
            if (cp >= 0xDC00 && cp <= 0xDFFF)
                return NULL;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (end - p < 6 || p[0] != '\\' || p[1] != 'u' || hex4(p + 2, end, &lo) < 0 ||
                    lo < 0xDC00 || lo > 0xDFFF)
                    return NULL;
                p += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            if (grow(out, 4) < 0)
                return NULL;
            unsigned char *w = out->buf + out->len;
            if (cp < 0x80) {
                w[0] = (unsigned char)cp;
                out->len += 1;
            } else if (cp < 0x800) {
                w[0] = (unsigned char)(0xC0 | (cp >> 6));
                w[1] = (unsigned char)(0x80 | (cp & 0x3F));
                out->len += 2;
            } else if (cp < 0x10000) {
                w[0] = (unsigned char)(0xE0 | (cp >> 12));
                w[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
                w[2] = (unsigned char)(0x80 | (cp & 0x3F));
                out->len += 3;
            } else {
                w[0] = (unsigned char)(0xF0 | (cp >> 18));
                w[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
                w[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
                w[3] = (unsigned char)(0x80 | (cp & 0x3F));
                out->len += 4;
            }
            continue;
        }
        default:
            return NULL;
        }
        if (grow(out, 1) < 0)
            return NULL;
        out->buf[out->len++] = one;
    }
    return NULL;
}

typedef struct {
    GrowBuf data;
    int64_t *offsets;      /* n + 1 */
    unsigned char *valid;  /* (n + 7) / 8, bit r of row r (least significant first) */
    Py_ssize_t nulls;
} DecodedColumn;

/* Decode one payload (a JSON object of text or null values, keys among the nf fields)
 * into row r of the columns. Returns 0, or -1 when the payload is anything else. */
static int
decode_object(const unsigned char *p, const unsigned char *end, const char **names,
              const Py_ssize_t *name_lens, Py_ssize_t nf, DecodedColumn *cols, Py_ssize_t r,
              unsigned char *seen, GrowBuf *keybuf)
{
    memset(seen, 0, (size_t)nf);
    p = skip_ws(p, end);
    if (p >= end || *p != '{')
        return -1;
    p = skip_ws(p + 1, end);
    if (p < end && *p == '}') {
        p++;
    } else {
        for (;;) {
            if (p >= end || *p != '"')
                return -1;
            keybuf->len = 0;
            p = json_string(p + 1, end, keybuf);
            if (p == NULL)
                return -1;
            const unsigned char *key = keybuf->buf;
            Py_ssize_t klen = (Py_ssize_t)keybuf->len, j = 0;
            while (j < nf && (name_lens[j] != klen ||
                              (klen > 0 && memcmp(names[j], key, (size_t)klen) != 0)))
                j++;
            if (j == nf || seen[j])
                return -1; /* a key outside the fields, or twice */
            seen[j] = 1;
            p = skip_ws(p, end);
            if (p >= end || *p != ':')
                return -1;
            p = skip_ws(p + 1, end);
            if (p < end && *p == '"') {
                p = json_string(p + 1, end, &cols[j].data);
                if (p == NULL)
                    return -1;
                cols[j].valid[r >> 3] |= (unsigned char)(1u << (r & 7));
            } else if (end - p >= 4 && memcmp(p, "null", 4) == 0) {
                p += 4;
            } else {
                return -1;
            }
            p = skip_ws(p, end);
            if (p < end && *p == ',') {
                p = skip_ws(p + 1, end);
                continue;
            }
            if (p < end && *p == '}') {
                p++;
                break;
            }
            return -1;
        }
    }
    return skip_ws(p, end) == end ? 0 : -1;
}

PyDoc_STRVAR(decode_objects_doc,
"decode_objects(payloads, fields) -> [(offsets, data, validity, nulls), ...] or None\n\n"
"Each payload (bytes, or None) a JSON object whose keys are among fields (str) and whose\n"
"values are strings or null: per field, an Arrow large_string column (int64 offsets, UTF-8\n"
"data, validity bitmap, null count); a missing key or a None payload is null. None when\n"
"any payload is something else (another key, a key twice, another value type, malformed\n"
"JSON or UTF-8): the caller then takes the general decoder, which names the fault.");

static PyObject *
decode_objects(PyObject *self, PyObject *args)
{
    PyObject *payloads, *fields, *result = NULL;
    if (!PyArg_ParseTuple(args, "O!O!", &PyList_Type, &payloads, &PyTuple_Type, &fields))
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(payloads), nf = PyTuple_GET_SIZE(fields);
    const char **names = PyMem_Calloc((size_t)nf + 1, sizeof(char *));
    Py_ssize_t *name_lens = PyMem_Calloc((size_t)nf + 1, sizeof(Py_ssize_t));
    const unsigned char **starts = PyMem_Calloc((size_t)n + 1, sizeof(char *));
    Py_ssize_t *lens = PyMem_Calloc((size_t)n + 1, sizeof(Py_ssize_t));
    DecodedColumn *cols = PyMem_Calloc((size_t)nf + 1, sizeof(DecodedColumn));
    unsigned char *seen = PyMem_Calloc((size_t)nf + 1, 1);
    size_t vbytes = (size_t)(n + 7) / 8;
    GrowBuf keybuf = {NULL, 0, 0};
    int failed = 0, oom = 0;
    if (names == NULL || name_lens == NULL || starts == NULL || lens == NULL || cols == NULL ||
        seen == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t j = 0; j < nf; j++) {
        PyObject *f = PyTuple_GET_ITEM(fields, j);
        if (!PyUnicode_Check(f)) {
            PyErr_SetString(PyExc_TypeError, "decode_objects: fields must be str");
            goto done;
        }
        names[j] = PyUnicode_AsUTF8AndSize(f, &name_lens[j]);
        if (names[j] == NULL)
            goto done;
        cols[j].offsets = PyMem_Calloc((size_t)n + 1, sizeof(int64_t));
        cols[j].valid = PyMem_Calloc(vbytes + 1, 1);
        if (cols[j].offsets == NULL || cols[j].valid == NULL) {
            PyErr_NoMemory();
            goto done;
        }
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PyList_GET_ITEM(payloads, i);
        if (item == Py_None)
            continue;
        if (!PyBytes_Check(item)) {
            PyErr_SetString(PyExc_TypeError, "decode_objects: a payload is not bytes");
            goto done;
        }
        starts[i] = (const unsigned char *)PyBytes_AS_STRING(item);
        lens[i] = PyBytes_GET_SIZE(item);
    }
    /* the list holds the payloads alive; the caller does not change it meanwhile */
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n && !failed; i++) {
        if (starts[i] != NULL &&
            decode_object(starts[i], starts[i] + lens[i], names, name_lens, nf, cols, i, seen,
                          &keybuf) < 0)
            failed = 1;
        for (Py_ssize_t j = 0; j < nf; j++)
            cols[j].offsets[i + 1] = (int64_t)cols[j].data.len;
    }
    for (Py_ssize_t j = 0; j < nf && !failed; j++) {
        if (cols[j].data.buf == NULL && grow(&cols[j].data, 1) < 0)
            oom = 1;
        Py_ssize_t set = 0;
        for (size_t b = 0; b < vbytes; b++)
            set += __builtin_popcount(cols[j].valid[b]);
        cols[j].nulls = n - set;
    }
    Py_END_ALLOW_THREADS
    if (failed) {
        /* memory may have run out in json_string too: then the general decoder answers */
        result = Py_None;
        Py_INCREF(result);
        goto done;
    }
    if (oom) {
        PyErr_NoMemory();
        goto done;
    }
    result = PyList_New(nf);
    if (result == NULL)
        goto done;
    for (Py_ssize_t j = 0; j < nf; j++) {
        PyObject *t = Py_BuildValue(
            "(y#y#y#n)", (const char *)cols[j].offsets, (Py_ssize_t)((n + 1) * 8),
            (const char *)cols[j].data.buf, (Py_ssize_t)cols[j].data.len,
            (const char *)cols[j].valid, (Py_ssize_t)vbytes, cols[j].nulls);
        if (t == NULL) {
            Py_CLEAR(result);
            goto done;
        }
        PyList_SET_ITEM(result, j, t);
    }
done:
    if (cols != NULL)
        for (Py_ssize_t j = 0; j < nf; j++) {
            free(cols[j].data.buf);
            PyMem_Free(cols[j].offsets);
            PyMem_Free(cols[j].valid);
        }
    PyMem_Free(cols);
    PyMem_Free(names);
    PyMem_Free(name_lens);
    PyMem_Free(starts);
    PyMem_Free(lens);
    PyMem_Free(seen);
    free(keybuf.buf);
    return result;
}

PyMethodDef dv_json_methods[] = {
    {"decode_objects", decode_objects, METH_VARARGS, decode_objects_doc},
    {NULL, NULL, 0, NULL},
};
