/* One file of the batch kernels of dealvault._native (the overview is in module.c). */
#include "kernels.h"

/* ---- audit verification -------------------------------------------------------------- */

/* The end of a canonical event body, exactly as verify.py's regex _TAIL (a search from
 * 320 bytes before the end):
 *   "seq":(0|[1-9][0-9]*),("session":"[^"\\]{0,80}",)?
 *   "subjects":(null|{"count":[0-9]+,"digest":"sha256:([0-9a-f]{64})"}),"v":[0-9]+}
 * Every part is decided by its next byte, so the regex never backtracks into another match
 * at the same start: matching once per start, leftmost start first, finds the regex's match. */

int
lit(const unsigned char *s, Py_ssize_t n, Py_ssize_t *i, const char *word)
{
    size_t k = strlen(word);
    if (n - *i < (Py_ssize_t)k || memcmp(s + *i, word, k) != 0)
        return 0;
    *i += (Py_ssize_t)k;
    return 1;
}

Py_ssize_t
digits(const unsigned char *s, Py_ssize_t n, Py_ssize_t i)
{
    Py_ssize_t j = i;
    while (j < n && s[j] >= '0' && s[j] <= '9')
        j++;
    return j - i;
}

/* 1 for the bytes [0-9a-f] */
static const unsigned char lower_hex[256] = {
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1,
    ['8'] = 1, ['9'] = 1, ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1,
};

/* The match starting at i: 1 and its parts, or 0. */
int
tail_at(const unsigned char *s, Py_ssize_t n, Py_ssize_t i, tail_t *t)
{
    if (!lit(s, n, &i, "\"seq\":"))
        return 0;
    if (i >= n || s[i] < '0' || s[i] > '9')
        return 0;
    Py_ssize_t d = s[i] == '0' ? 1 : digits(s, n, i); /* "0" must be followed by the comma */
    t->seq_at = i;
    t->seq_len = d;
    i += d;
    if (!lit(s, n, &i, ","))
        return 0;
    Py_ssize_t j = i;
    if (lit(s, n, &j, "\"session\":\"")) {
        Py_ssize_t k = 0;
        while (j + k < n && k <= 80 && s[j + k] != '"' && s[j + k] != '\\')
            k++;
        j += k;
        if (k <= 80 && lit(s, n, &j, "\",")) /* else the group is skipped: "subjects" must follow */
            i = j;
    }
    if (!lit(s, n, &i, "\"subjects\":"))
        return 0;
    if (lit(s, n, &i, "null")) {
        t->digest_at = -1;
    } else {
        if (!lit(s, n, &i, "{\"count\":") || (d = digits(s, n, i)) == 0)
            return 0;
        i += d;
        if (!lit(s, n, &i, ",\"digest\":\"sha256:") || n - i < 64)
            return 0;
        unsigned bad = 0; /* without a branch per digit: random hex digits mispredict */
        for (int k = 0; k < 64; k++)
            bad |= !lower_hex[s[i + k]];
        if (bad)
            return 0;
        t->digest_at = i;
        i += 64;
        if (!lit(s, n, &i, "\"}"))
            return 0;
    }
    if (!lit(s, n, &i, ",\"v\":") || (d = digits(s, n, i)) == 0)
        return 0;
    i += d;
    return lit(s, n, &i, "}");
}

int
tail_search(const unsigned char *s, Py_ssize_t n, tail_t *t)
{
    Py_ssize_t i = n > TAIL_BYTES ? n - TAIL_BYTES : 0;
    const unsigned char *hit;
    /* a match starts with "seq": (each place it occurs, leftmost first) */
    while (i < n && (hit = memmem(s + i, (size_t)(n - i), "\"seq\":", 6)) != NULL) {
        i = hit - s;
        if (tail_at(s, n, i, t))
            return 1;
        i++;
    }
    return 0;
}

/* The digits as an int64, or -1 when there are more than 18 (no seq is that large). */
long long
small_number(const unsigned char *s, Py_ssize_t len)
{
    if (len > 18)
        return -1;
    long long v = 0;
    for (Py_ssize_t k = 0; k < len; k++)
        v = v * 10 + (s[k] - '0');
    return v;
}

PyDoc_STRVAR(body_tails_doc,
"body_tails(bodies) -> list[tuple[int, bytes | None] | None]\n\n"
"For each event body, what verify.py's _TAIL finds searching from 320 bytes before its\n"
"end: (the seq in the body, the hex subject digest or None when it says null), or None\n"
"when there is no match.");

static PyObject *
body_tails(PyObject *self, PyObject *args)
{
    PyObject *bodies;
    if (!PyArg_ParseTuple(args, "O!", &PyList_Type, &bodies))
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(bodies);
    PyObject *result = PyList_New(n);
    if (result == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *v = PyList_GET_ITEM(bodies, i), *item;
        if (!PyBytes_Check(v)) {
            Py_DECREF(result);
            PyErr_SetString(PyExc_TypeError, "body_tails: bodies must be bytes");
            return NULL;
        }
        const unsigned char *s = (const unsigned char *)PyBytes_AS_STRING(v);
        tail_t t;
        if (!tail_search(s, PyBytes_GET_SIZE(v), &t)) {
            item = Py_NewRef(Py_None);
        } else {
            long long small = small_number(s + t.seq_at, t.seq_len);
            PyObject *seq;
            if (small >= 0) {
                seq = PyLong_FromLongLong(small);
            } else {
                PyObject *text = PyUnicode_FromStringAndSize((const char *)s + t.seq_at, t.seq_len);
                seq = text == NULL ? NULL : PyLong_FromUnicodeObject(text, 10);
                Py_XDECREF(text);
            }
            item = seq == NULL ? NULL
                   : t.digest_at < 0
                       ? Py_BuildValue("(NO)", seq, Py_None)
                       : Py_BuildValue("(Ny#)", seq, (const char *)s + t.digest_at, (Py_ssize_t)64);
        }
        if (item == NULL) {
            Py_DECREF(result);
            return NULL;
        }
        PyList_SET_ITEM(result, i, item);
    }
    return result;
}

PyMethodDef dv_audit_tail_methods[] = {
    {"body_tails", body_tails, METH_VARARGS, body_tails_doc},
    {NULL, NULL, 0, NULL},
};
