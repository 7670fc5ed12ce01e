/* docbin._kernels: the non-maximum suppression and the edge levels of the edge step, the
 * samples of B_I and T_I with the components' boxes, the decision rule, and the clean step's
 * components (as runs of text), their sums and boxes and their drop, each in one pass; and
 * the local median and mean of windows over 255 px streamed down the page (window_stats:
 * time and memory of the page's size whatever the window), and the refine step's window sums
 * of large windows the same way (window_sums).
 *
 * Optional: docbin computes the same results with OpenCV and NumPy when this module is not
 * built (docbin/method/stats.py, decision.py and clean.py keep both forms; the tests compare
 * them). The clean step's sums are integers accumulated in int64: its features equal the
 * NumPy form's float64 bincounts exactly.
 * The OpenCV form of the NMS makes some 30 passes over a band's float arrays; this makes one,
 * and is about 4x faster.
 *
 * Exactness: the ratio g_r / g_c is one IEEE float32 division and every test is an exact
 * float32 comparison, as in the OpenCV form (compiled without -ffast-math, results are
 * bit-identical). Ratios equal to a rounded tangent are counted, not decided: the caller
 * decides them exactly (stats._fix_ties).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* tan 22.5 deg = sqrt(2) - 1 and tan 67.5 deg = sqrt(2) + 1, rounded to float32 */
#define TAN_LOW ((float)0.41421356237309503)
#define TAN_HIGH ((float)2.414213562373095)

#if defined(_MSC_VER) && !defined(__clang__)
#define restrict __restrict /* MSVC's C compiler spells it so before C11 */
#endif

#if defined(__GNUC__) && defined(__x86_64__) && defined(__linux__) && !defined(__clang__)
#define DOCBIN_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define DOCBIN_CLONES
#endif

/* One row: keep[j] for j in [1, cols - 1); returns the number of ties. */
DOCBIN_CLONES
static Py_ssize_t suppress_row(const float *restrict up, const float *restrict mid,
                               const float *restrict down, const float *restrict grad_rows,
                               const float *restrict grad_cols, uint8_t *restrict keep,
                               Py_ssize_t cols)
{
    Py_ssize_t ties = 0;
    for (Py_ssize_t j = 1; j < cols - 1; j++) {
        float r = grad_rows[j] / grad_cols[j];
        float a = fabsf(r);
        float c = mid[j];
        int along_0 = (c >= mid[j - 1]) & (c >= mid[j + 1]);
        int along_90 = (c >= up[j]) & (c >= down[j]);
        int along_45 = (c >= up[j - 1]) & (c >= down[j + 1]);
        int along_135 = (c >= up[j + 1]) & (c >= down[j - 1]);
        int horizontal = a < TAN_LOW;
        int diagonal = (a > TAN_LOW) & (a < TAN_HIGH);
        int rising = r > 0.0f;
        /* NaN (0 / 0) and |r| >= tan 67.5 deg (inf included) take the 90 deg test */
        int kept = (horizontal & along_0) | (diagonal & rising & along_45)
                   | (diagonal & !rising & along_135) | (!horizontal & !diagonal & along_90);
        keep[j] = kept ? 255 : 0;
        ties += (a == TAN_LOW) | (a == TAN_HIGH);
    }
    return ties;
}

static int
get_buffer(PyObject *object, Py_buffer *view, int writable, Py_ssize_t itemsize,
           Py_ssize_t needed, const char *name)
{
    int flags = PyBUF_C_CONTIGUOUS | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(object, view, flags) < 0)
        return -1;
    if (view->itemsize != itemsize || view->len < needed * itemsize) {
        PyErr_Format(PyExc_ValueError, "%s: expected at least %zd items of %zd bytes", name,
                     needed, itemsize);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

/* A buffer to acquire (see get_buffer). */
typedef struct {
    PyObject *object;
    int writable;
    Py_ssize_t itemsize, needed;
    const char *name;
} Want;

static void
release_buffers(Py_buffer *views, int count)
{
    for (int n = 0; n < count; n++)
        PyBuffer_Release(&views[n]);
}

/* Every buffer of ``wants`` into ``views``; on failure none stays acquired. */
static int
get_buffers(const Want *wants, Py_buffer *views, int count)
{
    for (int n = 0; n < count; n++) {
        if (get_buffer(wants[n].object, &views[n], wants[n].writable, wants[n].itemsize,
                       wants[n].needed, wants[n].name) < 0) {
            release_buffers(views, n);
            return -1;
        }
    }
    return 0;
}

/* A writable uint8 buffer of whole rows of ``cols`` columns; its row count in ``rows``. */
static int
get_rows(PyObject *object, Py_buffer *view, Py_ssize_t cols, const char *name,
         Py_ssize_t *rows)
{
    if (cols < 1) {
        PyErr_Format(PyExc_ValueError, "%s: bad columns", name);
        return -1;
    }
    if (PyObject_GetBuffer(object, view, PyBUF_C_CONTIGUOUS | PyBUF_WRITABLE) < 0)
        return -1;
    if (view->itemsize != 1 || view->len % cols) {
        PyErr_Format(PyExc_ValueError, "%s: expected uint8 rows of %zd columns", name, cols);
        PyBuffer_Release(view);
        return -1;
    }
    *rows = view->len / cols;
    return 0;
}

PyDoc_STRVAR(suppress_doc,
"suppress(magnitude, grad_rows, grad_cols, keep, cols, c0, c1, offset) -> ties\n\n"
"Non-maximum suppression of rows [c0, c1) of a band, columns 1 to cols - 2: keep[i, j] =\n"
"255 where the magnitude of band row i (row i + offset of ``magnitude``) is >= both\n"
"neighbours along its gradient direction, else 0. Arrays are C-contiguous with ``cols``\n"
"columns: magnitude float32 (rows c0 + offset - 1 to c1 + offset), grad_rows and grad_cols\n"
"float32 and keep uint8 (rows of the band). Returns how many pixels have a ratio equal to\n"
"a rounded tangent (their bins are left to the caller).");

static PyObject *
suppress(PyObject *self, PyObject *args)
{
    PyObject *magnitude_object, *rows_object, *cols_object, *keep_object;
    Py_ssize_t cols, c0, c1, offset;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOOOnnnn", &magnitude_object, &rows_object, &cols_object,
                          &keep_object, &cols, &c0, &c1, &offset))
        return NULL;
    if (cols < 3 || c0 < 0 || c1 < c0 || c0 + offset < 1) {
        PyErr_SetString(PyExc_ValueError, "suppress: bad rows or columns");
        return NULL;
    }
    const Want wants[4] = {{magnitude_object, 0, 4, (c1 + offset + 1) * cols, "magnitude"},
                           {rows_object, 0, 4, c1 * cols, "grad_rows"},
                           {cols_object, 0, 4, c1 * cols, "grad_cols"},
                           {keep_object, 1, 1, c1 * cols, "keep"}};
    Py_buffer views[4];
    if (get_buffers(wants, views, 4) < 0)
        return NULL;
    const float *m = (const float *)views[0].buf;
    const float *gr = (const float *)views[1].buf;
    const float *gc = (const float *)views[2].buf;
    uint8_t *k = (uint8_t *)views[3].buf;
    Py_ssize_t ties = 0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = c0; i < c1; i++) {
        const float *mid = m + (i + offset) * cols;
        ties += suppress_row(mid - cols, mid, mid + cols, gr + i * cols, gc + i * cols,
                             k + i * cols, cols);
    }
    Py_END_ALLOW_THREADS
    release_buffers(views, 4);
    return PyLong_FromSsize_t(ties);
}

/* One row of edge levels: level[j] = min(255, floor(fl32(m[j] * scale))) where level[j] is
 * non-zero (kept by the NMS), else 0; each pixel counted in counts[j % 4][level]. */
DOCBIN_CLONES
static void levels_row(const float *restrict m, uint8_t *restrict level, float scale,
                       Py_ssize_t cols, int64_t counts[4][256])
{
    for (Py_ssize_t j = 0; j < cols; j++) {
        /* m * scale >= 0: truncation is the floor */
        float v = m[j] * scale;
        int q = v >= 255.0f ? 255 : (int)v;
        level[j] = level[j] ? (uint8_t)q : 0;
    }
    /* four histograms in turn: runs of one level (zeros) do not wait on one counter */
    Py_ssize_t j = 0;
    for (; j + 4 <= cols; j += 4) {
        counts[0][level[j]]++;
        counts[1][level[j + 1]]++;
        counts[2][level[j + 2]]++;
        counts[3][level[j + 3]]++;
    }
    for (; j < cols; j++)
        counts[0][level[j]]++;
}

PyDoc_STRVAR(levels_doc,
"levels(magnitude, level, scale, counts, cols)\n\n"
"Edge levels of a band in place: where ``level`` (uint8, the NMS mask) is non-zero it\n"
"becomes min(255, floor(fl32(magnitude * scale))) (float32 arithmetic), elsewhere 0; the\n"
"histogram of the new levels is added to ``counts`` (int64, 256). ``magnitude`` is float32\n"
"with the same rows and ``cols`` columns, C-contiguous.");

static PyObject *
levels(PyObject *self, PyObject *args)
{
    PyObject *magnitude_object, *level_object, *counts_object;
    float scale;
    Py_ssize_t cols, rows;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOfOn", &magnitude_object, &level_object, &scale,
                          &counts_object, &cols))
        return NULL;
    Py_buffer level, views[2];
    if (get_rows(level_object, &level, cols, "level", &rows) < 0)
        return NULL;
    const Want wants[2] = {{magnitude_object, 0, 4, rows * cols, "magnitude"},
                           {counts_object, 1, 8, 256, "counts"}};
    if (get_buffers(wants, views, 2) < 0) {
        PyBuffer_Release(&level);
        return NULL;
    }
    const float *m = (const float *)views[0].buf;
    uint8_t *l = (uint8_t *)level.buf;
    int64_t *c = (int64_t *)views[1].buf;
    Py_BEGIN_ALLOW_THREADS
    int64_t lanes[4][256] = {{0}};
    for (Py_ssize_t i = 0; i < rows; i++)
        levels_row(m + i * cols, l + i * cols, scale, cols, lanes);
    for (int v = 0; v < 256; v++)
        c[v] += lanes[0][v] + lanes[1][v] + lanes[2][v] + lanes[3][v];
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&level);
    release_buffers(views, 2);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(edge_samples_doc,
"edge_samples(image, mask, labels, table, contour, ink, boxes, rows, cols, r0, r1\n"
"             [, block, block_cols, contour_blocks, ink_blocks])\n\n"
"The samples of B_I and T_I and the components' boxes of band rows [r0, r1) in one pass.\n"
"For every pixel p of the band where ``mask`` (uint8, the band's rows) is non-zero:\n"
"contour[I(p)] += 1; for each 8-neighbour q of p on the page (``image``: uint8, rows x cols)\n"
"accepted by ``table`` (uint8, 65536: table[256 I(p) + I(q)]), ink[I(q)] += 1 (int64, 256\n"
"each); and with its component label L = labels[p] - 1 (int32, the band's rows, from\n"
"cv2.connectedComponents), boxes[0..4][L] = min col, min row, max col, max row (page\n"
"rows) and pixel count (int64, 5 x components, initialised by the caller).\n\n"
"With ``block`` > 0 (and ``block_cols``, ``contour_blocks``, ``ink_blocks``), the samples are\n"
"also counted per square block of ``block`` pixels: int64 (block rows of the band from\n"
"r0 // block, block_cols, 256), at [row // block - r0 // block, col // block, level], an ink\n"
"sample in the block of its edge pixel.");

static PyObject *
edge_samples(PyObject *self, PyObject *args)
{
    PyObject *objects[7];
    PyObject *block_objects[2] = {NULL, NULL};
    Py_ssize_t rows, cols, r0, r1, block = 0, block_cols = 0;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOOOOOOnnnn|nnOO", &objects[0], &objects[1], &objects[2],
                          &objects[3], &objects[4], &objects[5], &objects[6], &rows, &cols,
                          &r0, &r1, &block, &block_cols, &block_objects[0],
                          &block_objects[1]))
        return NULL;
    if (rows < 1 || cols < 1 || r0 < 0 || r1 < r0 || r1 > rows) {
        PyErr_SetString(PyExc_ValueError, "edge_samples: bad rows or columns");
        return NULL;
    }
    int with_blocks = block > 0;
    if (with_blocks && (block_cols * block < cols || r1 == r0 || !block_objects[0]
                        || !block_objects[1])) {
        PyErr_SetString(PyExc_ValueError, "edge_samples: bad blocks");
        return NULL;
    }
    Py_ssize_t first_block = with_blocks ? r0 / block : 0;
    Py_ssize_t block_cells = with_blocks
        ? ((r1 - 1) / block - first_block + 1) * block_cols * 256 : 0;
    Py_ssize_t band = (r1 - r0) * cols;
    const Want wants[9] = {{objects[0], 0, 1, rows * cols, "image"},
                           {objects[1], 0, 1, band, "mask"},
                           {objects[2], 0, 4, band, "labels"},
                           {objects[3], 0, 1, 65536, "table"},
                           {objects[4], 1, 8, 256, "contour"},
                           {objects[5], 1, 8, 256, "ink"},
                           {objects[6], 1, 8, 0, "boxes"},
                           {block_objects[0], 1, 8, block_cells, "contour blocks"},
                           {block_objects[1], 1, 8, block_cells, "ink blocks"}};
    const int count = with_blocks ? 9 : 7;
    Py_buffer views[9];
    if (get_buffers(wants, views, count) < 0)
        return NULL;
    int64_t *contour_blocks = with_blocks ? (int64_t *)views[7].buf : NULL;
    int64_t *ink_blocks = with_blocks ? (int64_t *)views[8].buf : NULL;
    Py_ssize_t components = views[6].len / (5 * 8);
    const uint8_t *image = (const uint8_t *)views[0].buf;
    const uint8_t *mask = (const uint8_t *)views[1].buf;
    const int32_t *labels = (const int32_t *)views[2].buf;
    const uint8_t *table = (const uint8_t *)views[3].buf;
    int64_t *contour = (int64_t *)views[4].buf;
    int64_t *ink = (int64_t *)views[5].buf;
    int64_t *left = (int64_t *)views[6].buf, *top = left + components,
            *right = top + components, *bottom = right + components,
            *area = bottom + components;
    int bad_label = 0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = r0; i < r1; i++) {
        const uint8_t *mask_row = mask + (i - r0) * cols;
        const int32_t *label_row = labels + (i - r0) * cols;
        for (Py_ssize_t j = 0; j < cols; j++) {
            if (!mask_row[j])
                continue;
            const uint8_t *centre = image + i * cols + j;
            const int p = *centre;
            const uint8_t *accepts = table + (p << 8);
            int64_t *block_ink = NULL; /* the histograms of the pixel's block */
            if (with_blocks) {
                Py_ssize_t key = ((i / block - first_block) * block_cols + j / block) * 256;
                contour_blocks[key + p]++;
                block_ink = ink_blocks + key;
            }
            contour[p]++;
            if (i > 0 && i < rows - 1 && j > 0 && j < cols - 1) {
                const uint8_t *above = centre - cols, *below = centre + cols;
                const uint8_t q[8] = {above[-1], above[0], above[1], centre[-1], centre[1],
                                      below[-1], below[0], below[1]};
                for (int n = 0; n < 8; n++) {
                    int accepted = accepts[q[n]] != 0;
                    ink[q[n]] += accepted;
                    if (with_blocks)
                        block_ink[q[n]] += accepted;
                }
            } else {
                for (int dr = -1; dr <= 1; dr++) {
                    for (int dc = -1; dc <= 1; dc++) {
                        Py_ssize_t qi = i + dr, qj = j + dc;
                        if ((dr || dc) && qi >= 0 && qi < rows && qj >= 0 && qj < cols) {
                            int q = image[qi * cols + qj];
                            int accepted = accepts[q] != 0;
                            ink[q] += accepted;
                            if (with_blocks)
                                block_ink[q] += accepted;
                        }
                    }
                }
            }
            Py_ssize_t label = (Py_ssize_t)label_row[j] - 1;
            if (label < 0 || label >= components) {
                bad_label = 1;
                continue;
            }
            if (j < left[label]) left[label] = j;
            if (j > right[label]) right[label] = j;
            if (i < top[label]) top[label] = i;
            if (i > bottom[label]) bottom[label] = i;
            area[label]++;
        }
    }
    Py_END_ALLOW_THREADS
    release_buffers(views, count);
    if (bad_label) {
        PyErr_SetString(PyExc_ValueError, "edge_samples: a mask pixel has no component label");
        return NULL;
    }
    Py_RETURN_NONE;
}

DOCBIN_CLONES
static void rule_row(const uint8_t *restrict image, const uint8_t *restrict median,
                     const float *restrict mean, const uint8_t *restrict table,
                     uint8_t *restrict out, Py_ssize_t cols)
{
    for (Py_ssize_t j = 0; j < cols; j++) {
        int ink = (image[j] < table[median[j]]) & ((float)image[j] < mean[j]);
        out[j] = ink ? 0 : 255;
    }
}

PyDoc_STRVAR(rule_doc,
"rule(image, median, mean, table, out, cols)\n\n"
"The decision of some rows: out = 0 (text) where image < table[median] and image < mean,\n"
"else 255. image, median and out: uint8; mean: float32 (the comparison in float32); table:\n"
"uint8, 256; all C-contiguous with the same rows of ``cols`` columns.");

DOCBIN_CLONES
static void rule_factor_row(const uint8_t *restrict image, const uint8_t *restrict median,
                            const float *restrict mean, const float *restrict factor,
                            uint8_t *restrict out, Py_ssize_t cols, int inverted)
{
    for (Py_ssize_t j = 0; j < cols; j++) {
        float level = (float)(inverted ? 255 - median[j] : median[j]);
        float value = (float)image[j];
        int ink = (value < factor[j] * level) & (value < mean[j]);
        out[j] = ink ? 0 : 255;
    }
}

PyDoc_STRVAR(rule_factor_doc,
"rule_factor(image, median, mean, factor, out, cols, inverted)\n\n"
"The decision of some rows with a factor per pixel: out = 0 (text) where image <\n"
"fl32(factor * L_m) and image < mean (float32), else 255; L_m = median, or 255 - median\n"
"when ``inverted`` (the median of the inverted page). image, median and out: uint8; mean\n"
"and factor: float32; all C-contiguous with the same rows of ``cols`` columns.");

/* rule and rule_factor: ``per_pixel`` selects the factor per pixel (and ``inverted``). */
static PyObject *
apply_rule(PyObject *args, int per_pixel)
{
    const char *name = per_pixel ? "rule_factor" : "rule";
    PyObject *objects[5];
    Py_ssize_t cols, rows;
    int inverted = 0;
    if (per_pixel ? !PyArg_ParseTuple(args, "OOOOOnp", &objects[0], &objects[1], &objects[2],
                                      &objects[3], &objects[4], &cols, &inverted)
                  : !PyArg_ParseTuple(args, "OOOOOn", &objects[0], &objects[1], &objects[2],
                                      &objects[3], &objects[4], &cols))
        return NULL;
    Py_buffer out, views[4];
    if (get_rows(objects[4], &out, cols, name, &rows) < 0)
        return NULL;
    Py_ssize_t pixels = rows * cols;
    const Want wants[4] = {{objects[0], 0, 1, pixels, "image"},
                           {objects[1], 0, 1, pixels, "median"},
                           {objects[2], 0, 4, pixels, "mean"},
                           per_pixel ? (Want){objects[3], 0, 4, pixels, "factor"}
                                     : (Want){objects[3], 0, 1, 256, "table"}};
    if (get_buffers(wants, views, 4) < 0) {
        PyBuffer_Release(&out);
        return NULL;
    }
    const uint8_t *image = (const uint8_t *)views[0].buf;
    const uint8_t *median = (const uint8_t *)views[1].buf;
    const float *mean = (const float *)views[2].buf;
    uint8_t *o = (uint8_t *)out.buf;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t start = 0; start < pixels; start += cols) {
        if (per_pixel)
            rule_factor_row(image + start, median + start, mean + start,
                            (const float *)views[3].buf + start, o + start, cols, inverted);
        else
            rule_row(image + start, median + start, mean + start,
                     (const uint8_t *)views[3].buf, o + start, cols);
    }
    Py_END_ALLOW_THREADS
    release_buffers(views, 4);
    PyBuffer_Release(&out);
    Py_RETURN_NONE;
}

static PyObject *
rule(PyObject *self, PyObject *args)
{
    (void)self;
    return apply_rule(args, 0);
}

static PyObject *
rule_factor(PyObject *self, PyObject *args)
{
    (void)self;
    return apply_rule(args, 1);
}

/* --- the clean step: per-component sums, the neighbour-ink blocks, the drop ------------- */

/* |dI/dx| + |dI/dy| of the 3 x 3 Sobel filters at column c of a row, with the rows above and
 * below (replicated at the page border: the caller passes the row itself) and the columns
 * left and right (replicated likewise). */
static inline int64_t
sobel_sum(const uint8_t *up, const uint8_t *mid, const uint8_t *down, Py_ssize_t left,
          Py_ssize_t c, Py_ssize_t right)
{
    int gx = (up[right] + 2 * mid[right] + down[right]) - (up[left] + 2 * mid[left] + down[left]);
    int gy = (down[left] + 2 * down[c] + down[right]) - (up[left] + 2 * up[c] + up[right]);
    return (int64_t)(abs(gx) + abs(gy));
}
/* owner[c] = the highest label in the 5 x 5 square around (i, c), clipped to the page, from
 * the label rows i - 2 to i + 2 (clipped rows repeated); ``padded`` has cols + 4 entries
 * (2 zeros each side; 0 is below every label). */
DOCBIN_CLONES
static void ring_owner_row(const int32_t *const rows5[5], int32_t *restrict padded,
                           int32_t *restrict owner, Py_ssize_t cols)
{
    const int32_t *restrict a = rows5[0], *restrict b = rows5[1], *restrict m = rows5[2],
                  *restrict d = rows5[3], *restrict e = rows5[4];
    int32_t *restrict column = padded + 2;
    for (Py_ssize_t c = 0; c < cols; c++) {
        int32_t v = a[c] > b[c] ? a[c] : b[c];
        v = v > m[c] ? v : m[c];
        v = v > d[c] ? v : d[c];
        column[c] = v > e[c] ? v : e[c];
    }
    for (Py_ssize_t c = 0; c < cols; c++) {
        int32_t v = padded[c] > padded[c + 1] ? padded[c] : padded[c + 1];
        v = v > padded[c + 2] ? v : padded[c + 2];
        v = v > padded[c + 3] ? v : padded[c + 3];
        owner[c] = v > padded[c + 4] ? v : padded[c + 4];
    }
}

/* --- the clean step's labels: 8-connected components of the text, numbered as OpenCV ----- */

/* The runs of text (0) of a row, [start, end] inclusive, into starts/ends; their count. */
static Py_ssize_t
row_runs(const uint8_t *row, Py_ssize_t cols, int32_t *starts, int32_t *ends)
{
    Py_ssize_t count = 0, c = 0;
    while (c < cols) {
        const uint8_t *zero = memchr(row + c, 0, (size_t)(cols - c));
        if (!zero)
            break;
        Py_ssize_t s = zero - row, e = s;
        while (e + 1 < cols && row[e + 1] == 0)
            e++;
        starts[count] = (int32_t)s;
        ends[count] = (int32_t)e;
        count++;
        c = e + 2; /* e + 1 is background */
    }
    return count;
}

PyDoc_STRVAR(block_ink_doc,
"block_ink(binary, cols, block, counts)\n\n"
"Ink pixels (value 0 in ``binary``, uint8 rows of ``cols`` columns) counted on square\n"
"blocks of ``block`` pixels, added to ``counts`` (int64, C-contiguous, ceil(rows / block)\n"
"x ceil(cols / block); the last blocks may be partial).");

static PyObject *
block_ink(PyObject *self, PyObject *args)
{
    PyObject *binary_object, *counts_object;
    Py_ssize_t cols, block, rows;
    (void)self;
    if (!PyArg_ParseTuple(args, "OnnO", &binary_object, &cols, &block, &counts_object))
        return NULL;
    if (cols < 1 || block < 1) {
        PyErr_SetString(PyExc_ValueError, "block_ink: bad columns or block");
        return NULL;
    }
    Py_buffer binary_view, counts_view;
    if (PyObject_GetBuffer(binary_object, &binary_view, PyBUF_C_CONTIGUOUS) < 0)
        return NULL;
    if (binary_view.itemsize != 1 || binary_view.len % cols) {
        PyBuffer_Release(&binary_view);
        PyErr_SetString(PyExc_ValueError, "block_ink: binary must be uint8 rows");
        return NULL;
    }
    rows = binary_view.len / cols;
    const Py_ssize_t block_rows = (rows + block - 1) / block;
    const Py_ssize_t block_cols = (cols + block - 1) / block;
    if (get_buffer(counts_object, &counts_view, 1, 8, block_rows * block_cols, "counts") < 0) {
        PyBuffer_Release(&binary_view);
        return NULL;
    }
    const uint8_t *binary = (const uint8_t *)binary_view.buf;
    int64_t *counts = (int64_t *)counts_view.buf;
    int32_t *starts = PyMem_Malloc((size_t)(2 * (cols / 2 + 1)) * sizeof(int32_t));
    if (!starts) {
        PyBuffer_Release(&binary_view);
        PyBuffer_Release(&counts_view);
        return PyErr_NoMemory();
    }
    int32_t *ends = starts + cols / 2 + 1;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < rows; i++) {
        /* each run of text [s, e] adds its pixels to the blocks it crosses */
        const Py_ssize_t runs = row_runs(binary + i * cols, cols, starts, ends);
        int64_t *out = counts + (i / block) * block_cols;
        for (Py_ssize_t k = 0; k < runs; k++) {
            Py_ssize_t c = starts[k];
            while (c <= ends[k]) {
                const Py_ssize_t bc = c / block, block_end = (bc + 1) * block - 1;
                const Py_ssize_t last = block_end < ends[k] ? block_end : ends[k];
                out[bc] += last - c + 1;
                c = last + 1;
            }
        }
    }
    Py_END_ALLOW_THREADS
    PyMem_Free(starts);
    PyBuffer_Release(&binary_view);
    PyBuffer_Release(&counts_view);
    Py_RETURN_NONE;
}

static int32_t
find_root(int32_t *parent, int32_t x)
{
    while (parent[x] != x) {
        parent[x] = parent[parent[x]]; /* path halving */
        x = parent[x];
    }
    return x;
}

typedef struct {
    int64_t key;
    int32_t root;
} RootKey;

static int
compare_keys(const void *a, const void *b)
{
    int64_t x = ((const RootKey *)a)->key, y = ((const RootKey *)b)->key;
    return (x > y) - (x < y);
}

PyDoc_STRVAR(label_runs_doc,
"label_runs(binary, cols) -> (count, run_labels, row_starts, run_starts)\n\n"
"The 8-connected components of the text (value 0) of ``binary`` (uint8 rows of ``cols``\n"
"columns, C-contiguous), from its runs of text (row by row, left to right): ``count``\n"
"components, ``run_labels`` (bytes, one int32 label in 1..count per run, in that order)\n"
"and ``row_starts`` (bytes, int64, rows + 1: the index of the first run of each row, then\n"
"the number of runs), for paint_runs, component_sums and drop_runs, and ``run_starts``\n"
"(bytes, int32 per run: the column of its first pixel). The components are numbered as cv2.connectedComponents numbers them: in\n"
"the raster order of the first 2 x 2 block (rows 2i, 2i + 1, columns 2j, 2j + 1) that holds\n"
"one of their pixels.");

static PyObject *
label_runs(PyObject *self, PyObject *args)
{
    PyObject *binary_object;
    Py_ssize_t cols, rows;
    (void)self;
    if (!PyArg_ParseTuple(args, "On", &binary_object, &cols))
        return NULL;
    Py_buffer view;
    if (cols < 1 || PyObject_GetBuffer(binary_object, &view, PyBUF_C_CONTIGUOUS) < 0) {
        if (cols < 1)
            PyErr_SetString(PyExc_ValueError, "label_runs: bad columns");
        return NULL;
    }
    if (view.itemsize != 1 || view.len % cols) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_ValueError, "label_runs: binary must be uint8 rows");
        return NULL;
    }
    rows = view.len / cols;
    const uint8_t *binary = (const uint8_t *)view.buf;
    const Py_ssize_t row_capacity = cols / 2 + 1;
    int32_t *row_buffer = PyMem_RawMalloc((size_t)(4 * row_capacity) * sizeof(int32_t));
    Py_ssize_t capacity = 1024, size = 0;
    int32_t *parent = PyMem_RawMalloc((size_t)capacity * sizeof(int32_t));
    int64_t *key = PyMem_RawMalloc((size_t)capacity * sizeof(int64_t));
    int32_t *run_starts = PyMem_RawMalloc((size_t)capacity * sizeof(int32_t));
    RootKey *roots = NULL;
    int64_t *row_starts = PyMem_RawMalloc((size_t)(rows + 1) * sizeof(int64_t));
    int failed = !row_buffer || !parent || !key || !run_starts || !row_starts; /* 1: out of memory, 2: too many runs */
    Py_ssize_t count = 0;
    Py_BEGIN_ALLOW_THREADS
    int32_t *starts = row_buffer, *ends = row_buffer + row_capacity;
    int32_t *previous_starts = row_buffer + 2 * row_capacity,
            *previous_ends = row_buffer + 3 * row_capacity;
    Py_ssize_t previous_count = 0, previous_first = 0;
    const int64_t half_cols = (cols + 1) / 2;
    for (Py_ssize_t i = 0; i < rows && !failed; i++) {
        const Py_ssize_t runs = row_runs(binary + i * cols, cols, starts, ends);
        row_starts[i] = size;
        if (size + runs > capacity) {
            Py_ssize_t wanted = capacity;
            while (wanted < size + runs)
                wanted *= 2;
            if (wanted > INT32_MAX) {
                failed = 2;
                break;
            }
            int32_t *more_parent = PyMem_RawRealloc(parent, (size_t)wanted * sizeof(int32_t));
            if (more_parent)
                parent = more_parent;
            int64_t *more_key = PyMem_RawRealloc(key, (size_t)wanted * sizeof(int64_t));
            if (more_key)
                key = more_key;
            int32_t *more_starts = PyMem_RawRealloc(run_starts,
                                                    (size_t)wanted * sizeof(int32_t));
            if (more_starts)
                run_starts = more_starts;
            if (!more_parent || !more_key || !more_starts) {
                failed = 1;
                break;
            }
            capacity = wanted;
        }
        /* each run: a new set, joined with the runs of the row above that touch it
         * (8-connected: columns start - 1 to end + 1) */
        Py_ssize_t j = 0;
        for (Py_ssize_t k = 0; k < runs; k++) {
            const int32_t id = (int32_t)(size + k);
            parent[id] = id;
            run_starts[id] = starts[k];
            key[id] = (int64_t)(i / 2) * half_cols + starts[k] / 2;
            while (j < previous_count && previous_ends[j] < starts[k] - 1)
                j++;
            for (Py_ssize_t m = j; m < previous_count && previous_starts[m] <= ends[k] + 1;
                 m++) {
                int32_t a = find_root(parent, (int32_t)(previous_first + m));
                int32_t b = find_root(parent, id);
                if (a == b)
                    continue;
                if (a > b) {
                    int32_t t = a;
                    a = b;
                    b = t;
                }
                parent[b] = a; /* the root of a set is its first run */
                if (key[b] < key[a])
                    key[a] = key[b];
            }
        }
        previous_first = size;
        size += runs;
        previous_count = runs;
        int32_t *t = previous_starts;
        previous_starts = starts;
        starts = t;
        t = previous_ends;
        previous_ends = ends;
        ends = t;
    }
    if (!failed) {
        row_starts[rows] = size;
        for (Py_ssize_t id = 0; id < size; id++)
            count += parent[id] == id;
        roots = PyMem_RawMalloc((size_t)(count ? count : 1) * sizeof(RootKey));
        failed = !roots;
    }
    if (!failed) {
        Py_ssize_t r = 0;
        for (Py_ssize_t id = 0; id < size; id++)
            if (parent[id] == id)
                roots[r++] = (RootKey){key[id], (int32_t)id};
        qsort(roots, (size_t)count, sizeof(RootKey), compare_keys);
        /* parent[id] <= id: in increasing order, parent becomes each run's root, then
         * (key holding the label of each root) each run's label */
        for (Py_ssize_t id = 0; id < size; id++)
            parent[id] = parent[parent[id]];
        for (Py_ssize_t k = 0; k < count; k++)
            key[roots[k].root] = k + 1;
        for (Py_ssize_t id = 0; id < size; id++)
            parent[id] = (int32_t)key[parent[id]];
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&view);
    PyMem_RawFree(row_buffer);
    PyMem_RawFree(key);
    PyMem_RawFree(roots);
    PyObject *result = NULL;
    if (failed == 1)
        PyErr_NoMemory();
    else if (failed == 2)
        PyErr_SetString(PyExc_ValueError, "label_runs: more than 2^31 runs of text");
    else if (count > INT32_MAX)
        PyErr_SetString(PyExc_ValueError, "label_runs: more than 2^31 components");
    else {
        PyObject *labels = PyBytes_FromStringAndSize((const char *)parent,
                                                     (Py_ssize_t)(size * sizeof(int32_t)));
        PyObject *firsts = PyBytes_FromStringAndSize(
            (const char *)row_starts, (Py_ssize_t)((rows + 1) * sizeof(int64_t)));
        PyObject *columns = PyBytes_FromStringAndSize((const char *)run_starts,
                                                      (Py_ssize_t)(size * sizeof(int32_t)));
        if (labels && firsts && columns)
            result = Py_BuildValue("nNNN", count, labels, firsts, columns);
        else {
            Py_XDECREF(labels);
            Py_XDECREF(firsts);
            Py_XDECREF(columns);
        }
    }
    PyMem_RawFree(parent);
    PyMem_RawFree(run_starts);
    PyMem_RawFree(row_starts);
    return result;
}

/* The runs of a page as label_runs found them. */
typedef struct {
    const uint8_t *binary;
    Py_ssize_t rows, cols;
    const int32_t *labels; /* per run */
    const int64_t *row_starts; /* rows + 1 */
    Py_ssize_t n; /* labels < n */
    int32_t *starts, *ends; /* a row's runs (cols / 2 + 1 each) */
} Runs;

/* The buffers of run_labels and row_starts (bytes of label_runs) for a page of rows x cols;
 * 0, or -1 with an exception set (the buffers released). */
static int
get_runs(PyObject *labels_object, PyObject *starts_object, Py_ssize_t rows, Py_buffer views[2])
{
    if (PyObject_GetBuffer(labels_object, &views[0], PyBUF_C_CONTIGUOUS) < 0)
        return -1;
    if (PyObject_GetBuffer(starts_object, &views[1], PyBUF_C_CONTIGUOUS) < 0) {
        PyBuffer_Release(&views[0]);
        return -1;
    }
    const int64_t *row_starts = (const int64_t *)views[1].buf;
    if (views[1].len != (rows + 1) * (Py_ssize_t)sizeof(int64_t)
        || views[0].len != row_starts[rows] * (Py_ssize_t)sizeof(int32_t)) {
        release_buffers(views, 2);
        PyErr_SetString(PyExc_ValueError, "runs: run_labels and row_starts are not those of "
                                          "label_runs for this page");
        return -1;
    }
    return 0;
}

/* The runs of row i into runs->starts/ends; their count, or -1 if they are not the runs
 * label_runs found (the page changed) or a label is outside 1..n-1. */
static Py_ssize_t
runs_of_row(const Runs *runs, Py_ssize_t i)
{
    const Py_ssize_t count = row_runs(runs->binary + i * runs->cols, runs->cols, runs->starts,
                                      runs->ends);
    const int64_t first = runs->row_starts[i];
    if (first < 0 || first + count != runs->row_starts[i + 1])
        return -1;
    for (Py_ssize_t k = 0; k < count; k++) {
        const int32_t label = runs->labels[first + k];
        if (label < 1 || label >= runs->n)
            return -1;
    }
    return count;
}

/* Row i of labels into ``out`` (cols int32): 0 on background; 0, or -1 as runs_of_row. */
static int
paint_row(const Runs *runs, Py_ssize_t i, int32_t *out)
{
    const Py_ssize_t count = runs_of_row(runs, i);
    if (count < 0)
        return -1;
    memset(out, 0, (size_t)runs->cols * sizeof(int32_t));
    const int32_t *labels = runs->labels + runs->row_starts[i];
    for (Py_ssize_t k = 0; k < count; k++)
        for (Py_ssize_t c = runs->starts[k]; c <= runs->ends[k]; c++)
            out[c] = labels[k];
    return 0;
}

/* binary, cols, run_labels, row_starts of the arguments: the buffers (binary, labels,
 * starts) and ``runs`` (its row buffers allocated); 0, or -1 with an exception set. */
static int
open_runs(PyObject *binary_object, Py_ssize_t cols, PyObject *labels_object,
          PyObject *starts_object, int writable, Py_buffer views[3], Runs *runs)
{
    Py_ssize_t rows;
    if (cols < 1) {
        PyErr_SetString(PyExc_ValueError, "runs: bad columns");
        return -1;
    }
    if (writable) {
        if (get_rows(binary_object, &views[0], cols, "binary", &rows) < 0)
            return -1;
    } else {
        if (PyObject_GetBuffer(binary_object, &views[0], PyBUF_C_CONTIGUOUS) < 0)
            return -1;
        if (views[0].itemsize != 1 || views[0].len % cols) {
            PyBuffer_Release(&views[0]);
            PyErr_SetString(PyExc_ValueError, "runs: binary must be uint8 rows");
            return -1;
        }
        rows = views[0].len / cols;
    }
    if (get_runs(labels_object, starts_object, rows, views + 1) < 0) {
        PyBuffer_Release(&views[0]);
        return -1;
    }
    runs->binary = (const uint8_t *)views[0].buf;
    runs->rows = rows;
    runs->cols = cols;
    runs->labels = (const int32_t *)views[1].buf;
    runs->row_starts = (const int64_t *)views[2].buf;
    runs->n = INT32_MAX;
    runs->starts = PyMem_Malloc((size_t)(2 * (cols / 2 + 1)) * sizeof(int32_t));
    if (!runs->starts) {
        release_buffers(views, 3);
        PyErr_NoMemory();
        return -1;
    }
    runs->ends = runs->starts + cols / 2 + 1;
    return 0;
}

static void
close_runs(Py_buffer views[3], Runs *runs)
{
    PyMem_Free(runs->starts);
    release_buffers(views, 3);
}

static PyObject *
runs_error(const char *name)
{
    PyErr_Format(PyExc_ValueError, "%s: the page's runs of text are not those label_runs "
                                   "found (the page changed?)", name);
    return NULL;
}

PyDoc_STRVAR(paint_runs_doc,
"paint_runs(binary, cols, run_labels, row_starts, labels)\n\n"
"Write the label of every run of text of ``binary`` (run_labels and row_starts of\n"
"label_runs on the same page) on its pixels in ``labels`` (int32 or uint16, rows x cols,\n"
"C-contiguous; 0 elsewhere). Raises ValueError if the runs are not those of label_runs or\n"
"a label does not fit uint16 labels.");

static PyObject *
paint_runs(PyObject *self, PyObject *args)
{
    PyObject *binary_object, *labels_object, *starts_object, *out_object;
    Py_ssize_t cols;
    (void)self;
    if (!PyArg_ParseTuple(args, "OnOOO", &binary_object, &cols, &labels_object,
                          &starts_object, &out_object))
        return NULL;
    Py_buffer views[3], out_view;
    Runs runs;
    if (open_runs(binary_object, cols, labels_object, starts_object, 0, views, &runs) < 0)
        return NULL;
    if (PyObject_GetBuffer(out_object, &out_view, PyBUF_C_CONTIGUOUS | PyBUF_WRITABLE) < 0) {
        close_runs(views, &runs);
        return NULL;
    }
    const Py_ssize_t rows = runs.rows;
    if ((out_view.itemsize != 4 && out_view.itemsize != 2)
        || out_view.len != rows * cols * out_view.itemsize) {
        PyBuffer_Release(&out_view);
        close_runs(views, &runs);
        PyErr_SetString(PyExc_ValueError, "paint_runs: labels must be int32 or uint16, the "
                                          "page's shape");
        return NULL;
    }
    runs.n = out_view.itemsize == 4 ? INT32_MAX : (Py_ssize_t)UINT16_MAX + 1;
    int32_t *row = PyMem_Malloc((size_t)cols * sizeof(int32_t));
    int bad = !row;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < rows && !bad; i++) {
        if (paint_row(&runs, i, row) < 0) {
            bad = 2;
            break;
        }
        if (out_view.itemsize == 4)
            memcpy((int32_t *)out_view.buf + i * cols, row, (size_t)cols * sizeof(int32_t));
        else {
            uint16_t *out = (uint16_t *)out_view.buf + i * cols;
            for (Py_ssize_t c = 0; c < cols; c++)
                out[c] = (uint16_t)row[c];
        }
    }
    Py_END_ALLOW_THREADS
    PyMem_Free(row);
    PyBuffer_Release(&out_view);
    close_runs(views, &runs);
    if (bad == 1)
        return PyErr_NoMemory();
    if (bad)
        return runs_error("paint_runs");
    Py_RETURN_NONE;
}

PyDoc_STRVAR(component_sums_doc,
"component_sums(gray, binary, run_labels, row_starts, cols, r0, r1, midpoint, sums, boxes)\n\n"
"The per-component sums of the clean step over page rows [r0, r1), in one pass, added to\n"
"``sums`` (int64, 13 x n: sum of I, of I^2, dark pixels (I < midpoint, in double), boundary\n"
"pixels (text with a 4-neighbour of background on the page), their gradient, ring pixels\n"
"(background whose 5 x 5 square, clipped to the page, holds a component: counted for the\n"
"highest label there), their gray levels and their gradient; then the sums of the text\n"
"pixels' column x, row y, x^2, y^2 and x*y) and ``boxes`` (int64, 5 x n:\n"
"min col, min row, max col, max row, pixel count; initialised by the caller). The gradient\n"
"is |gx| + |gy| of the 3 x 3 Sobel filters with the page border replicated. gray and\n"
"binary: uint8 rows x cols, C-contiguous; the labels are those of label_runs (run_labels,\n"
"row_starts), made 5 rows at a time: no page of labels.");

static PyObject *
component_sums(PyObject *self, PyObject *args)
{
    PyObject *gray_object, *binary_object, *labels_object, *starts_object, *sums_object,
        *boxes_object;
    Py_ssize_t cols, r0, r1;
    double midpoint;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOOOnnndOO", &gray_object, &binary_object, &labels_object,
                          &starts_object, &cols, &r0, &r1, &midpoint, &sums_object,
                          &boxes_object))
        return NULL;
    Py_buffer run_views[3], views[3];
    Runs runs;
    if (open_runs(binary_object, cols, labels_object, starts_object, 0, run_views, &runs) < 0)
        return NULL;
    const Py_ssize_t rows = runs.rows;
    if (rows < 1 || r0 < 0 || r1 < r0 || r1 > rows) {
        close_runs(run_views, &runs);
        PyErr_SetString(PyExc_ValueError, "component_sums: bad rows");
        return NULL;
    }
    const Want wants[3] = {{gray_object, 0, 1, rows * cols, "gray"},
                           {sums_object, 1, 8, 13, "sums"},
                           {boxes_object, 1, 8, 5, "boxes"}};
    if (get_buffers(wants, views, 3) < 0) {
        close_runs(run_views, &runs);
        return NULL;
    }
    const Py_ssize_t n = views[1].len / (13 * 8);
    if (views[1].len != n * 13 * 8 || views[2].len < n * 5 * 8) {
        release_buffers(views, 3);
        close_runs(run_views, &runs);
        PyErr_SetString(PyExc_ValueError, "component_sums: sums must be 13 x n, boxes 5 x n");
        return NULL;
    }
    runs.n = n;
    /* five rows of labels (row r in slot r % 5), the ring owners, the rows with text */
    int32_t *scratch = PyMem_Malloc((size_t)(7 * cols + 4) * sizeof(int32_t));
    uint8_t *inked = PyMem_Malloc((size_t)rows);
    if (!scratch || !inked) {
        PyMem_Free(scratch);
        PyMem_Free(inked);
        release_buffers(views, 3);
        close_runs(run_views, &runs);
        return PyErr_NoMemory();
    }
    const uint8_t *gray = (const uint8_t *)views[0].buf;
    const uint8_t *binary = runs.binary;
    int64_t *sum_i = (int64_t *)views[1].buf, *sum_i2 = sum_i + n, *dark = sum_i2 + n,
            *boundary = dark + n, *boundary_grad = boundary + n, *ring = boundary_grad + n,
            *ring_i = ring + n, *ring_grad = ring_i + n, *sum_x = ring_grad + n,
            *sum_y = sum_x + n, *sum_xx = sum_y + n, *sum_yy = sum_xx + n,
            *sum_xy = sum_yy + n;
    int64_t *left = (int64_t *)views[2].buf, *top = left + n, *right = top + n,
            *bottom = right + n, *area = bottom + n;
    int32_t *window = scratch, *padded = scratch + 5 * cols, *owner = padded + cols + 4;
    Py_ssize_t held[5] = {-1, -1, -1, -1, -1};
    int bad_label = 0;
    Py_BEGIN_ALLOW_THREADS
    /* rows with text, from 2 rows above the band to 2 below (a row without text within 2
     * rows has neither component nor ring pixels) */
    const Py_ssize_t s0 = r0 >= 2 ? r0 - 2 : 0, s1 = r1 + 2 <= rows ? r1 + 2 : rows;
    for (Py_ssize_t i = s0; i < s1; i++)
        inked[i] = memchr(binary + i * cols, 0, (size_t)cols) != NULL;
    padded[0] = padded[1] = padded[cols + 2] = padded[cols + 3] = 0;
    for (Py_ssize_t i = r0; i < r1 && !bad_label; i++) {
        const Py_ssize_t a0 = i >= 2 ? i - 2 : 0, a1 = i + 3 <= rows ? i + 3 : rows;
        int near = 0;
        for (Py_ssize_t k = a0; k < a1; k++)
            near |= inked[k];
        if (!near)
            continue;
        const int32_t *rows5[5];
        for (Py_ssize_t r = a0; r < a1; r++) {
            if (held[r % 5] != r) {
                if (paint_row(&runs, r, window + (r % 5) * cols) < 0) {
                    bad_label = 1;
                    break;
                }
                held[r % 5] = r;
            }
        }
        if (bad_label)
            break;
        for (int k = 0; k < 5; k++) {
            Py_ssize_t r = i - 2 + k;
            r = r < a0 ? a0 : r >= a1 ? a1 - 1 : r;  /* repeated rows do not change a max */
            rows5[k] = window + (r % 5) * cols;
        }
        ring_owner_row(rows5, padded, owner, cols);
        const Py_ssize_t above = i > 0 ? i - 1 : 0, below = i < rows - 1 ? i + 1 : rows - 1;
        const uint8_t *g_up = gray + above * cols, *g = gray + i * cols,
                      *g_down = gray + below * cols;
        const uint8_t *b = binary + i * cols;
        const uint8_t *b_up = i > 0 ? binary + (i - 1) * cols : NULL;
        const uint8_t *b_down = i < rows - 1 ? binary + (i + 1) * cols : NULL;
        const int32_t *l = window + (i % 5) * cols;
        for (Py_ssize_t c = 0; c < cols; c++) {
            const Py_ssize_t cl = c > 0 ? c - 1 : 0, cr = c < cols - 1 ? c + 1 : cols - 1;
            const int64_t v = g[c];
            if (b[c] == 0) {
                const int32_t label = l[c]; /* 1..n-1: checked by paint_row */
                sum_i[label] += v;
                sum_i2[label] += v * v;
                dark[label] += (double)v < midpoint;
                sum_x[label] += c;
                sum_y[label] += i;
                sum_xx[label] += (int64_t)c * c;
                sum_yy[label] += (int64_t)i * i;
                sum_xy[label] += (int64_t)c * i;
                if (c < left[label]) left[label] = c;
                if (c > right[label]) right[label] = c;
                if (i < top[label]) top[label] = i;
                if (i > bottom[label]) bottom[label] = i;
                area[label]++;
                /* boundary: a 4-neighbour on the page is background */
                if ((b_up && b_up[c]) || (b_down && b_down[c]) || (c > 0 && b[c - 1])
                    || (c < cols - 1 && b[c + 1])) {
                    boundary[label]++;
                    boundary_grad[label] += sobel_sum(g_up, g, g_down, cl, c, cr);
                }
            } else {
                const int32_t label = owner[c];
                if (label > 0) {
                    ring[label]++;
                    ring_i[label] += v;
                    ring_grad[label] += sobel_sum(g_up, g, g_down, cl, c, cr);
                }
            }
        }
    }
    Py_END_ALLOW_THREADS
    PyMem_Free(scratch);
    PyMem_Free(inked);
    release_buffers(views, 3);
    close_runs(run_views, &runs);
    if (bad_label)
        return runs_error("component_sums");
    Py_RETURN_NONE;
}

PyDoc_STRVAR(drop_runs_doc,
"drop_runs(binary, cols, run_labels, row_starts, dropped, row_mask, recorded) -> pixels\n\n"
"Set to background (255) the runs of text of ``binary`` (uint8 rows of ``cols`` columns,\n"
"C-contiguous, in place; run_labels and row_starts of label_runs on it) whose label is\n"
"flagged in ``dropped`` (uint8, one entry per label), in the rows where ``row_mask``\n"
"(uint8, one per row) is non-zero; unless ``recorded`` is None, set those pixels to 1 in it\n"
"(uint8 or bool, rows x cols). Returns the number of pixels set.");

static PyObject *
drop_runs(PyObject *self, PyObject *args)
{
    PyObject *binary_object, *labels_object, *starts_object, *dropped_object, *mask_object,
        *recorded_object;
    Py_ssize_t cols;
    (void)self;
    if (!PyArg_ParseTuple(args, "OnOOOOO", &binary_object, &cols, &labels_object,
                          &starts_object, &dropped_object, &mask_object, &recorded_object))
        return NULL;
    Py_buffer run_views[3], views[3];
    Runs runs;
    if (open_runs(binary_object, cols, labels_object, starts_object, 1, run_views, &runs) < 0)
        return NULL;
    const Py_ssize_t rows = runs.rows;
    const int with_record = recorded_object != Py_None;
    const Want wants[3] = {{dropped_object, 0, 1, 1, "dropped"},
                           {mask_object, 0, 1, rows, "row_mask"},
                           {recorded_object, 1, 1, rows * cols, "recorded"}};
    const int count = with_record ? 3 : 2;
    if (get_buffers(wants, views, count) < 0) {
        close_runs(run_views, &runs);
        return NULL;
    }
    runs.n = views[0].len;
    const uint8_t *dropped = (const uint8_t *)views[0].buf;
    const uint8_t *row_mask = (const uint8_t *)views[1].buf;
    uint8_t *recorded = with_record ? (uint8_t *)views[2].buf : NULL;
    uint8_t *binary = (uint8_t *)run_views[0].buf;
    Py_ssize_t pixels = 0;
    int bad = 0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < rows; i++) {
        if (!row_mask[i])
            continue;
        const Py_ssize_t found = runs_of_row(&runs, i);
        if (found < 0) {
            bad = 1;
            break;
        }
        const int32_t *labels = runs.labels + runs.row_starts[i];
        for (Py_ssize_t k = 0; k < found; k++) {
            if (!dropped[labels[k]])
                continue;
            const Py_ssize_t s = runs.starts[k], e = runs.ends[k];
            memset(binary + i * cols + s, 255, (size_t)(e - s + 1));
            if (recorded)
                memset(recorded + i * cols + s, 1, (size_t)(e - s + 1));
            pixels += e - s + 1;
        }
    }
    Py_END_ALLOW_THREADS
    release_buffers(views, count);
    close_runs(run_views, &runs);
    if (bad)
        return runs_error("drop_runs");
    return PyLong_FromSsize_t(pixels);
}

/* --- the local median and mean of windows larger than 255 px -------------------------------- */

static inline Py_ssize_t
clamp_index(Py_ssize_t i, Py_ssize_t n)
{
    return i < 0 ? 0 : (i >= n ? n - 1 : i);
}

/* How many indices j of [c - K, c + K] clamp to u in [0, n) (borders replicated). */
static inline Py_ssize_t
multiplicity(Py_ssize_t u, Py_ssize_t c, Py_ssize_t K, Py_ssize_t n)
{
    Py_ssize_t lo = c - K, hi = c + K;
    Py_ssize_t first = u == 0 ? lo : u, last = u == n - 1 ? hi : u;
    if (first < lo)
        first = lo;
    if (last > hi)
        last = hi;
    return last >= first ? last - first + 1 : 0;
}

/* Where the fine counts of levels 16b .. 16b + 15 of column c start: fine is stored
 * (coarse bin, column, level within the bin), so that the counts of one coarse bin in
 * consecutive columns are consecutive (the row sweep reads them column after column). */
#define FINE(b, c) (((Py_ssize_t)(b) * cols + (c)) * 16)

/* The column histograms of the windows of row r, from scratch: fine[v >> 4][c][v & 15] =
 * how many of the rows clamp(r - K .. r + K) have level v in column c; coarse[c][b]: the
 * same for the levels 16b .. 16b + 15; sums[c]: the sum of their levels. Reads each page row of the
 * window once (with its multiplicity). Returns the rows read. */
static Py_ssize_t
columns_from_scratch(const uint8_t *restrict image, Py_ssize_t rows, Py_ssize_t cols,
                     Py_ssize_t K, Py_ssize_t r, int32_t *restrict fine,
                     int32_t *restrict coarse, int64_t *restrict sums)
{
    memset(fine, 0, (size_t)cols * 256 * sizeof(int32_t));
    Py_ssize_t u0 = r - K < 0 ? 0 : r - K, u1 = r + K >= rows ? rows - 1 : r + K;
    for (Py_ssize_t u = u0; u <= u1; u++) {
        const int32_t m = (int32_t)multiplicity(u, r, K, rows);
        const uint8_t *row = image + u * cols;
        for (Py_ssize_t c = 0; c < cols; c++)
            fine[FINE(row[c] >> 4, c) + (row[c] & 15)] += m;
    }
    for (Py_ssize_t c = 0; c < cols; c++) {
        int64_t sum = 0;
        for (int b = 0; b < 16; b++) {
            const int32_t *f = fine + FINE(b, c);
            int32_t count = 0;
            for (int k = 0; k < 16; k++) {
                count += f[k];
                sum += (int64_t)(16 * b + k) * f[k];
            }
            coarse[c * 16 + b] = count;
        }
        sums[c] = sum;
    }
    return u1 - u0 + 1;
}

/* The column histograms of row r - 1 moved to row r: row clamp(r - K - 1) leaves every
 * column's window, row clamp(r + K) enters it. Returns the rows read. */
DOCBIN_CLONES
static Py_ssize_t
columns_next_row(const uint8_t *restrict image, Py_ssize_t rows, Py_ssize_t cols,
                 Py_ssize_t K, Py_ssize_t r, int32_t *restrict fine, int32_t *restrict coarse,
                 int64_t *restrict sums)
{
    Py_ssize_t leaving = clamp_index(r - K - 1, rows), entering = clamp_index(r + K, rows);
    if (leaving == entering)
        return 0;
    const uint8_t *out = image + leaving * cols, *in = image + entering * cols;
    for (Py_ssize_t c = 0; c < cols; c++) {
        const int a = out[c], b = in[c];
        if (a == b)
            continue;
        fine[FINE(a >> 4, c) + (a & 15)]--;
        fine[FINE(b >> 4, c) + (b & 15)]++;
        coarse[c * 16 + (a >> 4)]--;
        coarse[c * 16 + (b >> 4)]++;
        sums[c] += b - a;
    }
    return 2;
}

/* Fine counts of levels 16b .. 16b + 15 in the window of column c (``segment``), brought
 * from column ``synced`` (or from scratch when it is -1 or farther than the window). */
static void
sync_segment(int64_t *restrict segment, int b, Py_ssize_t synced, Py_ssize_t c,
             Py_ssize_t K, Py_ssize_t cols, const int32_t *restrict fine)
{
    Py_ssize_t lo = c - K < 0 ? 0 : c - K, hi = c + K >= cols ? cols - 1 : c + K;
    if (synced >= 0 && c - synced <= hi - lo + 1) {
        for (Py_ssize_t p = synced + 1; p <= c; p++) {
            Py_ssize_t enter = clamp_index(p + K, cols), leave = clamp_index(p - K - 1, cols);
            if (enter == leave)
                continue;
            const int32_t *add = fine + FINE(b, enter), *sub = fine + FINE(b, leave);
            for (int k = 0; k < 16; k++)
                segment[k] += add[k] - sub[k];
        }
        return;
    }
    for (int k = 0; k < 16; k++)
        segment[k] = 0;
    for (Py_ssize_t u = lo; u <= hi; u++) {
        const int64_t m = multiplicity(u, c, K, cols);
        const int32_t *f = fine + FINE(b, u);
        for (int k = 0; k < 16; k++)
            segment[k] += m * f[k];
    }
}

/* One row of L_m and L_a from the column histograms of its windows. */
DOCBIN_CLONES
static void
window_row(Py_ssize_t cols, Py_ssize_t K, const int32_t *restrict fine,
           const int32_t *restrict coarse, const int64_t *restrict sums,
           uint8_t *restrict median, float *restrict mean, Py_ssize_t float_cols)
{
    const int64_t size = 2 * (int64_t)K + 1, half = (size * size + 1) / 2;
    const double scale = 1.0 / (double)(size * size);
    const float scale32 = (float)scale;
    int64_t window[16] = {0}, segments[256];
    Py_ssize_t synced[16];
    int64_t sum = 0;
    for (int b = 0; b < 16; b++)
        synced[b] = -1;
    Py_ssize_t last = K >= cols ? cols - 1 : K;
    for (Py_ssize_t u = 0; u <= last; u++) {
        const int64_t m = multiplicity(u, 0, K, cols);
        sum += m * sums[u];
        for (int b = 0; b < 16; b++)
            window[b] += m * coarse[u * 16 + b];
    }
    for (Py_ssize_t c = 0; c < cols; c++) {
        if (c > 0) {
            Py_ssize_t enter = clamp_index(c + K, cols), leave = clamp_index(c - K - 1, cols);
            if (enter != leave) {
                sum += sums[enter] - sums[leave];
                for (int b = 0; b < 16; b++)
                    window[b] += coarse[enter * 16 + b] - coarse[leave * 16 + b];
            }
        }
        if (mean)  /* OpenCV's box filter: see window_stats_doc */
            mean[c] = c < float_cols ? (float)sum * scale32 : (float)((double)sum * scale);
        if (!median)
            continue;
        int64_t below = 0;
        int b = 0;
        while (below + window[b] < half)
            below += window[b++];
        if (synced[b] != c) {
            sync_segment(segments + 16 * b, b, synced[b], c, K, cols, fine);
            synced[b] = c;
        }
        int v = 16 * b;
        while (below + segments[v] < half)
            below += segments[v++];
        median[c] = (uint8_t)v;
    }
}

PyDoc_STRVAR(window_stats_doc,
"window_stats(image, radius, r0, r1, held, fine, coarse, sums, median, mean, float_cols)\n"
"    -> rows_read\n\n"
"L_m and L_a of the page rows [r0, r1) for the (2K+1)x(2K+1) window, K = radius, borders\n"
"replicated, in memory and time that do not depend on K. ``image``: uint8, C-contiguous,\n"
"2-D (rows x cols). The state is the columns' histograms of their window rows\n"
"clamp(r - K .. r + K) at row ``held``: ``fine`` int32 (16, cols, 16), ``coarse`` int32\n"
"(cols, 16), ``sums`` int64 (cols). With held == r0 - 1 they move on row by row (one row\n"
"leaves, one enters); otherwise they are built for r0 from the rows of its window. They\n"
"hold row r1 - 1 on return. Each row's window histogram slides along the row by one\n"
"column histogram in and one out (16 coarse bins; the fine bins of the median's coarse bin\n"
"brought up to date when needed); the median is the smallest level v with\n"
"count(I <= v) >= (n + 1) / 2, n = (2K+1)^2.\n\n"
"``median``: uint8 (r1 - r0, cols) or None; ``mean``: float32 (r1 - r0, cols) or None:\n"
"S * fl32(1/n) in float32 (S the exact integer window sum, fl32(S) * fl32(1/n)) on columns\n"
"below ``float_cols``, fl32(S * (1/n)) in double beyond: OpenCV's normalized box filter of\n"
"uint8 into float32 (its vector loop and its scalar tail). Returns how many page rows were\n"
"read (each once per pass).");

/* The page (2-D uint8, C-contiguous, not empty) of a large-window pass, or -1 with the error
 * set (``name`` in its message). */
static int
get_page(PyObject *object, Py_buffer *image, const char *name)
{
    if (PyObject_GetBuffer(object, image, PyBUF_C_CONTIGUOUS | PyBUF_ND) < 0)
        return -1;
    if (image->ndim != 2 || image->itemsize != 1 || image->shape[0] < 1 || image->shape[1] < 1) {
        PyBuffer_Release(image);
        PyErr_Format(PyExc_ValueError, "%s: image must be 2-D uint8, not empty", name);
        return -1;
    }
    return 0;
}

static PyObject *
window_stats(PyObject *self, PyObject *args)
{
    PyObject *image_object, *fine_object, *coarse_object, *sums_object, *median_object,
        *mean_object;
    Py_ssize_t radius, r0, r1, held, float_cols;
    (void)self;
    if (!PyArg_ParseTuple(args, "OnnnnOOOOOn", &image_object, &radius, &r0, &r1, &held,
                          &fine_object, &coarse_object, &sums_object, &median_object,
                          &mean_object, &float_cols))
        return NULL;
    Py_buffer image;
    if (get_page(image_object, &image, "window_stats") < 0)
        return NULL;
    const Py_ssize_t rows = image.shape[0], cols = image.shape[1];
    if (radius < 0 || radius > (Py_ssize_t)1 << 28 || r0 < 0 || r1 < r0 || r1 > rows
        || held < -1 || held >= rows) {
        PyBuffer_Release(&image);
        PyErr_SetString(PyExc_ValueError, "window_stats: bad radius or rows");
        return NULL;
    }
    const Py_ssize_t band = (r1 - r0) * cols;
    int with_median = median_object != Py_None, with_mean = mean_object != Py_None;
    Want wants[5] = {{fine_object, 1, 4, cols * 256, "fine"},
                     {coarse_object, 1, 4, cols * 16, "coarse"},
                     {sums_object, 1, 8, cols, "sums"},
                     {median_object, 1, 1, band, "median"},
                     {mean_object, 1, 4, band, "mean"}};
    Py_buffer views[5];
    int count = 3;
    if (with_median)
        wants[count++] = wants[3];
    if (with_mean)
        wants[count++] = wants[4];
    if (get_buffers(wants, views, count) < 0) {
        PyBuffer_Release(&image);
        return NULL;
    }
    const uint8_t *pixels = (const uint8_t *)image.buf;
    int32_t *fine = (int32_t *)views[0].buf, *coarse = (int32_t *)views[1].buf;
    int64_t *sums = (int64_t *)views[2].buf;
    uint8_t *median = with_median ? (uint8_t *)views[3].buf : NULL;
    float *mean = with_mean ? (float *)views[3 + with_median].buf : NULL;
    Py_ssize_t read = 0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t r = r0; r < r1; r++) {
        if (r == held + 1 && r > 0)
            read += columns_next_row(pixels, rows, cols, radius, r, fine, coarse, sums);
        else if (r != held)
            read += columns_from_scratch(pixels, rows, cols, radius, r, fine, coarse, sums);
        held = r;
        window_row(cols, radius, fine, coarse, sums,
                   median ? median + (r - r0) * cols : NULL,
                   mean ? mean + (r - r0) * cols : NULL, float_cols);
    }
    Py_END_ALLOW_THREADS
    release_buffers(views, count);
    PyBuffer_Release(&image);
    return PyLong_FromSsize_t(read);
}

/* --- window sums of large windows at some pixels (the refine step's features) -------------- */

/* Column sums (and sums of squares) of the window rows clamp(r - K .. r + K), from scratch. */
static void
column_sums_from_scratch(const uint8_t *restrict image, Py_ssize_t rows, Py_ssize_t cols,
                         Py_ssize_t K, Py_ssize_t r, int64_t *restrict sums,
                         int64_t *restrict squares)
{
    memset(sums, 0, (size_t)cols * sizeof(int64_t));
    memset(squares, 0, (size_t)cols * sizeof(int64_t));
    Py_ssize_t u0 = r - K < 0 ? 0 : r - K, u1 = r + K >= rows ? rows - 1 : r + K;
    for (Py_ssize_t u = u0; u <= u1; u++) {
        const int64_t m = multiplicity(u, r, K, rows);
        const uint8_t *row = image + u * cols;
        for (Py_ssize_t c = 0; c < cols; c++) {
            const int64_t v = row[c];
            sums[c] += m * v;
            squares[c] += m * v * v;
        }
    }
}

/* The column sums of row r - 1 moved to row r. */
DOCBIN_CLONES
static void
column_sums_next_row(const uint8_t *restrict image, Py_ssize_t rows, Py_ssize_t cols,
                     Py_ssize_t K, Py_ssize_t r, int64_t *restrict sums,
                     int64_t *restrict squares)
{
    Py_ssize_t leaving = clamp_index(r - K - 1, rows), entering = clamp_index(r + K, rows);
    if (leaving == entering)
        return;
    const uint8_t *out = image + leaving * cols, *in = image + entering * cols;
    for (Py_ssize_t c = 0; c < cols; c++) {
        const int64_t a = out[c], b = in[c];
        sums[c] += b - a;
        squares[c] += b * b - a * a;
    }
}

PyDoc_STRVAR(window_sums_doc,
"window_sums(image, radius, held, state, prefix, rows, cols, sums, squares) -> held\n\n"
"Exact sums of the values and of their squares over the (2K+1)x(2K+1) windows (K = radius,\n"
"borders replicated) of the pixels (rows[i], cols[i]) of ``image`` (uint8, 2-D,\n"
"C-contiguous), written as float64 to ``sums`` and ``squares`` (``squares`` may be None).\n"
"``rows`` and ``cols``: int64, the rows in increasing order. ``state``: int64 (2, cols), the\n"
"sums and sums of squares of every column's window rows clamp(r - K .. r + K) at row\n"
"``held`` (-1: none); they move down one row at a time (one row leaves, one enters) or are\n"
"rebuilt from the rows of the window when the next row is before ``held`` or more than a\n"
"window after it. On each row with pixels, ``prefix`` (int64, (2, cols + 1)) takes the prefix\n"
"sums of the column sums, and a window's sum is a difference of two of them plus the edge\n"
"columns as often as the window repeats them. Returns the row the state holds.");

static PyObject *
window_sums(PyObject *self, PyObject *args)
{
    PyObject *image_object, *state_object, *prefix_object, *rows_object, *cols_object,
        *sums_object, *squares_object;
    Py_ssize_t radius, held;
    (void)self;
    if (!PyArg_ParseTuple(args, "OnnOOOOOO", &image_object, &radius, &held, &state_object,
                          &prefix_object, &rows_object, &cols_object, &sums_object,
                          &squares_object))
        return NULL;
    Py_buffer image;
    if (get_page(image_object, &image, "window_sums") < 0)
        return NULL;
    const Py_ssize_t page_rows = image.shape[0], page_cols = image.shape[1];
    if (radius < 0 || radius > (Py_ssize_t)1 << 20 || held < -1 || held >= page_rows) {
        PyBuffer_Release(&image);
        PyErr_SetString(PyExc_ValueError, "window_sums: bad radius or held row");
        return NULL;
    }
    Py_buffer pixel_rows;
    if (PyObject_GetBuffer(rows_object, &pixel_rows, PyBUF_C_CONTIGUOUS) < 0) {
        PyBuffer_Release(&image);
        return NULL;
    }
    const Py_ssize_t n = pixel_rows.len / 8;
    const int with_squares = squares_object != Py_None;
    Want wants[5] = {{state_object, 1, 8, 2 * page_cols, "state"},
                     {prefix_object, 1, 8, 2 * (page_cols + 1), "prefix"},
                     {cols_object, 0, 8, n, "cols"},
                     {sums_object, 1, 8, n, "sums"},
                     {squares_object, 1, 8, n, "squares"}};
    Py_buffer views[5];
    const int count = with_squares ? 5 : 4;
    if (pixel_rows.itemsize != 8 || get_buffers(wants, views, count) < 0) {
        if (pixel_rows.itemsize != 8)
            PyErr_SetString(PyExc_ValueError, "rows: expected int64");
        PyBuffer_Release(&pixel_rows);
        PyBuffer_Release(&image);
        return NULL;
    }
    const uint8_t *pixels = (const uint8_t *)image.buf;
    const int64_t *r_of = (const int64_t *)pixel_rows.buf, *c_of = (const int64_t *)views[2].buf;
    int64_t *column = (int64_t *)views[0].buf, *column_squares = column + page_cols;
    int64_t *prefix = (int64_t *)views[1].buf, *prefix_squares = prefix + page_cols + 1;
    double *out = (double *)views[3].buf;
    double *out_squares = with_squares ? (double *)views[4].buf : NULL;
    const int64_t K = radius, last = page_cols - 1;
    int bad = 0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n && !bad;) {
        const Py_ssize_t r = (Py_ssize_t)r_of[i];
        if (r < 0 || r >= page_rows || (i > 0 && r < r_of[i - 1])) {
            bad = 1;
            break;
        }
        if (held < 0 || r < held || r - held > 2 * K + 1)
            column_sums_from_scratch(pixels, page_rows, page_cols, K, r, column,
                                     column_squares);
        else
            for (Py_ssize_t step = held + 1; step <= r; step++)
                column_sums_next_row(pixels, page_rows, page_cols, K, step, column,
                                     column_squares);
        held = r;
        prefix[0] = prefix_squares[0] = 0;
        for (Py_ssize_t c = 0; c < page_cols; c++) {
            prefix[c + 1] = prefix[c] + column[c];
            prefix_squares[c + 1] = prefix_squares[c] + column_squares[c];
        }
        for (; i < n && r_of[i] == r; i++) {
            const int64_t c = c_of[i];
            if (c < 0 || c > last) {
                bad = 1;
                break;
            }
            const int64_t high = c + K > last ? last : c + K, low = c - K < 0 ? 0 : c - K;
            const int64_t before = K - c > 0 ? K - c : 0, after = c + K - last > 0 ? c + K - last : 0;
            out[i] = (double)(prefix[high + 1] - prefix[low] + before * column[0]
                              + after * column[last]);
            if (out_squares)
                out_squares[i] = (double)(prefix_squares[high + 1] - prefix_squares[low]
                                          + before * column_squares[0]
                                          + after * column_squares[last]);
        }
    }
    Py_END_ALLOW_THREADS
    release_buffers(views, count);
    PyBuffer_Release(&pixel_rows);
    PyBuffer_Release(&image);
    if (bad) {
        PyErr_SetString(PyExc_ValueError,
                        "window_sums: pixel rows must increase and lie on the page");
        return NULL;
    }
    return PyLong_FromSsize_t(held);
}

static PyMethodDef methods[] = {
    {"suppress", suppress, METH_VARARGS, suppress_doc},
    {"levels", levels, METH_VARARGS, levels_doc},
    {"edge_samples", edge_samples, METH_VARARGS, edge_samples_doc},
    {"rule", rule, METH_VARARGS, rule_doc},
    {"rule_factor", rule_factor, METH_VARARGS, rule_factor_doc},
    {"component_sums", component_sums, METH_VARARGS, component_sums_doc},
    {"block_ink", block_ink, METH_VARARGS, block_ink_doc},
    {"label_runs", label_runs, METH_VARARGS, label_runs_doc},
    {"paint_runs", paint_runs, METH_VARARGS, paint_runs_doc},
    {"drop_runs", drop_runs, METH_VARARGS, drop_runs_doc},
    {"window_stats", window_stats, METH_VARARGS, window_stats_doc},
    {"window_sums", window_sums, METH_VARARGS, window_sums_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_kernels",
    "Compiled kernels of docbin (optional: the same results without them, slower).", -1,
    methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__kernels(void)
{
    return PyModule_Create(&module);
}
