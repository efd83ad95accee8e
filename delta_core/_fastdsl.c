/*
 * _fastdsl: the inner loop of `delta_core.dsl.run_program`, in C.
 *
 * Python (delta_core/engine.py) compiles a parsed Program into flat tables once; this module runs a
 * tape through them. It does exactly what the literal interpreter does, one path entry per
 * iteration (spec: shared/reference/delta-reference.md, section A.1, "Execution"):
 *
 *   for _ in range(max_path):
 *       append the current id to the path
 *       NONE            -> reject "Routed to NONE"      (checked first: a node declared NONE never runs)
 *       end             -> accept
 *       undeclared id   -> reject "Unknown node: X"      (a route to the literal END, unless declared)
 *       puller          -> empty tape: EMPTY route; front colour of its pair: consume it and take
 *                          that colour's route; anything else (foreign colour, any other character):
 *                          EMPTY route without consuming. A missing route goes to NONE.
 *       painter         -> append its colour to the tape, follow NEXT
 *       START           -> follow NEXT
 *   reject "Maximum iterations exceeded (possible infinite loop)"
 *
 * Missing routes and routes to NONE are resolved by the compiler to the index of the NONE node, and
 * the reason strings are precomputed per node, so the loop below never touches a Python object.
 *
 * The tape is never copied while the robot runs. It is the input string read from index `head`,
 * followed by a buffer of painted colours (always R/B/Y/G, one byte each):
 *
 *      input[head:]  +  painted[max(0, head - len(input)):]
 *
 * Pullers advance `head`; painters append to `painted`. The final tape is built once at the end.
 * The path is recorded as node indices and turned into a list of the (shared, incref'd) id strings.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* Node kinds. Keep in sync with the K_* constants in delta_core/engine.py. */
enum {
    K_NEXT = 0,       /* START (and any other node that only follows NEXT) */
    K_END = 1,        /* the id 'end': accept */
    K_PULLER_RB = 2,
    K_PULLER_YG = 3,
    K_PAINTER_RED = 4,
    K_PAINTER_BLUE = 5,
    K_PAINTER_YELLOW = 6,
    K_PAINTER_GREEN = 7,
    K_NONE = 8,       /* the id 'NONE': reject "Routed to NONE" */
    K_UNKNOWN = 9,    /* an undeclared id (only the literal 'END' after parsing): reject "Unknown node: X" */
    K_COUNT
};

/* Route slots, 5 per node: a puller's R, B, Y, G and EMPTY routes; START/painters use slot 0 (NEXT). */
enum { S_R = 0, S_B = 1, S_Y = 2, S_G = 3, S_EMPTY = 4, N_SLOTS = 5 };

static const char PAINT_COLOUR[] = {0, 0, 0, 0, 'R', 'B', 'Y', 'G'};

/* A buffer that starts on the stack and moves to the heap when it outgrows it. */
#define STACK_ITEMS 1024

typedef struct {
    PyObject_HEAD
    Py_ssize_t n_nodes;
    unsigned char *kinds;  /* kinds[i]: K_* of node i; node 0 is 'start' */
    Py_ssize_t *routes;    /* routes[i * N_SLOTS + slot]: index of the next node */
    PyObject *ids;         /* tuple: ids[i] is the path entry of node i */
    PyObject *reasons;     /* tuple: reasons[i] is the rejection reason when node i ends the run */
    PyObject *max_reason;  /* the reason when max_path iterations run out */
    Py_ssize_t max_path;
} Machine;

static void
Machine_clear_tables(Machine *self)
{
    PyMem_Free(self->kinds);
    PyMem_Free(self->routes);
    self->kinds = NULL;
    self->routes = NULL;
    self->n_nodes = 0;
    Py_CLEAR(self->ids);
    Py_CLEAR(self->reasons);
    Py_CLEAR(self->max_reason);
}

static void
Machine_dealloc(Machine *self)
{
    Machine_clear_tables(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* Machine(kinds: bytes, routes: sequence of int, ids: tuple[str], reasons: tuple, max_reason: str,
 *         max_path: int). Every index is checked here, so `run` can trust the tables. */
static int
Machine_init(Machine *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"kinds", "routes", "ids", "reasons", "max_reason", "max_path", NULL};
    const char *kinds;
    Py_ssize_t n_kinds, max_path;
    PyObject *routes, *ids, *reasons, *max_reason, *fast = NULL;

    if (!PyArg_ParseTupleAndKeywords(args, kwds, "y#OO!O!Un", kwlist, &kinds, &n_kinds, &routes,
                                     &PyTuple_Type, &ids, &PyTuple_Type, &reasons, &max_reason,
                                     &max_path))
        return -1;
    if (n_kinds < 1 || PyTuple_GET_SIZE(ids) != n_kinds || PyTuple_GET_SIZE(reasons) != n_kinds) {
        PyErr_SetString(PyExc_ValueError, "kinds, ids and reasons must have the same, nonzero length");
        return -1;
    }
    for (Py_ssize_t i = 0; i < n_kinds; i++) {
        if ((unsigned char)kinds[i] >= K_COUNT) {
            PyErr_Format(PyExc_ValueError, "kinds[%zd] = %d is not a node kind", i, (int)kinds[i]);
            return -1;
        }
        if (!PyUnicode_Check(PyTuple_GET_ITEM(ids, i))) {
            PyErr_Format(PyExc_TypeError, "ids[%zd] must be a str", i);
            return -1;
        }
    }
    fast = PySequence_Fast(routes, "routes must be a sequence of ints");
    if (fast == NULL)
        return -1;
    if (PySequence_Fast_GET_SIZE(fast) != n_kinds * N_SLOTS) {
        PyErr_Format(PyExc_ValueError, "routes must have %d entries a node", N_SLOTS);
        goto fail;
    }

    Machine_clear_tables(self);  /* __init__ may be called twice */
    self->kinds = PyMem_Malloc(n_kinds);
    self->routes = PyMem_Malloc(sizeof(Py_ssize_t) * n_kinds * N_SLOTS);
    if (self->kinds == NULL || self->routes == NULL) {
        PyErr_NoMemory();
        goto fail;
    }
    memcpy(self->kinds, kinds, n_kinds);
    for (Py_ssize_t j = 0; j < n_kinds * N_SLOTS; j++) {
        Py_ssize_t target = PyLong_AsSsize_t(PySequence_Fast_GET_ITEM(fast, j));
        if (target == -1 && PyErr_Occurred())
            goto fail;
        if (target < 0 || target >= n_kinds) {
            PyErr_Format(PyExc_ValueError, "routes[%zd] = %zd is not a node index", j, target);
            goto fail;
        }
        self->routes[j] = target;
    }
    Py_DECREF(fast);
    self->n_nodes = n_kinds;
    Py_INCREF(ids);
    self->ids = ids;
    Py_INCREF(reasons);
    self->reasons = reasons;
    Py_INCREF(max_reason);
    self->max_reason = max_reason;
    self->max_path = max_path;
    return 0;

fail:
    Py_DECREF(fast);
    Machine_clear_tables(self);
    return -1;
}

/* Add n references to op at once: one add instead of n dependent increments of the same counter
 * (a 1000-entry path visits a handful of ids hundreds of times each). */
static inline void
incref_n(PyObject *op, Py_ssize_t n)
{
#ifdef Py_GIL_DISABLED
    while (n-- > 0)
        Py_INCREF(op);
#else
    Py_SET_REFCNT(op, Py_REFCNT(op) + n);  /* a no-op for immortal objects (3.12+), as Py_INCREF */
#endif
}

/* Grow a buffer that may still live on the stack. Returns 0, or -1 with MemoryError set. */
static int
grow(void **buf, Py_ssize_t *cap, size_t item, void *stack)
{
    Py_ssize_t new_cap = *cap * 2;
    void *bigger;
    if ((size_t)new_cap > PY_SSIZE_T_MAX / item) {
        PyErr_NoMemory();
        return -1;
    }
    if (*buf == stack) {
        bigger = PyMem_Malloc(new_cap * item);
        if (bigger != NULL)
            memcpy(bigger, stack, *cap * item);
    }
    else {
        bigger = PyMem_Realloc(*buf, new_cap * item);
    }
    if (bigger == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    *buf = bigger;
    *cap = new_cap;
    return 0;
}

/* The tape left at the end: input[head:] + painted[head - len(input):], as a canonical str. */
static PyObject *
final_tape(PyObject *input, Py_ssize_t head, const char *painted, Py_ssize_t n_painted)
{
    const Py_ssize_t in_len = PyUnicode_GET_LENGTH(input);
    if (head == 0 && n_painted == 0) {  /* untouched: the very same object, as in run_program */
        Py_INCREF(input);
        return input;
    }
    if (head >= in_len)                  /* only painted colours are left (ASCII) */
        return PyUnicode_FromStringAndSize(painted + (head - in_len), n_painted - (head - in_len));
    PyObject *rest = PyUnicode_Substring(input, head, in_len);
    if (rest == NULL || n_painted == 0)
        return rest;
    PyObject *tail = PyUnicode_FromStringAndSize(painted, n_painted);
    if (tail == NULL) {
        Py_DECREF(rest);
        return NULL;
    }
    PyObject *tape = PyUnicode_Concat(rest, tail);  /* keeps the str canonical (right kind) */
    Py_DECREF(rest);
    Py_DECREF(tail);
    return tape;
}

/* (finished, final_tape, path, rejection_reason) of a run that ended at node `last` (-1: the path
 * limit), with `path` holding the node index of each entry and `visits` how often each node occurs. */
static PyObject *
make_result(Machine *self, PyObject *tape, Py_ssize_t head, const char *painted, Py_ssize_t n_painted,
            const Py_ssize_t *path, Py_ssize_t n_path, const Py_ssize_t *visits, Py_ssize_t last)
{
    const unsigned char *kinds = self->kinds;
    /* Take the references first: the allocations below may run the cyclic GC, and so arbitrary
     * finalizers, which could even call __init__ on this very Machine again. Everything used after
     * that is held by a local reference. */
    PyObject *ids = self->ids;
    const Py_ssize_t n_nodes = self->n_nodes;
    PyObject *finished = (last >= 0 && kinds[last] == K_END) ? Py_True : Py_False;
    PyObject *reason = last >= 0 ? PyTuple_GET_ITEM(self->reasons, last) : self->max_reason;
    PyObject *tape_out = NULL, *path_list = NULL, *result = NULL;
    Py_INCREF(ids);
    Py_INCREF(finished);
    Py_INCREF(reason);

    tape_out = final_tape(tape, head, painted, n_painted);
    if (tape_out != NULL)
        path_list = PyList_New(n_path);
    if (path_list != NULL) {
        /* The same few ids recur hundreds of times in a long path: store them borrowed, then add
         * each id's references in one go (n dependent increments of one counter are slow). */
        for (Py_ssize_t i = 0; i < n_path; i++)
            PyList_SET_ITEM(path_list, i, PyTuple_GET_ITEM(ids, path[i]));
        for (Py_ssize_t i = 0; i < n_nodes; i++)
            if (visits[i])
                incref_n(PyTuple_GET_ITEM(ids, i), visits[i]);
        /* A list of str cannot be part of a reference cycle, so the cyclic GC need not look at it
         * (CPython untracks tuples and dicts of atomic items the same way). This matters: a batch of
         * results keeps thousands of 1000-entry paths alive, and every full collection would walk
         * them all (it made judging 1.6x slower). Should a caller later put containers in the list,
         * cycles through it are never collected: a leak, never a crash. */
        PyObject_GC_UnTrack(path_list);
        result = PyTuple_New(4);
    }
    if (result != NULL) {  /* the tuple steals the four references */
        PyTuple_SET_ITEM(result, 0, finished);
        PyTuple_SET_ITEM(result, 1, tape_out);
        PyTuple_SET_ITEM(result, 2, path_list);
        PyTuple_SET_ITEM(result, 3, reason);
    }
    else {
        Py_DECREF(finished);
        Py_XDECREF(tape_out);
        Py_XDECREF(path_list);
        Py_DECREF(reason);
    }
    Py_DECREF(ids);
    return result;
}

PyDoc_STRVAR(Machine_run_doc,
"run(tape) -> (finished, final_tape, path, rejection_reason)\n\n"
"Run a robot carrying `tape` (a str) through the compiled program; same result as\n"
"delta_core.dsl.run_program.");

static PyObject *
Machine_run(Machine *self, PyObject *tape)
{
    if (!PyUnicode_Check(tape)) {
        PyErr_Format(PyExc_TypeError, "tape must be a str, not %.80s", Py_TYPE(tape)->tp_name);
        return NULL;
    }
#if PY_VERSION_HEX < 0x030C0000
    if (PyUnicode_READY(tape) < 0)  /* legacy (wchar_t) strings; every str is ready from 3.12 on */
        return NULL;
#endif
    if (self->kinds == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Machine.__init__ was not called");
        return NULL;
    }
    const unsigned char *kinds = self->kinds;
    const Py_ssize_t *routes = self->routes;
    const Py_ssize_t in_len = PyUnicode_GET_LENGTH(tape);
    const int in_kind = PyUnicode_KIND(tape);
    const void *in_data = PyUnicode_DATA(tape);

    char painted_stack[STACK_ITEMS];
    char *painted = painted_stack;             /* colours painted so far, in order */
    Py_ssize_t n_painted = 0, painted_cap = STACK_ITEMS;
    Py_ssize_t path_stack[STACK_ITEMS];
    Py_ssize_t *path = path_stack;             /* node index of each path entry */
    Py_ssize_t n_path = 0, path_cap = STACK_ITEMS;
    Py_ssize_t visits_stack[64];
    Py_ssize_t *visits = visits_stack;         /* visits[i]: path entries of node i */

    Py_ssize_t head = 0;    /* characters pulled off the front of input + painted */
    Py_ssize_t node = 0;    /* 'start' */
    Py_ssize_t last = -1;   /* the node that ended the run, or -1: max_path ran out */
    PyObject *result = NULL;

    if (self->n_nodes <= (Py_ssize_t)Py_ARRAY_LENGTH(visits_stack))
        memset(visits, 0, sizeof(Py_ssize_t) * self->n_nodes);
    else if ((visits = PyMem_Calloc(self->n_nodes, sizeof(Py_ssize_t))) == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t step = 0; step < self->max_path; step++) {
        if (n_path == path_cap && grow((void **)&path, &path_cap, sizeof(Py_ssize_t), path_stack) < 0)
            goto done;
        path[n_path++] = node;
        visits[node]++;
        const Py_ssize_t *out = routes + node * N_SLOTS;
        const int kind = kinds[node];

        if (kind == K_NEXT) {
            node = out[0];
        }
        else if (kind == K_PULLER_RB || kind == K_PULLER_YG) {
            Py_UCS4 front;
            if (head < in_len)
                front = PyUnicode_READ(in_kind, in_data, head);
            else if (head - in_len < n_painted)
                front = (Py_UCS4)(unsigned char)painted[head - in_len];
            else {                              /* empty tape: EMPTY route (or NONE) */
                node = out[S_EMPTY];
                continue;
            }
            if (kind == K_PULLER_RB && (front == 'R' || front == 'B')) {
                head++;                         /* consumed, even if the route is NONE */
                node = out[front == 'R' ? S_R : S_B];
            }
            else if (kind == K_PULLER_YG && (front == 'Y' || front == 'G')) {
                head++;
                node = out[front == 'Y' ? S_Y : S_G];
            }
            else {                              /* foreign colour or any other character */
                node = out[S_EMPTY];
            }
        }
        else if (kind >= K_PAINTER_RED && kind <= K_PAINTER_GREEN) {
            if (n_painted == painted_cap && grow((void **)&painted, &painted_cap, 1, painted_stack) < 0)
                goto done;
            painted[n_painted++] = PAINT_COLOUR[kind];
            node = out[0];
        }
        else {                                  /* K_NONE, K_END, K_UNKNOWN: the run is over */
            last = node;
            break;
        }
    }

    result = make_result(self, tape, head, painted, n_painted, path, n_path, visits, last);

done:
    if (painted != painted_stack)
        PyMem_Free(painted);
    if (path != path_stack)
        PyMem_Free(path);
    if (visits != visits_stack)
        PyMem_Free(visits);
    return result;
}

static PyObject *
Machine_get_max_path(Machine *self, void *Py_UNUSED(closure))
{
    return PyLong_FromSsize_t(self->max_path);
}

static PyMethodDef Machine_methods[] = {
    {"run", (PyCFunction)Machine_run, METH_O, Machine_run_doc},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Machine_getset[] = {
    {"max_path", (getter)Machine_get_max_path, NULL, "path entries before the run is cut off", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

PyDoc_STRVAR(Machine_doc,
"Machine(kinds, routes, ids, reasons, max_reason, max_path)\n\n"
"A program compiled to flat tables by delta_core.engine; node 0 is 'start'.");

static PyTypeObject MachineType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "delta_core._fastdsl.Machine",
    .tp_basicsize = sizeof(Machine),
    .tp_dealloc = (destructor)Machine_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = Machine_doc,
    .tp_methods = Machine_methods,
    .tp_getset = Machine_getset,
    .tp_init = (initproc)Machine_init,
    .tp_new = PyType_GenericNew,
};

static struct PyModuleDef fastdsl_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "delta_core._fastdsl",
    .m_doc = "C inner loop of the Manufactoria DSL interpreter; use delta_core.engine.compile_program.",
    .m_size = -1,
};

PyMODINIT_FUNC
PyInit__fastdsl(void)
{
    if (PyType_Ready(&MachineType) < 0)
        return NULL;
    PyObject *module = PyModule_Create(&fastdsl_module);
    if (module == NULL)
        return NULL;
    if (PyModule_AddObjectRef(module, "Machine", (PyObject *)&MachineType) < 0
        || PyModule_AddIntConstant(module, "N_SLOTS", N_SLOTS) < 0
        || PyModule_AddIntConstant(module, "K_COUNT", K_COUNT) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
