/* One file of the batch kernels of dealvault._native (the overview is in module.c). */
#include "kernels.h"

/* ---- package build: record hashes ---------------------------------------------- */

/* Append s (valid UTF-8) as an RFC 8785 string body: ECMAScript's JSON.stringify escapes. */
static int
jcs_escape(GrowBuf *out, const unsigned char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    if (grow(out, n * 6) < 0)
        return -1;
    unsigned char *w = out->buf + out->len;
    for (size_t k = 0; k < n; k++) {
        unsigned char c = s[k];
        if (c >= 0x20 && c != '"' && c != '\\') {
            *w++ = c;
            continue;
        }
        *w++ = '\\';
        switch (c) {
        case '"': *w++ = '"'; break;
        case '\\': *w++ = '\\'; break;
        case '\b': *w++ = 'b'; break;
        case '\t': *w++ = 't'; break;
        case '\n': *w++ = 'n'; break;
        case '\f': *w++ = 'f'; break;
        case '\r': *w++ = 'r'; break;
        default:
            *w++ = 'u';
            *w++ = '0';
            *w++ = '0';
            *w++ = (unsigned char)hex[c >> 4];
            *w++ = (unsigned char)hex[c & 15];
        }
    }
    out->len = (size_t)(w - out->buf);
    return 0;
}

typedef struct {
    Py_buffer key, valid, offsets, data;
    Py_ssize_t offset; /* of the array in its buffers (a slice) */
} RecordColumn;

PyDoc_STRVAR(record_hashes_doc,
"record_hashes(n, columns) -> list[bytes]\n\n"
"The RFC 9162 leaf hash SHA-256(0x00 || RFC 8785 JSON) of each of n records whose text\n"
"columns are given in RFC 8785 key order as (key, validity, offsets, data, offset): key the\n"
"JSON member name with its quotes and colon, then an Arrow large_string array's buffers\n"
"(validity None: no nulls) and its offset; a null is written null.");

static PyObject *
record_hashes(PyObject *self, PyObject *args)
{
    PyObject *columns, *result = NULL;
    Py_ssize_t n;
    RecordColumn *cols = NULL;
    unsigned char **outs = NULL;
    GrowBuf json = {NULL, 0, 0};
    EVP_MD_CTX *md = NULL;
    Py_ssize_t nc = 0, parsed = 0;
    int failed = 0;

    if (!PyArg_ParseTuple(args, "nO!", &n, &PyList_Type, &columns))
        return NULL;
    nc = PyList_GET_SIZE(columns);
    cols = PyMem_Calloc((size_t)nc + 1, sizeof(RecordColumn));
    outs = PyMem_Calloc((size_t)n + 1, sizeof(unsigned char *));
    md = EVP_MD_CTX_new();
    if (n < 0 || cols == NULL || outs == NULL || md == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (; parsed < nc; parsed++) {
        RecordColumn *c = &cols[parsed];
        PyObject *valid;
        if (!PyArg_ParseTuple(PyList_GET_ITEM(columns, parsed), "y*Oy*y*n", &c->key, &valid,
                              &c->offsets, &c->data, &c->offset))
            goto done;
        if (valid != Py_None && PyObject_GetBuffer(valid, &c->valid, PyBUF_SIMPLE) < 0) {
            PyBuffer_Release(&c->key);
            PyBuffer_Release(&c->offsets);
            PyBuffer_Release(&c->data);
            goto done;
        }
        const int64_t *off = (const int64_t *)c->offsets.buf + c->offset;
        if (c->offset < 0 || c->offsets.len < (c->offset + n + 1) * 8 ||
            (c->valid.buf != NULL && c->valid.len * 8 < c->offset + n) || off[0] < 0 ||
            off[n] > c->data.len) {
            parsed++;
            PyErr_SetString(PyExc_ValueError, "record_hashes: a column is shorter than n");
            goto done;
        }
        for (Py_ssize_t i = 0; i < n; i++)
            if (off[i + 1] < off[i]) {
                parsed++;
                PyErr_SetString(PyExc_ValueError, "record_hashes: offsets go backwards");
                goto done;
            }
    }
    result = PyList_New(n);
    if (result == NULL)
        goto done;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *out = PyBytes_FromStringAndSize(NULL, 32);
        if (out == NULL) {
            Py_CLEAR(result);
            goto done;
        }
        outs[i] = (unsigned char *)PyBytes_AS_STRING(out);
        PyList_SET_ITEM(result, i, out);
    }
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n && !failed; i++) {
        json.len = 0;
        if (grow(&json, 2) < 0) {
            failed = 1;
            break;
        }
        json.buf[json.len++] = 0x00; /* the leaf prefix */
        json.buf[json.len++] = '{';
        for (Py_ssize_t j = 0; j < nc && !failed; j++) {
            RecordColumn *c = &cols[j];
            Py_ssize_t at = c->offset + i;
            const unsigned char *v = c->valid.buf;
            int present = v == NULL || (v[at >> 3] >> (at & 7)) & 1;
            if (grow(&json, (size_t)c->key.len + 6) < 0) {
                failed = 1;
                break;
            }
            if (j > 0)
                json.buf[json.len++] = ',';
            memcpy(json.buf + json.len, c->key.buf, (size_t)c->key.len);
            json.len += (size_t)c->key.len;
            if (!present) {
                memcpy(json.buf + json.len, "null", 4);
                json.len += 4;
                continue;
            }
            const int64_t *off = (const int64_t *)c->offsets.buf + at;
            json.buf[json.len++] = '"';
            if (jcs_escape(&json, (const unsigned char *)c->data.buf + off[0],
                           (size_t)(off[1] - off[0])) < 0 ||
                grow(&json, 2) < 0) {
                failed = 1;
                break;
            }
            json.buf[json.len++] = '"';
        }
        if (failed || grow(&json, 1) < 0) {
            failed = 1;
            break;
        }
        json.buf[json.len++] = '}';
        failed = !sha256_parts(md, json.buf, json.len, NULL, 0, NULL, 0, outs[i]);
    }
    Py_END_ALLOW_THREADS
    if (failed) {
        Py_CLEAR(result);
        PyErr_SetString(PyExc_RuntimeError, "record_hashes: out of memory or SHA-256 failed");
    }
done:
    for (Py_ssize_t j = 0; j < parsed && cols != NULL; j++) {
        PyBuffer_Release(&cols[j].key);
        PyBuffer_Release(&cols[j].offsets);
        PyBuffer_Release(&cols[j].data);
        if (cols[j].valid.buf != NULL)
            PyBuffer_Release(&cols[j].valid);
    }
    free(json.buf);
    EVP_MD_CTX_free(md);
    PyMem_Free(cols);
    PyMem_Free(outs);
    return result;
}

PyMethodDef dv_record_hash_methods[] = {
    {"record_hashes", record_hashes, METH_VARARGS, record_hashes_doc},
    {NULL, NULL, 0, NULL},
};
