/* Test helper (not part of ledger): a bytes-like type whose buffer export first calls a Python
 * callback. Python classes can export buffers only from 3.12 on (__buffer__, PEP 688); this type
 * lets the tests run code inside PyObject_GetBuffer on every supported version, the way a
 * __buffer__ method or a C extension's getbuffer can. Built by tests/test_native_containers.py. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

typedef struct {
    PyObject_HEAD
    PyObject *data;      /* bytes */
    PyObject *callback;  /* called with no arguments before each export */
} CallbackBuffer;

static int cb_getbuffer(PyObject *self, Py_buffer *view, int flags) {
    CallbackBuffer *cb = (CallbackBuffer *)self;
    PyObject *data = cb->data;
    Py_INCREF(data);
    PyObject *r = PyObject_CallNoArgs(cb->callback);
    if (r == NULL) {
        Py_DECREF(data);
        return -1;
    }
    Py_DECREF(r);
    int rc = PyBuffer_FillInfo(view, self, PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data), 1, flags);
    Py_DECREF(data);
    return rc;
}

static int cb_init(PyObject *self, PyObject *args, PyObject *kwargs) {
    CallbackBuffer *cb = (CallbackBuffer *)self;
    PyObject *data, *callback;
    if (!PyArg_ParseTuple(args, "SO", &data, &callback)) return -1;
    Py_INCREF(data);
    Py_INCREF(callback);
    Py_XSETREF(cb->data, data);
    Py_XSETREF(cb->callback, callback);
    return 0;
}

static void cb_dealloc(PyObject *self) {
    CallbackBuffer *cb = (CallbackBuffer *)self;
    Py_XDECREF(cb->data);
    Py_XDECREF(cb->callback);
    Py_TYPE(self)->tp_free(self);
}

static PyBufferProcs cb_as_buffer = {cb_getbuffer, NULL};

static PyTypeObject CallbackBufferType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "callback_buffer.CallbackBuffer",
    .tp_basicsize = sizeof(CallbackBuffer),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = cb_init,
    .tp_dealloc = cb_dealloc,
    .tp_as_buffer = &cb_as_buffer,
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "callback_buffer", NULL, -1, NULL};

PyMODINIT_FUNC PyInit_callback_buffer(void) {
    if (PyType_Ready(&CallbackBufferType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    Py_INCREF(&CallbackBufferType);
    if (PyModule_AddObject(m, "CallbackBuffer", (PyObject *)&CallbackBufferType) < 0) return NULL;
    return m;
}
