/* _native_buffer.c: bmmgen.bmm's call path for NumPy arrays, in C through the buffer
 * protocol, where the Python path reads a dozen attributes and makes a ctypes call. Needs no
 * NumPy or torch headers.
 *
 * A fast path only, as _native_torch.cpp: it takes the plain calls (3-D float32, float64 or
 * float16 buffers in the machine's byte order, sizes >= 1, strides whole elements, addresses aligned,
 * out writable and of the product's shape and format) and returns None for every other, which
 * the Python path (_ops.py) checks, raises or copies as before; a call the library refuses
 * (an out overlapping an input: nothing written) goes there too, and so does anything but a
 * numpy.ndarray.
 *
 * bind() takes the addresses of the functions of the libbmm that _lib.py loaded (one library
 * per process), the callable that makes a new result (numpy.empty) and numpy.ndarray. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <string.h>

#include "bmm.h"

typedef bmm_status (*sgemm_fn)(int64_t, int64_t, int64_t, int64_t, float, const float *,
    bmm_stride, const float *, bmm_stride, float, float *, bmm_stride);
typedef bmm_status (*dgemm_fn)(int64_t, int64_t, int64_t, int64_t, double, const double *,
    bmm_stride, const double *, bmm_stride, double, double *, bmm_stride);

typedef bmm_status (*hgemm_fn)(int64_t, int64_t, int64_t, int64_t, float, const bmm_f16 *,
    bmm_stride, const bmm_f16 *, bmm_stride, float, bmm_f16 *, bmm_stride);
typedef bmm_status (*shgemm_fn)(int64_t, int64_t, int64_t, int64_t, float, const bmm_f16 *,
    bmm_stride, const bmm_f16 *, bmm_stride, float, float *, bmm_stride);  /* float32 out */
typedef bmm_status (*execute_fn)(const bmm_plan *, const void *, const void *, void *);

static sgemm_fn sgemm;  /* set once by bind, before any call (under the GIL) */
static dgemm_fn dgemm;
static hgemm_fn hgemm;
static shgemm_fn shgemm;
static execute_fn execute;
static PyObject *empty;  /* numpy.empty */
static PyObject *ndarray;  /* numpy.ndarray: the type this path takes (not subclasses) */

/* Products of at least this many multiply-adds run with the GIL released. */
#define GIL_FREE_MADDS 65536.0

static PyObject *bind(PyObject *self, PyObject *args)
{
    (void)self;
    unsigned long long s, d, h, sh, x;
    PyObject *e, *t;
    if (!PyArg_ParseTuple(args, "KKKKKOO!", &s, &d, &h, &sh, &x, &e, &PyType_Type, &t))
        return NULL;
    if (!PyCallable_Check(e))
        return PyErr_Format(PyExc_TypeError, "bind: empty must be callable");
    Py_INCREF(e);
    Py_XSETREF(empty, e);
    Py_INCREF(t);
    Py_XSETREF(ndarray, t);
    sgemm = (sgemm_fn)(uintptr_t)s;
    dgemm = (dgemm_fn)(uintptr_t)d;
    hgemm = (hgemm_fn)(uintptr_t)h;
    shgemm = (shgemm_fn)(uintptr_t)sh;
    execute = (execute_fn)(uintptr_t)x;
    Py_RETURN_NONE;
}

/* The element type of a buffer: 'f', 'd' or 'e' (half) in the machine's order (NumPy writes
 * "f", "<f" or "=f" for it), else 0. */
static char element(const Py_buffer *v)
{
    const char *f = v->format;
    if (!f)
        return 0;
    if (f[0] == '=' || f[0] == '@' || (f[0] == '<' && PY_LITTLE_ENDIAN) || (f[0] == '>' && !PY_LITTLE_ENDIAN))
        f++;
    if ((f[0] == 'f' && v->itemsize == 4) || (f[0] == 'd' && v->itemsize == 8)
        || (f[0] == 'e' && v->itemsize == 2))
        return f[1] == '\0' ? f[0] : 0;
    return 0;
}

/* A plain operand: 3-D, sizes >= 1, element strides, aligned; its strides in elements. */
static int plain(const Py_buffer *v, char type, bmm_stride *s)
{
    if (v->ndim != 3 || element(v) != type || !v->strides || ((uintptr_t)v->buf % (uintptr_t)v->itemsize))
        return 0;
    int64_t e[3];
    for (int d = 0; d < 3; d++) {
        if (v->shape[d] < 1 || v->strides[d] % v->itemsize)
            return 0;
        e[d] = v->strides[d] / v->itemsize;
    }
    *s = (bmm_stride){ e[0], e[1], e[2] };
    return 1;
}

/* NumPy's name of an element type. */
static const char *dtype_name(char type)
{
    return type == 'f' ? "float32" : type == 'd' ? "float64" : "float16";
}

/* a @ b into out (a new array when None); None: the Python path takes the call. */
static PyObject *bmm(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *a, *b, *out = Py_None;
    if (!PyArg_ParseTuple(args, "OO|O", &a, &b, &out))
        return NULL;
    Py_buffer va, vb, vc;
    PyObject *res = NULL, *made = NULL;
    int got_a = 0, got_b = 0, got_c = 0;
    char type, ctype;
    bmm_stride sa, sb, sc;
    int64_t batch, n, m, p;
    bmm_status st;
    PyThreadState *ts;
    if (!sgemm || !dgemm || !hgemm || !shgemm || !empty || (PyObject *)Py_TYPE(a) != ndarray
        || (PyObject *)Py_TYPE(b) != ndarray || (out != Py_None && (PyObject *)Py_TYPE(out) != ndarray))
        goto none;
    if (PyObject_GetBuffer(a, &va, PyBUF_RECORDS_RO) != 0)
        goto none;
    got_a = 1;
    if (PyObject_GetBuffer(b, &vb, PyBUF_RECORDS_RO) != 0)
        goto none;
    got_b = 1;
    type = element(&va);
    if (!type || !plain(&va, type, &sa) || !plain(&vb, type, &sb))
        goto none;
    batch = va.shape[0], n = va.shape[1], m = va.shape[2], p = vb.shape[2];
    if (vb.shape[0] != batch || vb.shape[1] != m)
        goto none;
    if (out == Py_None) {
        made = PyObject_CallFunction(empty, "((LLL)s)", (long long)batch, (long long)n,
            (long long)p, dtype_name(type));
        if (!made)
            goto none;
    }
    if (PyObject_GetBuffer(made ? made : out, &vc, PyBUF_RECORDS) != 0)
        goto none;
    got_c = 1;
    ctype = type == 'e' && element(&vc) == 'f' ? 'f' : type;  /* float16 in, float32 out */
    if (!plain(&vc, ctype, &sc) || vc.shape[0] != batch || vc.shape[1] != n || vc.shape[2] != p)
        goto none;
    ts = (double)batch * (double)n * (double)m * (double)p >= GIL_FREE_MADDS
        ? PyEval_SaveThread() : NULL;
    if (type == 'f')
        st = sgemm(batch, n, m, p, 1.0f, va.buf, sa, vb.buf, sb, 0.0f, vc.buf, sc);
    else if (type == 'd')
        st = dgemm(batch, n, m, p, 1.0, va.buf, sa, vb.buf, sb, 0.0, vc.buf, sc);
    else if (ctype == 'f')
        st = shgemm(batch, n, m, p, 1.0f, va.buf, sa, vb.buf, sb, 0.0f, vc.buf, sc);
    else
        st = hgemm(batch, n, m, p, 1.0f, va.buf, sa, vb.buf, sb, 0.0f, vc.buf, sc);
    if (ts)
        PyEval_RestoreThread(ts);
    if (st == BMM_OK) {
        res = made ? made : out;
        Py_INCREF(res);
    }
none:
    if (!res)
        PyErr_Clear();  /* a buffer refused (not one, read-only, ...): Python's path says why */
    if (got_c)
        PyBuffer_Release(&vc);
    if (got_b)
        PyBuffer_Release(&vb);
    if (got_a)
        PyBuffer_Release(&va);
    Py_XDECREF(made);
    if (!res)
        Py_RETURN_NONE;
    return res;
}

/* ---- Planned: a bmmgen.Plan's calls on NumPy arrays ---- */

/* The operands a Plan was made for (element type, shapes, strides of the dimensions longer
 * than 1: _plan.py's _free_strides) and its native plan, owned by the Python Plan, which drops
 * this object before it frees the plan. */
typedef struct {
    PyObject_HEAD
    const bmm_plan *plan;
    char type;
    int fresh_out;
    long long shape[3][3], stride[3][3];
} planned;

static int planned_init(planned *self, PyObject *args, PyObject *kw)
{
    unsigned long long plan;
    int dtype, fresh;
    long long (*sh)[3] = self->shape, (*st)[3] = self->stride;
    if (kw && PyDict_Size(kw)) {
        PyErr_SetString(PyExc_TypeError, "Planned takes positional arguments");
        return -1;
    }
    if (!PyArg_ParseTuple(args, "Ki(LLL)(LLL)(LLL)(LLL)(LLL)(LLL)p", &plan, &dtype,
            &sh[0][0], &sh[0][1], &sh[0][2], &st[0][0], &st[0][1], &st[0][2],
            &sh[1][0], &sh[1][1], &sh[1][2], &st[1][0], &st[1][1], &st[1][2],
            &sh[2][0], &sh[2][1], &sh[2][2], &st[2][0], &st[2][1], &st[2][2], &fresh))
        return -1;
    if (dtype != BMM_F32 && dtype != BMM_F64 && dtype != BMM_F16) {
        PyErr_Format(PyExc_ValueError, "Planned: dtype %d has no NumPy buffer path", dtype);
        return -1;
    }
    self->plan = (const bmm_plan *)(uintptr_t)plan;
    self->type = dtype == BMM_F32 ? 'f' : dtype == BMM_F64 ? 'd' : 'e';
    self->fresh_out = fresh;
    return 0;
}

/* Buffer v is operand o as planned. */
static int as_planned(const planned *self, const Py_buffer *v, int o)
{
    bmm_stride s;
    if (!plain(v, self->type, &s))
        return 0;
    const int64_t e[3] = { s.batch, s.row, s.col };
    for (int d = 0; d < 3; d++)
        if (v->shape[d] != self->shape[o][d] || (v->shape[d] != 1 && e[d] != self->stride[o][d]))
            return 0;
    return 1;
}

/* out (a new array when None) = the plan's product of a and b, or None: the Python path takes
 * the call (operands not as planned, a refusal). */
static PyObject *planned_call(planned *self, PyObject *args, PyObject *kw)
{
    PyObject *a, *b, *out = Py_None, *made = NULL, *res = NULL, *ops[3];
    Py_buffer v[3];
    int got = 0;
    PyThreadState *ts;
    bmm_status st;
    if (kw && PyDict_Size(kw))
        Py_RETURN_NONE;
    if (!PyArg_ParseTuple(args, "OO|O", &a, &b, &out))
        return NULL;
    if (!execute || !empty || (PyObject *)Py_TYPE(a) != ndarray || (PyObject *)Py_TYPE(b) != ndarray
        || (out == Py_None ? !self->fresh_out : (PyObject *)Py_TYPE(out) != ndarray))
        Py_RETURN_NONE;
    if (out == Py_None) {
        made = PyObject_CallFunction(empty, "((LLL)s)", self->shape[2][0], self->shape[2][1],
            self->shape[2][2], dtype_name(self->type));
        if (!made)
            goto done;
    }
    ops[0] = a, ops[1] = b, ops[2] = made ? made : out;
    for (int o = 0; o < 3; o++) {
        if (PyObject_GetBuffer(ops[o], &v[o], o < 2 ? PyBUF_RECORDS_RO : PyBUF_RECORDS) != 0)
            goto done;
        got = o + 1;
        if (!as_planned(self, &v[o], o))
            goto done;
    }
    ts = (double)self->shape[0][0] * (double)self->shape[0][1] * (double)self->shape[0][2]
            * (double)self->shape[1][2] >= GIL_FREE_MADDS ? PyEval_SaveThread() : NULL;
    st = execute(self->plan, v[0].buf, v[1].buf, v[2].buf);
    if (ts)
        PyEval_RestoreThread(ts);
    if (st == BMM_OK) {
        res = ops[2];
        Py_INCREF(res);
    }
done:
    if (!res)
        PyErr_Clear();
    while (got > 0)
        PyBuffer_Release(&v[--got]);
    Py_XDECREF(made);
    if (!res)
        Py_RETURN_NONE;
    return res;
}

static PyTypeObject planned_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "bmmgen._native_buffer.Planned",
    .tp_doc = "a bmmgen.Plan's call for NumPy arrays",
    .tp_basicsize = sizeof(planned),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)planned_init,
    .tp_call = (ternaryfunc)planned_call,
};

static PyMethodDef methods[] = {
    { "bind", bind, METH_VARARGS, "bind(sgemm, dgemm, hgemm, shgemm, execute, empty, ndarray): libbmm's entries, numpy.empty, numpy.ndarray" },
    { "bmm", bmm, METH_VARARGS, "bmm(a, b, out=None): a @ b into out (None: new), or None" },
    { NULL, NULL, 0, NULL },
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_native_buffer",
    "bmmgen.bmm's C call path for NumPy arrays (a fast path: None hands a call to the Python "
    "path)", -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__native_buffer(void)
{
    if (PyType_Ready(&planned_type) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (!m)
        return NULL;
    Py_INCREF(&planned_type);
    if (PyModule_AddObject(m, "Planned", (PyObject *)&planned_type) < 0) {
        Py_DECREF(&planned_type);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
